import { randomBytes } from 'node:crypto';
import { PrefixedSha256 } from '../keys/prefixed-sha256.js';

/** How many verified keys {@link HashMemo} remembers by default. */
export const HASH_MEMO_CAPACITY = 10_000;

/**
 * Remembers under which keyed hash a recently verified key was found, so verifying it again
 * costs one SHA-256 instead of the HMAC's two (and, with several peppers, one candidate instead
 * of each in turn). It memoizes a pure function: the hash it gives back is the one the hasher
 * would compute, and the record is still read from the store, so nothing it keeps can go stale.
 *
 * It is keyed by the SHA-256 of the presented key after a random block drawn when it is built
 * (never stored, never logged): a memory dump gives nothing that the pepper beside it would
 * not. Only keys that were found are remembered, so unknown keys cannot fill it; at most
 * `capacity` of them, the oldest leaving first.
 */
export class HashMemo {
  private readonly salted = new PrefixedSha256(randomBytes(64));
  private readonly hashes = new Map<string, string>();

  constructor(private readonly capacity = HASH_MEMO_CAPACITY) {}

  /** The memo's own digest of `key` (what {@link get}, {@link remember} and {@link forget} take). */
  digest(key: string): string {
    return this.salted.digest(key, 'binary');
  }

  /** The keyed hash the key with this digest was last found under, if remembered. */
  get(digest: string): string | undefined {
    return this.hashes.get(digest);
  }

  /** Remembers that the key with this digest was found under `hash`. */
  remember(digest: string, hash: string): void {
    if (this.hashes.size >= this.capacity && !this.hashes.has(digest)) this.hashes.delete(this.hashes.keys().next().value!);
    this.hashes.set(digest, hash);
  }

  /** Forgets the key with this digest (its hash no longer finds a record). */
  forget(digest: string): void {
    this.hashes.delete(digest);
  }
}
