import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { ApiKeyChangeFeed } from './api-key-change-feed.interface.js';
import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import type { ApiKeyCacheOptions } from '../api-key-module-options.interface.js';
import type { ApiKeyRecord } from './api-key-record.interface.js';
import { ApiKeyRepository } from './api-key.repository.js';
import {
  ApiKeyStore,
  insertWithinOwnerLimitOf,
  revokeOwnerOf,
  type ApiKeyListQuery,
  type ApiKeyPatch,
  type StoredApiKey,
  type StoredApiKeySecret,
} from './api-key.store.js';
import { ExpiringCache, type ExpiringEntry } from './expiring-cache.js';
import { positiveInteger, rejectUnknownOptions, timerDelay } from '../option-checks.js';
import { offerVerifiedLookup, recordOf, verifyRecord, type VerifiedApiKey } from './verified-api-key.js';

/** Defaults of {@link ApiKeyCacheOptions}; its keys are the option names. */
export const API_KEY_CACHE_DEFAULTS: Readonly<Required<ApiKeyCacheOptions>> = Object.freeze({
  max: 10_000,
  ttlMs: 10_000,
  negativeTtlMs: 2_000,
  lookupTimeoutMs: 5_000,
});

const CACHE_OPTIONS = Object.keys(API_KEY_CACHE_DEFAULTS);

/**
 * `settings` with every default applied (`lookupTimeoutMs` defaults to the one given); throws
 * `ApiKeyConfigurationError` naming the field when one is not a positive integer, or naming an
 * unknown option.
 */
export function resolveCacheSettings(
  settings: ApiKeyCacheOptions,
  lookupTimeoutMs: number,
): Required<ApiKeyCacheOptions> {
  rejectUnknownOptions(settings, CACHE_OPTIONS, 'cache');
  return {
    max: positiveInteger(settings.max, 'cache.max', API_KEY_CACHE_DEFAULTS.max),
    ttlMs: positiveInteger(settings.ttlMs, 'cache.ttlMs', API_KEY_CACHE_DEFAULTS.ttlMs),
    negativeTtlMs: positiveInteger(settings.negativeTtlMs, 'cache.negativeTtlMs', API_KEY_CACHE_DEFAULTS.negativeTtlMs),
    lookupTimeoutMs: timerDelay(settings.lookupTimeoutMs, 'cache.lookupTimeoutMs', lookupTimeoutMs),
  };
}

type Lifecycle = Partial<OnModuleInit & OnApplicationShutdown> & { close?(): unknown };

/**
 * A cache in front of any repository: found keys for `ttlMs`, unknown hashes for the shorter
 * `negativeTtlMs`, at most `max` of each (when full, an expired entry or one not looked up since
 * it was cached or last passed over makes room: "second chance"), and concurrent lookups of one
 * hash coalesced into one storage call. Storage errors and timeouts are never cached: they
 * reach the caller, which fails closed (503).
 *
 * Writes go through it to the wrapped {@link ApiKeyStore} and invalidate the key on this
 * instance as soon as they settle, so a revocation, rotation or scope change holds for the very
 * next request. Every invalidation starts a new epoch: lookups already in flight still answer
 * their callers but no longer refill the cache, and new lookups do not join them. When the
 * wrapped store is an {@link ApiKeyChangeFeed} (PostgreSQL), changes made on other instances
 * invalidate too; otherwise `ttlMs` bounds how long another instance may serve a stale key.
 *
 * A change feed that is not listening (its connection was lost and is not back yet) would miss
 * changes, so meanwhile the cache neither serves nor fills: every lookup goes to the wrapped
 * store, on its own. The feed announces `null` when it listens again, which empties the cache
 * and starts a new epoch: what is served from memory was always looked up while every change
 * since was heard.
 */
export class CachedApiKeyStore extends ApiKeyStore implements OnModuleInit, OnApplicationShutdown {
  private readonly found: ExpiringCache<VerifiedApiKey & ExpiringEntry>;
  private readonly unknown: ExpiringCache<ExpiringEntry>;
  private readonly inFlight = new Map<string, Promise<Loaded>>();
  private readonly lookupTimeoutMs: number;
  /** The wrapped repository when it is an {@link ApiKeyChangeFeed} (the cache listens to it), else `undefined`. */
  readonly changeFeed: ApiKeyChangeFeed | undefined;
  private readonly unsubscribe: (() => void) | undefined;
  private epoch = 0;

  /**
   * Wraps `inner`; subscribes to its changes when it is an {@link ApiKeyChangeFeed}. Throws
   * `ApiKeyConfigurationError` when a setting is not a positive integer, or when `inner` has
   * `watchChanges` without `isListening`.
   */
  constructor(
    private readonly inner: ApiKeyRepository,
    options: ApiKeyCacheOptions = {},
  ) {
    super();
    offerVerifiedLookup(this, CachedApiKeyStore.prototype.findByHash, (hash) => this.findVerified(hash));
    const settings = resolveCacheSettings(options, API_KEY_CACHE_DEFAULTS.lookupTimeoutMs);
    this.found = new ExpiringCache(settings.max, settings.ttlMs);
    this.unknown = new ExpiringCache(settings.max, settings.negativeTtlMs);
    this.lookupTimeoutMs = settings.lookupTimeoutMs;
    const feed = inner as Partial<ApiKeyChangeFeed>;
    if (typeof feed.watchChanges === 'function') {
      if (typeof feed.isListening !== 'function') {
        const missing = 'the cached repository has watchChanges() but no isListening()';
        throw new ApiKeyConfigurationError(`${missing}: implement the whole ApiKeyChangeFeed`);
      }
      this.changeFeed = feed as ApiKeyChangeFeed;
      this.unsubscribe = this.changeFeed.watchChanges((keyId) => this.invalidate(keyId));
    }
  }

  /**
   * @inheritdoc On a hit, the lookup fields the cache keeps; on a miss, the wrapped store's record.
   * Rejects, and caches nothing, when the wrapped store returns a malformed or mismatching record.
   */
  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    if (!this.caching()) return (await this.lookUp(hash)).record;
    const hit = this.found.get(hash);
    if (hit) return recordOf(hit, hash);
    return this.unknown.get(hash) ? null : (await this.loadShared(hash)).record;
  }

  /** The verified record (see `offerVerifiedLookup`): at once on a hit, else from the wrapped store. */
  private findVerified(hash: string): VerifiedApiKey | null | Promise<VerifiedApiKey | null> {
    if (!this.caching()) return this.lookUp(hash).then((loaded) => loaded.verified);
    const hit = this.found.get(hash);
    if (hit) return hit;
    return this.unknown.get(hash) ? null : this.loadShared(hash).then((loaded) => loaded.verified);
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
    this.found.deleteWhere((found) => found.principal.id === keyId);
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
  rotate(
    id: string,
    expectedVersion: number,
    secret: StoredApiKeySecret,
    previousSecretsExpireAt: Date,
    expiresAt?: Date | null,
  ): Promise<StoredApiKey | null> {
    return this.write(id, (store) => store.rotate(id, expectedVersion, secret, previousSecretsExpireAt, expiresAt));
  }

  /** @inheritdoc Through the wrapped store's own (atomic) version when it has one. */
  override insertWithinOwnerLimit(
    key: StoredApiKey,
    secret: StoredApiKeySecret,
    maxActive: number,
    now: Date,
  ): Promise<boolean> {
    return this.write(key.id, (store) => insertWithinOwnerLimitOf(store, key, secret, maxActive, now));
  }

  /** @inheritdoc Through the wrapped store's own version when it has one; forgets every cached key. */
  override revokeOwner(ownerId: string, at: Date): Promise<string[]> {
    return this.write(null, (store) => revokeOwnerOf(store, ownerId, at));
  }

  /** @inheritdoc */
  touch(lastUsed: ReadonlyMap<string, Date>): Promise<void> {
    return this.store().touch(lastUsed);
  }

  /** Resolves when the wrapped repository's {@link ApiKeyRepository.checkHealth} does; rejects when it has none. */
  override async checkHealth(): Promise<void> {
    if (typeof this.inner.checkHealth !== 'function') {
      throw new Error('the key store has no checkHealth(): it cannot be checked without reading a key');
    }
    await this.inner.checkHealth();
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

  /** Whether memory may answer: without a change feed always (`ttlMs` bounds it), else only while it listens. */
  private caching(): boolean {
    return this.changeFeed?.isListening() ?? true;
  }

  /**
   * The wrapped store's lookup of `hash`, one at a time per hash; fills the cache unless an
   * invalidation came first or the change feed stopped listening meanwhile.
   */
  private loadShared(hash: string): Promise<Loaded> {
    const pending = this.inFlight.get(hash);
    if (pending) return pending;
    const epoch = this.epoch;
    const lookup: Promise<Loaded> = this.lookUp(hash)
      .then((loaded) => {
        const { verified } = loaded;
        if (epoch === this.epoch && this.caching()) {
          // One object per cached key: the verified record and the cache's own two fields.
          if (verified)
            this.found.set(hash, { principal: verified.principal, state: verified.state, expiresAt: 0, read: false });
          else this.unknown.set(hash, { expiresAt: 0, read: false });
        }
        return loaded;
      })
      .finally(() => {
        if (this.inFlight.get(hash) === lookup) this.inFlight.delete(hash);
      });
    this.inFlight.set(hash, lookup);
    return lookup;
  }

  /** The wrapped store's lookup of `hash`, verified, within `lookupTimeoutMs`; caches nothing. */
  private lookUp(hash: string): Promise<Loaded> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`lookup timed out after ${this.lookupTimeoutMs} ms`)),
        this.lookupTimeoutMs,
      );
    });
    return Promise.race([new Promise<ApiKeyRecord | null>((resolve) => resolve(this.inner.findByHash(hash))), timeout])
      .then((found) => {
        const record = found ?? null;
        const verified = record === null ? null : verifyRecord(record, hash, this);
        if (verified === undefined) throw new Error('the store returned a malformed or mismatching record');
        return { record, verified };
      })
      .finally(() => clearTimeout(timer));
  }

  private async write<T>(keyId: string | null, work: (store: ApiKeyStore) => Promise<T>): Promise<T> {
    try {
      return await work(this.store());
    } finally {
      this.invalidate(keyId);
    }
  }

  private store(): ApiKeyStore {
    const store = this.inner as ApiKeyStore;
    if (typeof store.update !== 'function')
      throw new TypeError('the cached repository is not an ApiKeyStore: it cannot be written to');
    return store;
  }
}

/** What a lookup in the wrapped store found: its record and the record's verified form. */
interface Loaded {
  readonly record: ApiKeyRecord | null;
  readonly verified: VerifiedApiKey | null;
}
