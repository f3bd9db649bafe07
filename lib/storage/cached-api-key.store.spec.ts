import { describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiKeyChangeFeed } from './api-key-change-feed.interface.js';
import type { ApiKeyRecord } from './api-key-record.interface.js';
import { ApiKeyRepository } from './api-key.repository.js';
import { ApiKeyStore, type ApiKeyPatch, type StoredApiKey } from './api-key.store.js';
import { Test } from '@nestjs/testing';
import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import { ApiKeyAuthenticator } from '../verification/api-key.authenticator.js';
import { ApiKeyHasher } from '../keys/api-key.hasher.js';
import { ApiKeyModule } from '../api-key.module.js';
import { API_KEY_CACHE_DEFAULTS, CachedApiKeyStore } from './cached-api-key.store.js';

const HASH = 'x'.repeat(43);
const UNKNOWN = 'u'.repeat(43);
const record = (overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({
  id: 'k-1',
  name: 'one',
  hash: HASH,
  scopes: ['a'],
  ...overrides,
});

/** A repository whose lookups are counted and settle only when the test says so. */
class ControlledRepository extends ApiKeyRepository {
  calls = 0;
  readonly pending: Array<{ hash: string; resolve(record: ApiKeyRecord | null): void; reject(error: Error): void }> =
    [];
  findByHash(hash: string): Promise<ApiKeyRecord | null> {
    this.calls++;
    return new Promise((resolve, reject) => this.pending.push({ hash, resolve, reject }));
  }
  /** Settles the oldest pending lookup. */
  settle(record: ApiKeyRecord | null): void {
    this.pending.shift()!.resolve(record);
  }
}

/** A store holding one key in memory, counting lookups, with a change feed the test drives. */
class CountingStore extends ApiKeyStore implements ApiKeyChangeFeed {
  calls = 0;
  current: ApiKeyRecord = record();
  listeners: Array<(keyId: string | null) => void> = [];
  listening = true;
  async findByHash(hash: string) {
    this.calls++;
    return hash === this.current.hash ? this.current : null;
  }
  watchChanges(listener: (keyId: string | null) => void) {
    this.listeners.push(listener);
    return () => (this.listeners = this.listeners.filter((l) => l !== listener));
  }
  isListening() {
    return this.listening;
  }
  /** Listens again and announces it, as a feed does after reconnecting. */
  listenAgain() {
    this.listening = true;
    this.listeners.forEach((listener) => listener(null));
  }
  async update(_id: string, _version: number, patch: ApiKeyPatch): Promise<StoredApiKey | null> {
    this.current = { ...this.current, ...patch };
    return null;
  }
  insert = async () => undefined;
  findById = async () => null;
  list = async () => [];
  rotate = async () => null;
  touch = async () => undefined;
}

/**
 * Makes `inner`'s first lookup read its record now but answer only when the returned function is
 * called; later lookups answer at once with the record as it is then.
 */
function holdFirstLookup(inner: CountingStore): () => void {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const staleRead = inner.current;
  inner.findByHash = async () => {
    inner.calls++;
    if (inner.calls === 1) {
      await gate;
      return staleRead;
    }
    return inner.current;
  };
  return release;
}

describe('CachedApiKeyStore', () => {
  it('coalesces concurrent lookups of one hash into one storage call, then serves it from memory', async () => {
    const inner = new ControlledRepository();
    const cache = new CachedApiKeyStore(inner);
    const lookups = Array.from({ length: 50 }, () => cache.findByHash(HASH));
    expect(inner.calls).toBe(1);
    inner.settle(record());
    expect((await Promise.all(lookups)).every((found) => found?.id === 'k-1')).toBe(true);
    expect((await cache.findByHash(HASH))?.id).toBe('k-1');
    expect(inner.calls).toBe(1);
  });

  it('remembers an unknown hash for negativeTtlMs only, and coalesces its concurrent lookups', async () => {
    const inner = new CountingStore();
    // long enough for 40 lookups on a stalled machine
    const cache = new CachedApiKeyStore(inner, { negativeTtlMs: 400 });
    await Promise.all(Array.from({ length: 20 }, () => cache.findByHash(UNKNOWN)));
    for (let i = 0; i < 20; i++) expect(await cache.findByHash(UNKNOWN)).toBeNull();
    expect(inner.calls).toBe(1);
    await sleep(450);
    expect(await cache.findByHash(UNKNOWN)).toBeNull();
    expect(inner.calls).toBe(2);
  });

  it('serves a found key for ttlMs, then asks storage again', async () => {
    const inner = new CountingStore();
    const cache = new CachedApiKeyStore(inner, { ttlMs: 400 });
    await cache.findByHash(HASH);
    await cache.findByHash(HASH);
    expect(inner.calls).toBe(1);
    await sleep(450);
    await cache.findByHash(HASH);
    expect(inner.calls).toBe(2);
  });

  it('never caches a storage error: the next lookup asks storage again', async () => {
    const inner = new ControlledRepository();
    const cache = new CachedApiKeyStore(inner);
    const failing = cache.findByHash(HASH);
    inner.pending.shift()!.reject(new Error('connection refused'));
    await expect(failing).rejects.toThrow('connection refused');
    const retry = cache.findByHash(HASH);
    inner.settle(record());
    expect((await retry)?.id).toBe('k-1');
    expect(inner.calls).toBe(2);
  });

  it('abandons a hanging lookup after lookupTimeoutMs without piling up calls, then tries again', async () => {
    const inner = new ControlledRepository();
    const cache = new CachedApiKeyStore(inner, { lookupTimeoutMs: 50 });
    const waiting = Array.from({ length: 10 }, () => cache.findByHash(HASH));
    expect(inner.calls).toBe(1);
    for (const lookup of waiting) await expect(lookup).rejects.toThrow('timed out');
    const retry = cache.findByHash(HASH);
    expect(inner.calls).toBe(2);
    inner.pending[1]!.resolve(record());
    expect((await retry)?.id).toBe('k-1');
  });

  it('keeps at most max keys: one not looked up since it was cached makes room before one that was', async () => {
    const inner = new CountingStore();
    const cache = new CachedApiKeyStore(inner, { max: 2 });
    const [a, b, c] = ['a', 'b', 'c'].map((letter) => letter.repeat(43)) as [string, string, string];
    const lookUp = async (hash: string) => {
      inner.current = record({ id: hash, hash });
      return (await cache.findByHash(hash))?.id;
    };
    await lookUp(a);
    await lookUp(b);
    expect(await lookUp(a)).toBe(a); // a hit: 'a' has been used since it was cached, 'b' has not
    expect(inner.calls).toBe(2);
    await lookUp(c); // full: 'b' makes room
    expect(inner.calls).toBe(3);
    expect(await lookUp(a)).toBe(a);
    expect(inner.calls).toBe(3);
    expect(await lookUp(b)).toBe(b);
    expect(inner.calls).toBe(4);
  });

  it('rejects a malformed or mismatching record from the wrapped store and caches nothing of it', async () => {
    const inner = new CountingStore();
    const cache = new CachedApiKeyStore(inner);
    for (const bad of [
      record({ scopes: 'a' as unknown as string[] }),
      record({ hash: UNKNOWN }),
      record({ expiresAt: new Date(NaN) }),
    ]) {
      inner.findByHash = async () => (inner.calls++, bad);
      await expect(cache.findByHash(HASH)).rejects.toThrow('malformed or mismatching record');
    }
    expect(inner.calls).toBe(3);
    inner.findByHash = CountingStore.prototype.findByHash;
    expect((await cache.findByHash(HASH))?.scopes).toEqual(['a']);
    expect((await cache.findByHash(HASH))?.scopes).toEqual(['a']);
    expect(inner.calls).toBe(4);
  });

  it(
    'a write through the cache applies to the very next lookup, ' + 'even with a lookup of the old state in flight',
    async () => {
      const inner = new CountingStore();
      const cache = new CachedApiKeyStore(inner);
      const releaseLate = holdFirstLookup(inner);
      const inFlight = cache.findByHash(HASH);
      await cache.update('k-1', 1, { revokedAt: new Date(1), updatedAt: new Date(1) });
      const next = await cache.findByHash(HASH);
      expect(next?.revokedAt).toEqual(new Date(1));
      releaseLate();
      expect((await inFlight)?.revokedAt).toBeUndefined();
      expect((await cache.findByHash(HASH))?.revokedAt).toEqual(new Date(1));
      expect(inner.calls).toBe(2);
    },
  );

  it(
    'a change notice applies to the next verification through the authenticator, ' +
      'even with a lookup of the old state in flight',
    async () => {
      const options = new ResolvedApiKeyOptions({});
      const hasher = new ApiKeyHasher(options.peppers);
      const key = 'notice-test-key-0000000001';
      const inner = new CountingStore();
      inner.current = record({ hash: hasher.hash(key) });
      const cache = new CachedApiKeyStore(inner);
      const authenticator = new ApiKeyAuthenticator(options, hasher, cache);
      const releaseLate = holdFirstLookup(inner);
      const inFlight = authenticator.verify(key);
      inner.current = { ...inner.current, revokedAt: new Date(1) }; // written by another instance
      inner.listeners.forEach((listener) => listener('k-1'));
      expect(await authenticator.verify(key)).toMatchObject({ valid: false, reason: 'revoked' });
      releaseLate();
      expect(await inFlight).toMatchObject({ valid: true }); // it started before the change
      await cache.close();
    },
  );

  it('drops a key when its change feed reports it, and everything on a null notice', async () => {
    const inner = new CountingStore();
    const cache = new CachedApiKeyStore(inner);
    await cache.findByHash(HASH);
    await cache.findByHash(UNKNOWN);
    inner.listeners.forEach((listener) => listener('another-key'));
    await cache.findByHash(HASH);
    expect(inner.calls).toBe(2); // k-1 was kept
    await cache.findByHash(UNKNOWN);
    expect(inner.calls).toBe(3); // the unknown hash was forgotten: it may exist now
    inner.listeners.forEach((listener) => listener('k-1'));
    await cache.findByHash(HASH);
    expect(inner.calls).toBe(4);
    inner.listeners.forEach((listener) => listener(null));
    await cache.findByHash(HASH);
    expect(inner.calls).toBe(5);
    await cache.close();
    expect(inner.listeners).toEqual([]);
  });

  it('neither serves nor fills while its change feed is not listening: every lookup asks storage', async () => {
    const inner = new CountingStore();
    const cache = new CachedApiKeyStore(inner);
    await cache.findByHash(HASH);
    await cache.findByHash(UNKNOWN);
    expect(inner.calls).toBe(2);
    inner.listening = false; // the feed's connection was lost: changes are not heard
    inner.current = { ...inner.current, revokedAt: new Date(1) }; // written by another instance meanwhile
    expect((await cache.findByHash(HASH))?.revokedAt).toEqual(new Date(1));
    expect(await cache.findByHash(UNKNOWN)).toBeNull();
    await Promise.all([cache.findByHash(HASH), cache.findByHash(HASH)]);
    expect(inner.calls).toBe(6); // not even concurrent lookups share a call
    inner.listenAgain();
    await cache.findByHash(HASH);
    await cache.findByHash(HASH);
    expect(inner.calls).toBe(7); // cached again
    await cache.close();
  });

  it('while its change feed is not listening, the authenticator gets every verification from storage', async () => {
    const options = new ResolvedApiKeyOptions({});
    const hasher = new ApiKeyHasher(options.peppers);
    const key = 'deaf-feed-test-key-000001';
    const inner = new CountingStore();
    inner.current = record({ hash: hasher.hash(key) });
    const cache = new CachedApiKeyStore(inner);
    const authenticator = new ApiKeyAuthenticator(options, hasher, cache);
    expect(await authenticator.verify(key)).toMatchObject({ valid: true });
    inner.listening = false;
    inner.current = { ...inner.current, revokedAt: new Date(1) }; // written by another instance meanwhile
    expect(await authenticator.verify(key)).toMatchObject({ valid: false, reason: 'revoked' });
    expect(inner.calls).toBe(2);
    await cache.close();
  });

  it('keeps nothing from a lookup during which its change feed stopped listening', async () => {
    const inner = new CountingStore();
    const cache = new CachedApiKeyStore(inner);
    const releaseLate = holdFirstLookup(inner);
    const inFlight = cache.findByHash(HASH);
    inner.listening = false;
    releaseLate();
    await inFlight;
    inner.listening = true; // without the null notice a feed sends when it listens again
    await cache.findByHash(HASH);
    expect(inner.calls).toBe(2);
    await cache.close();
  });

  it('refuses a change feed that cannot say whether it listens', () => {
    const inner = new CountingStore() as Partial<CountingStore>;
    inner.isListening = undefined;
    expect(() => new CachedApiKeyStore(inner as CountingStore)).toThrow('watchChanges() but no isListening()');
  });

  it('checks health through the wrapped repository, and reports one without a check as unchecked', async () => {
    await expect(new CachedApiKeyStore(new CountingStore()).checkHealth()).rejects.toThrow('has no checkHealth()');
    const up = () => Promise.resolve();
    await expect(
      new CachedApiKeyStore(Object.assign(new CountingStore(), { checkHealth: up })).checkHealth(),
    ).resolves.toBeUndefined();
    const down = () => Promise.reject(new Error('database down'));
    const failing = Object.assign(new CountingStore(), { checkHealth: down });
    await expect(new CachedApiKeyStore(failing).checkHealth()).rejects.toThrow('database down');
  });

  it('refuses writes when the wrapped repository is not a store', async () => {
    const cache = new CachedApiKeyStore(new ControlledRepository());
    await expect(cache.update('k-1', 1, { updatedAt: new Date() })).rejects.toThrow('not an ApiKeyStore');
  });
});

describe("the module's cache option", () => {
  it("is off by default; true takes the defaults and the module's lookup timeout", () => {
    expect(new ResolvedApiKeyOptions({}).cache).toBeNull();
    expect(new ResolvedApiKeyOptions({ cache: false }).cache).toBeNull();
    expect(new ResolvedApiKeyOptions({ cache: true, lookupTimeoutMs: 700 }).cache).toEqual({
      ...API_KEY_CACHE_DEFAULTS,
      lookupTimeoutMs: 700,
    });
    expect(new ResolvedApiKeyOptions({ cache: { ttlMs: 5, max: 3 } }).cache).toEqual({
      ...API_KEY_CACHE_DEFAULTS,
      ttlMs: 5,
      max: 3,
    });
  });

  it('rejects invalid settings when built directly too, naming the field', () => {
    const inner = new CountingStore();
    expect(() => new CachedApiKeyStore(inner, { max: Number.NaN })).toThrow(
      'cache.max must be a positive integer, got number',
    );
    expect(() => new CachedApiKeyStore(inner, { ttlMs: 1.5 })).toThrow(
      'cache.ttlMs must be a positive integer, got number',
    );
    expect(() => new CachedApiKeyStore(inner, { negativeTtlMs: 0 })).toThrow(ApiKeyConfigurationError);
    expect(() => new CachedApiKeyStore(inner, { lookupTimeoutMs: -1 })).toThrow(ApiKeyConfigurationError);
    expect(() => new CachedApiKeyStore(inner, { lookupTimeoutMs: 2 ** 31 })).toThrow(
      'cache.lookupTimeoutMs must be at most 2147483647 ms',
    );
    expect(new CachedApiKeyStore(inner, { lookupTimeoutMs: 2 ** 31 - 1 })).toBeInstanceOf(CachedApiKeyStore);
  });

  it('rejects invalid settings at bootstrap, naming the field', () => {
    expect(() => new ResolvedApiKeyOptions({ cache: { ttlMs: 0 } })).toThrow(
      'cache.ttlMs must be a positive integer, got number',
    );
    expect(() => new ResolvedApiKeyOptions({ cache: { negativeTtlMs: '1s' as unknown as number } })).toThrow(
      'cache.negativeTtlMs must be a positive integer',
    );
    expect(() => new ResolvedApiKeyOptions({ cache: 'yes' as unknown as boolean })).toThrow(ApiKeyConfigurationError);
  });

  it('wraps the configured repository in a CachedApiKeyStore', async () => {
    const inner = new CountingStore();
    const moduleRef = await Test.createTestingModule({
      imports: [ApiKeyModule.forRoot({ repository: inner, cache: true })],
    }).compile();
    const repository = moduleRef.get(ApiKeyRepository);
    expect(repository).toBeInstanceOf(CachedApiKeyStore);
    await repository.findByHash(HASH);
    await repository.findByHash(HASH);
    expect(inner.calls).toBe(1);
    await moduleRef.close();
  });
});
