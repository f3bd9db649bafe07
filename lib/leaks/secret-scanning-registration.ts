import { ApiKeyFormat } from '../keys/api-key.format.js';

/** What a provider sends GitHub to have its keys found by secret scanning (see docs/leaks.md). */
export interface SecretScanningRegistration {
  /** The token type's name: reports carry it as `type`. */
  readonly tokenType: string;
  /** The fixed start of every key. */
  readonly prefix: string;
  /** The regular expression that finds keys (unanchored; `\b` at both ends). */
  readonly regex: string;
  /** Shortest and longest key, in characters. */
  readonly length: { readonly min: number; readonly max: number };
  /** How the key's randomness is made, in words. */
  readonly entropy: string;
  /** How the checksum is computed, in words, so GitHub can discard look-alikes before reporting them. */
  readonly checksum: string;
  /** The URL that receives reports, when given. */
  readonly endpoint?: string;
}

/**
 * The registration material for keys of `format` (an {@link ApiKeyFormat} or a prefix):
 * the token type, prefix, regular expression, lengths and the entropy and checksum
 * descriptions, ready to send to GitHub's secret-scanning partner program.
 *
 * @param tokenType the name reports will carry; default `<prefix>_api_key`
 * @param endpoint the public URL of the receiver, if known
 */
export function secretScanningRegistration(
  format: ApiKeyFormat | string,
  tokenType?: string,
  endpoint?: string,
): SecretScanningRegistration {
  const keys = typeof format === 'string' ? new ApiKeyFormat(format) : format;
  const start = `${keys.prefix}_`;
  return {
    tokenType: tokenType ?? `${keys.prefix}_api_key`,
    prefix: start,
    regex: keys.pattern,
    // prefix _ id(1..64) _ secret(32) checksum(6); generated keys have a 12-character id.
    length: { min: start.length + 1 + 1 + 38, max: start.length + 64 + 1 + 38 },
    entropy:
      'id: 12 random base62 characters (~71 bits) for a new key, kept on rotation; ' +
      'secret: 32 base62 characters from a CSPRNG without modulo bias (~190 bits)',
    checksum:
      'the last 6 characters: the CRC32 (IEEE 802.3, as zlib computes it) of everything before them, ' +
      'written in base62 with the alphabet 0-9A-Za-z, most significant digit first, zero-padded',
    ...(endpoint === undefined ? {} : { endpoint }),
  };
}
