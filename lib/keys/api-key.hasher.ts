import { hash as oneShotHash, timingSafeEqual } from 'node:crypto';
import { HmacSha256 } from './hmac-sha256.js';

/**
 * Computes the keyed hash under which a key is stored: HMAC-SHA-256 with the server-side
 * secret (pepper), base64url-encoded. Without a pepper it falls back to plain SHA-256, which
 * still protects high-entropy keys from a database leak but not a leak of database and
 * configuration alike being used to confirm guesses offline; configure a pepper in production.
 */
export class ApiKeyHasher {
  private readonly hmacs: HmacSha256[];

  /**
   * @param peppers HMAC secrets, current first. Hashes are written with the first; lookups try
   * each in turn, so a previous pepper keeps working while keys are re-hashed.
   */
  constructor(peppers: readonly string[] = []) {
    this.hmacs = peppers.map((pepper) => new HmacSha256(Buffer.from(pepper, 'utf8')));
  }

  /** Whether a pepper is configured (keyed hashing) rather than the plain SHA-256 fallback. */
  get keyed(): boolean {
    return this.hmacs.length > 0;
  }

  /** The hash a new key is stored under: HMAC with the current pepper. */
  hash(key: string): string {
    const hmac = this.hmacs[0];
    return hmac ? hmac.digest(key) : oneShotHash('sha256', key, 'base64url');
  }

  /** Every hash the key may be stored under, one per configured pepper, current first. */
  candidates(key: string): string[] {
    if (this.hmacs.length <= 1) return [this.hash(key)];
    return this.hmacs.map((hmac) => hmac.digest(key));
  }

  /** Compares two encoded hashes in constant time; `false` unless both are 32-byte digests. */
  static equal(a: string, b: string): boolean {
    const left = Buffer.from(a, 'base64url');
    const right = Buffer.from(b, 'base64url');
    return left.length === 32 && right.length === 32 && timingSafeEqual(left, right);
  }
}
