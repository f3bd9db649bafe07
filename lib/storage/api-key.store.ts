import type { ApiKeyRecord } from './api-key-record.interface.js';
import { ApiKeyRepository } from './api-key.repository.js';

/**
 * A managed key's identity, grants and state, without any secret. One key may have several
 * secrets at once (the current one and, during a rotation's grace period, previous ones).
 */
export interface StoredApiKey {
  /** Stable public identifier, safe to log and show (for generated keys, the id inside the key). */
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly ownerId: string | null;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** The key stops working at this instant (inclusive), or never. */
  readonly expiresAt: Date | null;
  /** Set once, when the key is revoked; a revoked key never works again. */
  readonly revokedAt: Date | null;
  readonly disabled: boolean;
  /** Last successful authentication, coalesced (not written on every request). */
  readonly lastUsedAt: Date | null;
  /** Incremented by every write; conditional writes compare it (optimistic concurrency). */
  readonly version: number;
  /**
   * Client networks (CIDR) the key may be used from; `null` or absent: any. Optional so that
   * stores written before it still compile: the conformance suite checks a store keeps it.
   */
  readonly allowedNetworks?: readonly string[] | null;
  /** Browser origins the key may be used from (`Origin` header); `null` or absent: any. */
  readonly allowedOrigins?: readonly string[] | null;
}

/** One secret of a key, stored only as its keyed hash. */
export interface StoredApiKeySecret {
  /** Keyed hash of the secret ({@link ApiKeyHasher.hash}); unique across all keys. */
  readonly hash: string;
  readonly keyId: string;
  readonly createdAt: Date;
  /** This secret alone stops working at this instant (end of a rotation's grace), or never. */
  readonly expiresAt: Date | null;
}

/** Fields {@link ApiKeyStore.update} may change. Absent fields are left as they are. */
export interface ApiKeyPatch {
  readonly name?: string;
  readonly scopes?: readonly string[];
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly expiresAt?: Date | null;
  readonly revokedAt?: Date;
  readonly disabled?: boolean;
  /** New allowed networks (`null`: any network). */
  readonly allowedNetworks?: readonly string[] | null;
  /** New allowed origins (`null`: any origin). */
  readonly allowedOrigins?: readonly string[] | null;
  readonly updatedAt: Date;
}

/** Filter and page of {@link ApiKeyStore.list}. */
export interface ApiKeyListQuery {
  readonly ownerId?: string;
  /** Return keys whose id sorts after this one (keyset pagination). */
  readonly after?: string;
  /** At most this many keys (the store may cap it). */
  readonly limit?: number;
}

/**
 * The management contract: what `ApiKeyService`, the CLI and the admin API need on top of the
 * lookup that authentication needs. Implementations must make each method atomic (one
 * transaction in SQL stores). `findByHash` (inherited) returns the key's record for any of its
 * secrets, with that secret's own expiry in `secretExpiresAt`.
 */
export abstract class ApiKeyStore extends ApiKeyRepository {
  /** Inserts a new key with its first secret, atomically. Rejects if the id or hash exists. */
  abstract insert(key: StoredApiKey, secret: StoredApiKeySecret): Promise<void>;

  /** The key with this id, or `null`. */
  abstract findById(id: string): Promise<StoredApiKey | null>;

  /** Keys ordered by id, filtered and paged by `query`. */
  abstract list(query?: ApiKeyListQuery): Promise<StoredApiKey[]>;

  /**
   * Applies `patch` if the key's version is still `expectedVersion`, incrementing the version.
   * Resolves to the updated key, or `null` when the key is missing or was changed meanwhile.
   */
  abstract update(id: string, expectedVersion: number, patch: ApiKeyPatch): Promise<StoredApiKey | null>;

  /**
   * Rotation, atomically and only if the key's version is still `expectedVersion`: every other
   * secret of the key that would outlive `previousSecretsExpireAt` is cut to it, `secret` is
   * added, the key's `expiresAt` is set to `expiresAt` when one is given (a lifetime policy renews
   * the key with its secret; `undefined` leaves it), and the version is incremented. Of two
   * concurrent rotations, exactly one wins; the other resolves to `null` and changes nothing.
   */
  abstract rotate(
    id: string,
    expectedVersion: number,
    secret: StoredApiKeySecret,
    previousSecretsExpireAt: Date,
    expiresAt?: Date | null,
  ): Promise<StoredApiKey | null>;

  /** Records last use for many keys at once (coalesced by the caller); never moves a time backwards. */
  abstract touch(lastUsed: ReadonlyMap<string, Date>): Promise<void>;
}

/** Builds the lookup record `findByHash` returns from a key and the secret that matched. */
export function toApiKeyRecord(key: StoredApiKey, secret: StoredApiKeySecret): ApiKeyRecord {
  return { ...key, hash: secret.hash, secretExpiresAt: secret.expiresAt };
}
