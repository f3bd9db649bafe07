import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import type { ApiKeyChangeFeed } from './api-key-change-feed.interface.js';
import type { ApiKeyCacheOptions } from './api-key-module-options.interface.js';
import type { ApiKeyRecord } from './api-key-record.interface.js';
import { ApiKeyRepository } from './api-key.repository.js';
import { ApiKeyStore, type ApiKeyListQuery, type ApiKeyPatch, type StoredApiKey, type StoredApiKeySecret } from './api-key.store.js';

/** Defaults of {@link ApiKeyCacheOptions}. */
export const API_KEY_CACHE_DEFAULTS: Readonly<Required<ApiKeyCacheOptions>> = Object.freeze({
  max: 10_000,
  ttlMs: 10_000,
  negativeTtlMs: 2_000,
  lookupTimeoutMs: 5_000,
});

type Lifecycle = Partial<OnModuleInit & OnApplicationShutdown> & { close?(): unknown };

/**
 * A cache in front of any repository: found keys for `ttlMs`, unknown hashes for the shorter
 * `negativeTtlMs`, at most `max` of each (LRU), and concurrent lookups of one hash coalesced
 * into one storage call. Storage errors and timeouts are never cached: they reach the caller,
 * which fails closed (503).
 *
 * Writes go through it to the wrapped {@link ApiKeyStore} and invalidate the key on this
 * instance as soon as they settle, so a revocation, rotation or scope change holds for the very
 * next request. Every invalidation starts a new epoch: lookups already in flight still answer
 * their callers but no longer refill the cache, and new lookups do not join them. When the
 * wrapped store is an {@link ApiKeyChangeFeed} (PostgreSQL), changes made on other instances
 * invalidate too; otherwise `ttlMs` bounds how long another instance may serve a stale key.
 */
export class CachedApiKeyStore extends ApiKeyStore implements OnModuleInit, OnApplicationShutdown {
  private readonly found: LRUCache<string, ApiKeyRecord>;
  private readonly unknown: LRUCache<string, true>;
  private readonly inFlight = new Map<string, Promise<ApiKeyRecord | null>>();
  private readonly lookupTimeoutMs: number;
  private readonly unsubscribe: (() => void) | undefined;
  private epoch = 0;

  /** Wraps `inner`; subscribes to its changes when it is an {@link ApiKeyChangeFeed}. */
  constructor(
    private readonly inner: ApiKeyRepository,
    options: ApiKeyCacheOptions = {},
  ) {
    super();
    const settings = { ...API_KEY_CACHE_DEFAULTS, ...options };
    this.found = new LRUCache({ max: settings.max, ttl: settings.ttlMs });
    this.unknown = new LRUCache({ max: settings.max, ttl: settings.negativeTtlMs });
    this.lookupTimeoutMs = settings.lookupTimeoutMs;
    const feed = inner as Partial<ApiKeyChangeFeed>;
    this.unsubscribe = typeof feed.watchChanges === 'function' ? feed.watchChanges((keyId) => this.invalidate(keyId)) : undefined;
  }

  /** @inheritdoc */
  findByHash(hash: string): Promise<ApiKeyRecord | null> {
    const hit = this.found.get(hash);
    if (hit) return Promise.resolve(hit);
    if (this.unknown.has(hash)) return Promise.resolve(null);
    const pending = this.inFlight.get(hash);
    if (pending) return pending;
    const lookup = this.load(hash);
    this.inFlight.set(hash, lookup);
    return lookup;
  }

  /**
   * Forgets a key (`null`: everything) on this instance and starts a new epoch. Writes through
   * the cache and change notifications call it; call it yourself after changing keys behind the
   * cache's back.
   */
  invalidate(keyId: string | null): void {
    this.epoch++;
    this.inFlight.clear();
    this.unknown.clear();
    if (keyId === null) return this.found.clear();
    const stale = [...this.found.entries()].filter(([, record]) => record.id === keyId).map(([hash]) => hash);
    for (const hash of stale) this.found.delete(hash);
  }

  /** @inheritdoc */
  async insert(key: StoredApiKey, secret: StoredApiKeySecret): Promise<void> {
    return this.write(key.id, (store) => store.insert(key, secret));
  }

  /** @inheritdoc */
  findById(id: string): Promise<StoredApiKey | null> {
    return this.store().findById(id);
  }

  /** @inheritdoc */
  list(query?: ApiKeyListQuery): Promise<StoredApiKey[]> {
    return this.store().list(query);
  }

  /** @inheritdoc */
  update(id: string, expectedVersion: number, patch: ApiKeyPatch): Promise<StoredApiKey | null> {
    return this.write(id, (store) => store.update(id, expectedVersion, patch));
  }

  /** @inheritdoc */
  rotate(id: string, expectedVersion: number, secret: StoredApiKeySecret, previousSecretsExpireAt: Date): Promise<StoredApiKey | null> {
    return this.write(id, (store) => store.rotate(id, expectedVersion, secret, previousSecretsExpireAt));
  }

  /** @inheritdoc */
  touch(lastUsed: ReadonlyMap<string, Date>): Promise<void> {
    return this.store().touch(lastUsed);
  }

  /** @internal Nest lifecycle hook, forwarded to the wrapped repository. */
  async onModuleInit(): Promise<void> {
    await (this.inner as Lifecycle).onModuleInit?.();
  }

  /** @internal Nest lifecycle hook: stops listening for changes, then forwards to the wrapped repository. */
  async onApplicationShutdown(signal?: string): Promise<void> {
    this.unsubscribe?.();
    await (this.inner as Lifecycle).onApplicationShutdown?.(signal);
  }

  /** Stops listening for changes and closes the wrapped store (outside Nest). */
  async close(): Promise<void> {
    this.unsubscribe?.();
    await (this.inner as Lifecycle).close?.();
  }

  private load(hash: string): Promise<ApiKeyRecord | null> {
    const epoch = this.epoch;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`lookup timed out after ${this.lookupTimeoutMs} ms`)), this.lookupTimeoutMs);
    });
    const lookup: Promise<ApiKeyRecord | null> = Promise.race([new Promise<ApiKeyRecord | null>((resolve) => resolve(this.inner.findByHash(hash))), timeout])
      .then((record) => {
        if (epoch === this.epoch) this.remember(hash, record);
        return record;
      })
      .finally(() => {
        clearTimeout(timer);
        if (this.inFlight.get(hash) === lookup) this.inFlight.delete(hash);
      });
    return lookup;
  }

  private remember(hash: string, record: ApiKeyRecord | null | undefined): void {
    if (record === null || record === undefined) this.unknown.set(hash, true);
    else if (typeof record === 'object' && record.hash === hash) this.found.set(hash, compactRecord(hash, record));
  }

  private async write<T>(keyId: string, work: (store: ApiKeyStore) => Promise<T>): Promise<T> {
    try {
      return await work(this.store());
    } finally {
      this.invalidate(keyId);
    }
  }

  private store(): ApiKeyStore {
    const store = this.inner as ApiKeyStore;
    if (typeof store.update !== 'function') throw new TypeError('the cached repository is not an ApiKeyStore: it cannot be written to');
    return store;
  }
}

/**
 * What the cache keeps of a found record: the lookup fields only (a store's row may carry more,
 * such as creation and last-use times), the cache's own key as the hash, and no empty
 * metadata object, so a cached key costs as little memory as it can.
 */
function compactRecord(hash: string, record: ApiKeyRecord): ApiKeyRecord {
  const { metadata } = record;
  let hasMetadata = false;
  if (metadata) for (const _ in metadata) hasMetadata = true;
  return {
    id: record.id,
    name: record.name,
    hash,
    scopes: record.scopes,
    ownerId: record.ownerId ?? null,
    metadata: hasMetadata ? metadata : null,
    expiresAt: record.expiresAt ?? null,
    revokedAt: record.revokedAt ?? null,
    disabled: record.disabled ?? false,
    secretExpiresAt: record.secretExpiresAt ?? null,
  };
}
