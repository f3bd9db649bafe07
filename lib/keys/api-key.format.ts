import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ID_LENGTH = 12;
const SECRET_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
const ID = /^[0-9A-Za-z]{1,64}$/;
const BODY = new RegExp(`^([0-9A-Za-z]{1,64})_([0-9A-Za-z]{${SECRET_LENGTH + CHECKSUM_LENGTH}})$`);
const PREFIX = /^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*$/;

/** The default prefix of generated keys. Choose your own, saying what the key is (`acme_live`). */
export const DEFAULT_API_KEY_PREFIX = 'apikey';

/** A source of random bytes (`crypto.randomBytes` unless a test injects a fixed one). */
export type RandomBytesSource = (size: number) => Buffer;

/**
 * The format of generated keys: `<prefix>_<id>_<secret><checksum>`.
 *
 * - `prefix`: configurable, letters, digits and single inner underscores (`acme_live`);
 * - `id`: the key's public identifier, safe to log: 12 random base62 characters (~71 bits) for a
 *   new key, the key's existing id (1 to 64 base62 characters) for a rotated one;
 * - `secret`: 32 base62 characters from `crypto.randomBytes` (~190 bits);
 * - `checksum`: CRC32 of everything before it, as 6 base62 characters (GitHub's token format),
 *   so a typo or a random string is rejected before any hashing or storage access.
 *
 * Only `[A-Za-z0-9_]` appears, so a double-click selects the whole key.
 */
export class ApiKeyFormat {
  private readonly start: string;

  /**
   * @param prefix what the key is (`sk_live`, `acme_test`); at most 32 characters
   * @param random the random source; only tests replace it
   */
  constructor(
    readonly prefix: string = DEFAULT_API_KEY_PREFIX,
    private readonly random: RandomBytesSource = randomBytes,
  ) {
    if (!ApiKeyFormat.isValidPrefix(prefix)) {
      throw new TypeError(
        'key prefix must be 1 to 32 letters, digits and inner single underscores, starting with a letter; ' +
          `got ${JSON.stringify(prefix)}`,
      );
    }
    this.start = `${prefix}_`;
  }

  /** Whether `prefix` can prefix generated keys (letters, digits, inner single underscores). */
  static isValidPrefix(prefix: unknown): prefix is string {
    return typeof prefix === 'string' && prefix.length <= 32 && PREFIX.test(prefix);
  }

  /** Whether `id` can be embedded in a key (1 to 64 letters and digits). */
  static isValidId(id: string): boolean {
    return ID.test(id);
  }

  /** A new key and its public id: a new random id, or the given one (a rotation). */
  generate(id?: string): { key: string; id: string } {
    if (id !== undefined && !ApiKeyFormat.isValidId(id))
      throw new TypeError('a key id must be 1 to 64 letters and digits');
    const text = this.randomText(id === undefined ? ID_LENGTH + SECRET_LENGTH : SECRET_LENGTH);
    const keyId = id ?? text.slice(0, ID_LENGTH);
    const body = `${this.start}${keyId}_${text.slice(-SECRET_LENGTH)}`;
    return { key: body + checksumOf(body), id: keyId };
  }

  /**
   * A regular expression (source, unanchored, no flags) matching every key of this format:
   * `<prefix>_`, the id, `_`, then the secret and checksum. It does not check the checksum: use
   * {@link parse} on each match. The syntax is common to JavaScript, RE2 and Hyperscan (what
   * GitHub's secret scanning runs).
   */
  get pattern(): string {
    return `\\b${this.start}[0-9A-Za-z]{1,64}_[0-9A-Za-z]{${SECRET_LENGTH + CHECKSUM_LENGTH}}\\b`;
  }

  /** Whether `key` claims to be a generated key of this format (it starts with `<prefix>_`). */
  claims(key: string): boolean {
    return key.startsWith(this.start);
  }

  /**
   * The public id of a generated key whose shape and checksum are right, or `null`. Cheap and
   * free of I/O: use it to refuse a key before hashing it or touching storage.
   */
  parse(key: string): string | null {
    if (!this.claims(key)) return null;
    const match = BODY.exec(key.slice(this.start.length));
    if (!match) return null;
    const cut = key.length - CHECKSUM_LENGTH;
    return checksumOf(key.slice(0, cut)) === key.slice(cut) ? match[1]! : null;
  }

  /**
   * `length` base62 characters, without modulo bias: each random byte's low 6 bits are kept
   * when below 62 (rejection sampling). One call to the random source covers a whole key.
   */
  private randomText(length: number): string {
    let text = '';
    while (text.length < length) {
      for (const byte of this.random(length * 2)) {
        const value = byte & 63;
        if (value < 62) text += ALPHABET[value];
        if (text.length === length) break;
      }
    }
    return text;
  }
}

/** CRC32 of `text` as 6 base62 digits, most significant first. */
function checksumOf(text: string): string {
  let value = crc32(text);
  let digits = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    digits = ALPHABET[value % 62]! + digits;
    value = Math.floor(value / 62);
  }
  return digits;
}
