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

  /**
   * Inserts like {@link insert}, but only while the key's owner holds fewer than `maxActive`
   * active keys at `now` (neither revoked nor expired; disabled keys count). Resolves to whether
   * it inserted. This default counts with {@link list} and then inserts, so two concurrent calls
   * may both pass the check; the package's stores override it to count and insert atomically
   * (one transaction, serialised per owner). Override it likewise in a store used by several
   * instances.
   */
  insertWithinOwnerLimit(
    key: StoredApiKey,
    secret: StoredApiKeySecret,
    maxActive: number,
    now: Date,
  ): Promise<boolean> {
    return insertWithinOwnerLimitByListing(this, key, secret, maxActive, now);
  }

  /**
   * Revokes every key of `ownerId` that is not revoked yet, at `at` (`revokedAt` and `updatedAt`
   * set, `version` incremented); resolves to the ids revoked. This default revokes the keys one
   * {@link update} at a time; the package's stores override it with one write and, for
   * PostgreSQL, one change notification.
   */
  revokeOwner(ownerId: string, at: Date): Promise<string[]> {
    return revokeOwnerKeyByKey(this, ownerId, at);
  }
}

/**
 * `store.insertWithinOwnerLimit(...)`, or its default for a store that lacks it (one written
 * against an earlier version of this package, recognised by its methods).
 */
export function insertWithinOwnerLimitOf(
  store: ApiKeyStore,
  key: StoredApiKey,
  secret: StoredApiKeySecret,
  maxActive: number,
  now: Date,
): Promise<boolean> {
  return typeof store.insertWithinOwnerLimit === 'function'
    ? store.insertWithinOwnerLimit(key, secret, maxActive, now)
    : insertWithinOwnerLimitByListing(store, key, secret, maxActive, now);
}

/** `store.revokeOwner(...)`, or its default for a store that lacks it (see {@link insertWithinOwnerLimitOf}). */
export function revokeOwnerOf(store: ApiKeyStore, ownerId: string, at: Date): Promise<string[]> {
  return typeof store.revokeOwner === 'function'
    ? store.revokeOwner(ownerId, at)
    : revokeOwnerKeyByKey(store, ownerId, at);
}

/** Whether `key` counts against its owner's limit at `now`: neither revoked nor expired. */
export function isActiveKey(key: StoredApiKey, now: Date): boolean {
  return key.revokedAt === null && (key.expiresAt === null || key.expiresAt.getTime() > now.getTime());
}

/** Every key of `ownerId`, page by page. */
async function* ownerKeys(store: ApiKeyStore, ownerId: string): AsyncGenerator<StoredApiKey> {
  let after: string | undefined;
  for (;;) {
    const page = await store.list({ ownerId, after });
    if (page.length === 0) return;
    yield* page;
    after = page[page.length - 1]!.id;
  }
}

/**
 * {@link ApiKeyStore.insertWithinOwnerLimit} over `list` and `insert` (not atomic), for stores
 * that do not override it, also a store from another copy of this package that lacks it.
 */
export async function insertWithinOwnerLimitByListing(
  store: ApiKeyStore,
  key: StoredApiKey,
  secret: StoredApiKeySecret,
  maxActive: number,
  now: Date,
): Promise<boolean> {
  if (key.ownerId !== null) {
    let active = 0;
    for await (const owned of ownerKeys(store, key.ownerId))
      if (isActiveKey(owned, now) && ++active >= maxActive) return false;
  }
  await store.insert(key, secret);
  return true;
}

/** {@link ApiKeyStore.revokeOwner} over `list` and `update`, retrying a key changed concurrently. */
export async function revokeOwnerKeyByKey(store: ApiKeyStore, ownerId: string, at: Date): Promise<string[]> {
  const revoked: string[] = [];
  for await (const owned of ownerKeys(store, ownerId)) {
    let key: StoredApiKey | null = owned;
    let attempts = 0;
    while (key && key.revokedAt === null) {
      if (await store.update(key.id, key.version, { revokedAt: at, updatedAt: at })) {
        revoked.push(key.id);
        break;
      }
      if (++attempts === 3) throw new Error(`key "${key.id}" kept changing concurrently; it was not revoked`);
      key = await store.findById(key.id);
    }
  }
  return revoked;
}

/** Builds the lookup record `findByHash` returns from a key and the secret that matched. */
export function toApiKeyRecord(key: StoredApiKey, secret: StoredApiKeySecret): ApiKeyRecord {
  return { ...key, hash: secret.hash, secretExpiresAt: secret.expiresAt };
}
