import type { ApiKeyRecord } from './api-key-record.interface.js';
import {
  ApiKeyStore,
  isActiveKey,
  toApiKeyRecord,
  type ApiKeyListQuery,
  type ApiKeyPatch,
  type StoredApiKey,
  type StoredApiKeySecret,
} from './api-key.store.js';
import { offerVerifiedLookup, verifyRecord, type VerifiedApiKey } from './verified-api-key.js';
import { compareIds, listLimit } from './list-query.js';
import { frozenCopy } from './frozen-copy.js';

const EPOCH = new Date(0);

interface LookupEntry {
  readonly key: StoredApiKey;
  readonly secret: StoredApiKeySecret;
  /**
   * The record `findByHash` gives, built when it first asks (verification keeps none: it is the larger part of an
   * entry).
   */
  record: ApiKeyRecord | undefined;
  verified: VerifiedApiKey | undefined;
  /** The maps' write count when the entry was last known to match them. */
  writes: number;
}

/** A `Map` that counts its writes, so cached lookups know when to check it again. */
class CountedMap<K, V> extends Map<K, V> {
  writes = 0;

  override set(key: K, value: V): this {
    this.writes++;
    return super.set(key, value);
  }

  override delete(key: K): boolean {
    this.writes++;
    return super.delete(key);
  }

  override clear(): void {
    this.writes++;
    super.clear();
  }
}

/**
 * The default store: keys and secrets in `Map`s, for tests and single-process apps. It
 * implements the whole {@link ApiKeyStore} contract, so `ApiKeyService` and the CLI can manage
 * keys in it. Its contents are lost when the process exits.
 */
export class InMemoryApiKeyStore extends ApiKeyStore {
  private readonly keys = new CountedMap<string, StoredApiKey>();
  private readonly secrets = new CountedMap<string, StoredApiKeySecret>();
  /**
   * Lookup entries: the immutable key and secret objects of a hash, and its record and verified form once asked for.
   */
  private readonly records = new Map<string, LookupEntry>();

  /** Creates a store holding the given records (see {@link save}). */
  constructor(records: Iterable<ApiKeyRecord> = []) {
    super();
    offerVerifiedLookup(this, InMemoryApiKeyStore.prototype.findByHash, (hash) => this.findVerified(hash));
    for (const record of records) this.save(record);
  }

  /** @inheritdoc */
  findByHash(hash: string): Promise<ApiKeyRecord | null> {
    const entry = this.entry(hash);
    return Promise.resolve(entry ? (entry.record ??= toApiKeyRecord(entry.key, entry.secret)) : null);
  }

  /** @inheritdoc Always resolves: the keys are in this process's memory. */
  override checkHealth(): Promise<void> {
    return Promise.resolve();
  }

  /** Resolves at once: the store holds nothing to release (present so that any store can be closed alike). */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The verified record (see `offerVerifiedLookup`); throws when the saved record is malformed. */
  private findVerified(hash: string): VerifiedApiKey | null {
    const entry = this.entry(hash);
    if (!entry) return null;
    const verified =
      entry.verified ?? verifyRecord(entry.record ?? toApiKeyRecord(entry.key, entry.secret), hash, this);
    if (!verified) throw new Error('the stored record is malformed');
    return (entry.verified = verified);
  }

  private entry(hash: string): LookupEntry | undefined {
    const writes = this.keys.writes + this.secrets.writes;
    const cached = this.records.get(hash);
    // Nothing was written since the entry was checked: it is still the record.
    if (cached?.writes === writes) return cached;
    const secret = this.secrets.get(hash);
    const key = secret && this.keys.get(secret.keyId);
    if (!key) return undefined;
    // Every change replaces the key or secret object, so an identical pair means an unchanged record.
    if (cached?.key === key && cached.secret === secret) {
      cached.writes = writes;
      return cached;
    }
    const entry: LookupEntry = { key, secret, record: undefined, verified: undefined, writes };
    this.records.set(hash, entry);
    return entry;
  }

  /**
   * Adds or replaces a lookup record: the key with the record's id (its fields replaced) and the
   * secret with the record's hash. For tests and seeding; managed keys go through `insert`.
   */
  save(record: ApiKeyRecord): void {
    const previous = this.keys.get(record.id);
    this.keys.set(
      record.id,
      stored({
        id: record.id,
        name: record.name,
        scopes: record.scopes as string[], // stored() copies it, and the metadata
        ownerId: record.ownerId ?? null,
        metadata: record.metadata ?? {},
        createdAt: previous?.createdAt ?? EPOCH,
        updatedAt: previous?.updatedAt ?? EPOCH,
        expiresAt: record.expiresAt ?? null,
        revokedAt: record.revokedAt ?? null,
        disabled: record.disabled ?? false,
        lastUsedAt: previous?.lastUsedAt ?? null,
        version: (previous?.version ?? 0) + 1,
        allowedNetworks: record.allowedNetworks ?? null,
        allowedOrigins: record.allowedOrigins ?? null,
      }),
    );
    this.secrets.set(record.hash, {
      hash: record.hash,
      keyId: record.id,
      createdAt: EPOCH,
      expiresAt: record.secretExpiresAt ?? null,
    });
  }

  /** Removes the secret with the given hash; returns whether one was removed. */
  delete(hash: string): boolean {
    this.records.delete(hash);
    return this.secrets.delete(hash);
  }

  /** @inheritdoc */
  insert(key: StoredApiKey, secret: StoredApiKeySecret): Promise<void> {
    if (this.keys.has(key.id)) return Promise.reject(new Error(`a key with id "${key.id}" already exists`));
    if (this.secrets.has(secret.hash) || secret.keyId !== key.id)
      return Promise.reject(new Error('the secret exists already or belongs to another key'));
    this.keys.set(key.id, stored(key));
    this.secrets.set(secret.hash, { ...secret });
    return Promise.resolve();
  }

  /** @inheritdoc */
  findById(id: string): Promise<StoredApiKey | null> {
    const key = this.keys.get(id);
    return Promise.resolve(key ? handedOut(key) : null);
  }

  /** @inheritdoc */
  list(query: ApiKeyListQuery = {}): Promise<StoredApiKey[]> {
    const keys = [...this.keys.values()]
      .filter(
        (key) =>
          (query.ownerId === undefined || key.ownerId === query.ownerId) &&
          (query.after === undefined || compareIds(key.id, query.after) > 0),
      )
      .sort((a, b) => compareIds(a.id, b.id));
    return Promise.resolve(keys.slice(0, listLimit(query)).map(handedOut));
  }

  /** @inheritdoc */
  update(id: string, expectedVersion: number, patch: ApiKeyPatch): Promise<StoredApiKey | null> {
    const key = this.keys.get(id);
    if (!key || key.version !== expectedVersion) return Promise.resolve(null);
    const defined = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined));
    const updated = stored({ ...key, ...defined, version: key.version + 1 });
    this.keys.set(id, updated);
    return Promise.resolve(handedOut(updated));
  }

  /** @inheritdoc */
  rotate(
    id: string,
    expectedVersion: number,
    secret: StoredApiKeySecret,
    previousSecretsExpireAt: Date,
    expiresAt?: Date | null,
  ): Promise<StoredApiKey | null> {
    const key = this.keys.get(id);
    if (!key || key.version !== expectedVersion) return Promise.resolve(null);
    if (this.secrets.has(secret.hash) || secret.keyId !== id)
      return Promise.reject(new Error('the secret exists already or belongs to another key'));
    for (const [hash, previous] of this.secrets) {
      if (previous.keyId === id && (previous.expiresAt === null || previous.expiresAt > previousSecretsExpireAt)) {
        this.secrets.set(hash, { ...previous, expiresAt: previousSecretsExpireAt });
      }
    }
    this.secrets.set(secret.hash, { ...secret });
    const renewed = expiresAt === undefined ? {} : { expiresAt };
    const updated = stored({ ...key, ...renewed, updatedAt: secret.createdAt, version: key.version + 1 });
    this.keys.set(id, updated);
    return Promise.resolve(handedOut(updated));
  }

  /** @inheritdoc Counts and inserts at once (nothing else runs in between). */
  override insertWithinOwnerLimit(
    key: StoredApiKey,
    secret: StoredApiKeySecret,
    maxActive: number,
    now: Date,
  ): Promise<boolean> {
    if (key.ownerId !== null) {
      let active = 0;
      for (const owned of this.keys.values())
        if (owned.ownerId === key.ownerId && isActiveKey(owned, now) && ++active >= maxActive)
          return Promise.resolve(false);
    }
    return this.insert(key, secret).then(() => true);
  }

  /** @inheritdoc At once. */
  override revokeOwner(ownerId: string, at: Date): Promise<string[]> {
    const revoked: string[] = [];
    for (const key of this.keys.values()) {
      if (key.ownerId !== ownerId || key.revokedAt !== null) continue;
      this.keys.set(key.id, stored({ ...key, revokedAt: at, updatedAt: at, version: key.version + 1 }));
      revoked.push(key.id);
    }
    return Promise.resolve(revoked.sort(compareIds));
  }

  /** @inheritdoc Last use is bookkeeping, not a management write: it leaves `version` alone. */
  touch(lastUsed: ReadonlyMap<string, Date>): Promise<void> {
    for (const [id, at] of lastUsed) {
      const key = this.keys.get(id);
      if (key && (key.lastUsedAt === null || key.lastUsedAt < at))
        this.keys.set(id, stored({ ...key, lastUsedAt: at }));
    }
    return Promise.resolve();
  }
}

/**
 * A key as the store keeps it: frozen, with frozen copies of its scopes and metadata and its own
 * copies of the dates, so no caller's object is the stored one.
 */
function stored(key: StoredApiKey): StoredApiKey {
  return Object.freeze({
    ...key,
    scopes: frozenCopy(key.scopes),
    metadata: frozenCopy(key.metadata),
    allowedNetworks: frozenCopy(key.allowedNetworks ?? null),
    allowedOrigins: frozenCopy(key.allowedOrigins ?? null),
    ...datesOf(key),
  });
}

/**
 * A stored key as `findById`, `list`, `update` and `rotate` return it: frozen, sharing the frozen
 * scopes and metadata, with copies of the dates (a `Date` cannot be frozen), so writing to it
 * changes nothing the store or verification reads.
 */
function handedOut(key: StoredApiKey): StoredApiKey {
  return Object.freeze({ ...key, ...datesOf(key) });
}

function datesOf(
  key: StoredApiKey,
): Pick<StoredApiKey, 'createdAt' | 'updatedAt' | 'expiresAt' | 'revokedAt' | 'lastUsedAt'> {
  return {
    createdAt: new Date(key.createdAt),
    updatedAt: new Date(key.updatedAt),
    expiresAt: dateCopy(key.expiresAt),
    revokedAt: dateCopy(key.revokedAt),
    lastUsedAt: dateCopy(key.lastUsedAt),
  };
}

function dateCopy(date: Date | null): Date | null {
  return date === null ? null : new Date(date);
}
