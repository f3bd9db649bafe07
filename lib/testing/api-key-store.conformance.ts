import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ApiKeyStore, toApiKeyRecord, type StoredApiKey, type StoredApiKeySecret } from '../storage/api-key.store.js';

/** The test functions the suite registers its cases with: Jest's and Vitest's have this shape. */
export interface ConformanceTestApi {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>): void;
  beforeEach(body: () => Promise<void>): void;
  afterEach(body: () => Promise<void>): void;
}

/** How the suite gets a store to test. */
export interface ApiKeyStoreHarness {
  /** A store over empty storage, for one test (migrate tables or truncate them here). */
  create(): ApiKeyStore | Promise<ApiKeyStore>;
  /** Releases a store made by `create` (drop or truncate tables, close connections). */
  destroy?(store: ApiKeyStore): void | Promise<void>;
}

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0, 123);

/** A test key with every field set; `overrides` replace some. Times are whole milliseconds. */
function key(id: string, overrides: Partial<StoredApiKey> = {}): StoredApiKey {
  return {
    id,
    name: `name of ${id}`,
    scopes: ['orders:read', 'billing:*'],
    ownerId: 'owner-1',
    metadata: { plan: 'pro', limits: { rpm: 60 }, tags: ['a', 'b'], nothing: null },
    createdAt: new Date(T0),
    updatedAt: new Date(T0),
    expiresAt: new Date(T0 + 86_400_000),
    revokedAt: null,
    disabled: false,
    lastUsedAt: null,
    version: 1,
    allowedNetworks: ['10.0.0.0/8', '2001:db8::/32', '::ffff:192.0.2.0/120'],
    allowedOrigins: ['https://app.example.com'],
    ...overrides,
  };
}

/** A test secret: its hash is a real base64url SHA-256 digest of `label`. */
function secret(label: string, keyId: string, overrides: Partial<StoredApiKeySecret> = {}): StoredApiKeySecret {
  return {
    hash: createHash('sha256').update(label).digest('base64url'),
    keyId,
    createdAt: new Date(T0),
    expiresAt: null,
    ...overrides,
  };
}

function globalTestApi(): ConformanceTestApi {
  const api = globalThis as unknown as Partial<ConformanceTestApi>;
  if (
    typeof api.describe !== 'function' ||
    typeof api.it !== 'function' ||
    typeof api.beforeEach !== 'function' ||
    typeof api.afterEach !== 'function'
  ) {
    throw new Error(
      'describeApiKeyStoreConformance: no global describe/it/beforeEach/afterEach; ' +
        "pass your test framework's functions as the third argument",
    );
  }
  return api as ConformanceTestApi;
}

/**
 * Registers the {@link ApiKeyStore} conformance suite: the behaviour `ApiKeyService`, the CLI
 * and the cache rely on (field round trips, lookups by any secret, conditional updates,
 * atomic rotation where one of two concurrent rotations wins, coalesced `touch`, the owner limit
 * on insert and revoking an owner's keys). Run it in
 * your own tests against your repository (TypeORM, Prisma, ...):
 *
 * ```ts
 * describeApiKeyStoreConformance('my store', { create: () => makeStore(), destroy: (s) => drop(s) });
 * ```
 *
 * Uses the global `describe`/`it`/`beforeEach`/`afterEach` (Jest), or the functions you pass
 * (`{ describe, it, beforeEach, afterEach }` from Vitest); assertions use `node:assert`.
 */
export function describeApiKeyStoreConformance(
  name: string,
  harness: ApiKeyStoreHarness,
  api: ConformanceTestApi = globalTestApi(),
): void {
  const { describe, it, beforeEach, afterEach } = api;
  describe(`ApiKeyStore conformance: ${name}`, () => {
    let store: ApiKeyStore;
    beforeEach(async () => {
      store = await harness.create();
    });
    afterEach(async () => {
      await harness.destroy?.(store);
    });

    it('insert then findById returns every field as written', async () => {
      const written = key('k-1');
      await store.insert(written, secret('s-1', 'k-1'));
      assert.deepEqual(await store.findById('k-1'), written);
      const bare = key('k-2', {
        ownerId: null,
        metadata: {},
        scopes: [],
        expiresAt: null,
        disabled: true,
        lastUsedAt: new Date(T0 + 5),
        allowedNetworks: null,
        allowedOrigins: null,
      });
      await store.insert(bare, secret('s-2', 'k-2'));
      assert.deepEqual(await store.findById('k-2'), bare);
    });

    it("findByHash returns the key record for the secret, with the secret's own expiry", async () => {
      const written = key('k-1');
      const first = secret('s-1', 'k-1', { expiresAt: new Date(T0 + 1000) });
      await store.insert(written, first);
      assert.deepEqual(await store.findByHash(first.hash), toApiKeyRecord(written, first));
    });

    it('unknown hashes and ids resolve to null', async () => {
      await store.insert(key('k-1'), secret('s-1', 'k-1'));
      assert.equal(await store.findByHash(secret('other', 'k-1').hash), null);
      assert.equal(await store.findById('k-2'), null);
    });

    it('insert rejects an existing id and keeps the first key', async () => {
      await store.insert(key('k-1'), secret('s-1', 'k-1'));
      await assert.rejects(store.insert(key('k-1', { name: 'impostor' }), secret('s-2', 'k-1')));
      assert.equal((await store.findById('k-1'))?.name, 'name of k-1');
      assert.equal(await store.findByHash(secret('s-2', 'k-1').hash), null);
    });

    it('insert rejects a hash another key holds, and writes nothing', async () => {
      await store.insert(key('k-1'), secret('s-1', 'k-1'));
      await assert.rejects(store.insert(key('k-2'), secret('s-1', 'k-2')));
      assert.equal(await store.findById('k-2'), null);
      assert.equal((await store.findByHash(secret('s-1', 'k-1').hash))?.id, 'k-1');
    });

    it('list orders by id byte-wise, filters by owner and pages with after and limit', async () => {
      // UTF-8 byte order puts U+FF01 before U+1F600; UTF-16 order (JavaScript's `<`) does not.
      const ids = ['key-a', 'key-B', 'key-_', 'key-\u{1F600}', 'key-0', 'key-\uFF01', 'key-Z2'];
      for (const [index, id] of ids.entries())
        await store.insert(key(id, { ownerId: index % 2 === 0 ? 'even' : 'odd' }), secret(id, id));
      const sorted = ['key-0', 'key-B', 'key-Z2', 'key-_', 'key-a', 'key-\uFF01', 'key-\u{1F600}'];
      assert.deepEqual(
        (await store.list()).map((k) => k.id),
        sorted,
      );
      assert.deepEqual(
        (await store.list({ ownerId: 'odd' })).map((k) => k.id),
        sorted.filter((id) => ids.indexOf(id) % 2 === 1),
      );
      assert.deepEqual(
        (await store.list({ after: sorted[1], limit: 2 })).map((k) => k.id),
        sorted.slice(2, 4),
      );
      assert.deepEqual(
        (await store.list({ after: 'key-\uFF01' })).map((k) => k.id),
        ['key-\u{1F600}'],
      );
      assert.deepEqual(await store.list({ ownerId: 'nobody' }), []);
    });

    it('update applies the patch when the version matches, increments it and leaves absent fields alone', async () => {
      const written = key('k-1');
      await store.insert(written, secret('s-1', 'k-1'));
      const patch = {
        name: 'renamed',
        scopes: ['orders:write'],
        metadata: { plan: 'free' },
        expiresAt: null,
        updatedAt: new Date(T0 + 10),
      };
      const updated = await store.update('k-1', 1, patch);
      const expected = { ...written, ...patch, version: 2 };
      assert.deepEqual(updated, expected);
      assert.deepEqual(await store.findById('k-1'), expected);
    });

    it('update sets and clears the allowed networks and origins, and findByHash returns them', async () => {
      const first = secret('s-1', 'k-1');
      await store.insert(key('k-1', { allowedNetworks: null, allowedOrigins: null }), first);
      const networks = ['192.0.2.0/24', '::1/128'];
      const restricted = await store.update('k-1', 1, { allowedNetworks: networks, updatedAt: new Date(T0 + 1) });
      assert.deepEqual([restricted?.allowedNetworks, restricted?.allowedOrigins], [networks, null]);
      const record = await store.findByHash(first.hash);
      assert.deepEqual([record?.allowedNetworks, record?.allowedOrigins], [networks, null]);
      const origins = ['http://localhost:3000'];
      await store.update('k-1', 2, { allowedNetworks: null, allowedOrigins: origins, updatedAt: new Date(T0 + 2) });
      const cleared = await store.findById('k-1');
      assert.deepEqual([cleared?.allowedNetworks, cleared?.allowedOrigins], [null, origins]);
    });

    it('update with a stale version or an unknown id resolves to null and changes nothing', async () => {
      const written = key('k-1');
      await store.insert(written, secret('s-1', 'k-1'));
      assert.equal(await store.update('k-1', 2, { name: 'late', updatedAt: new Date(T0 + 10) }), null);
      assert.equal(await store.update('k-2', 1, { name: 'ghost', updatedAt: new Date(T0 + 10) }), null);
      assert.deepEqual(await store.findById('k-1'), written);
    });

    it('a revocation or disabling is what the next findByHash returns', async () => {
      const first = secret('s-1', 'k-1');
      await store.insert(key('k-1'), first);
      await store.update('k-1', 1, { disabled: true, updatedAt: new Date(T0 + 1) });
      assert.equal((await store.findByHash(first.hash))?.disabled, true);
      await store.update('k-1', 2, { revokedAt: new Date(T0 + 2), updatedAt: new Date(T0 + 2) });
      assert.deepEqual((await store.findByHash(first.hash))?.revokedAt, new Date(T0 + 2));
    });

    it('of concurrent updates at one version exactly one wins', async () => {
      await store.insert(key('k-1'), secret('s-1', 'k-1'));
      const results = await Promise.all(
        [1, 2, 3, 4, 5].map((n) => store.update('k-1', 1, { name: `writer ${n}`, updatedAt: new Date(T0 + n) })),
      );
      const winners = results.filter((result) => result !== null);
      assert.equal(winners.length, 1);
      assert.deepEqual(await store.findById('k-1'), winners[0]);
    });

    it(
      'rotate adds the new secret, cuts longer-lived previous ones to the grace end, ' +
        'keeps shorter ones, increments the version',
      async () => {
        const written = key('k-1');
        const old = secret('old', 'k-1');
        const older = secret('older', 'k-1', { expiresAt: new Date(T0 + 500) });
        await store.insert(written, older);
        const mid = await store.rotate('k-1', 1, old, new Date(T0 + 500));
        assert.equal(mid?.version, 2);
        const fresh = secret('fresh', 'k-1', { createdAt: new Date(T0 + 100) });
        const graceEnd = new Date(T0 + 1000);
        const rotated = await store.rotate('k-1', 2, fresh, graceEnd);
        assert.equal(rotated?.version, 3);
        assert.deepEqual(await store.findById('k-1'), rotated);
        assert.equal(rotated?.name, written.name);
        assert.deepEqual(rotated?.scopes, written.scopes);
        assert.deepEqual((await store.findByHash(fresh.hash))?.secretExpiresAt, null);
        assert.deepEqual((await store.findByHash(old.hash))?.secretExpiresAt, graceEnd);
        assert.deepEqual((await store.findByHash(older.hash))?.secretExpiresAt, new Date(T0 + 500));
        assert.equal((await store.findByHash(fresh.hash))?.id, 'k-1');
      },
    );

    it('rotate sets the expiry when given one (null included) and leaves it otherwise', async () => {
      await store.insert(key('k-1'), secret('s-1', 'k-1'));
      const kept = await store.rotate('k-1', 1, secret('s-2', 'k-1'), new Date(T0));
      assert.deepEqual(kept?.expiresAt, new Date(T0 + 86_400_000));
      const renewed = await store.rotate('k-1', 2, secret('s-3', 'k-1'), new Date(T0), new Date(T0 + 5000));
      assert.deepEqual(renewed?.expiresAt, new Date(T0 + 5000));
      assert.deepEqual((await store.findByHash(secret('s-3', 'k-1').hash))?.expiresAt, new Date(T0 + 5000));
      const endless = await store.rotate('k-1', 3, secret('s-4', 'k-1'), new Date(T0), null);
      assert.equal(endless?.expiresAt, null);
      assert.deepEqual(await store.findById('k-1'), endless);
    });

    it('rotate with a stale version resolves to null and adds no secret', async () => {
      const first = secret('s-1', 'k-1');
      await store.insert(key('k-1'), first);
      const late = secret('late', 'k-1');
      assert.equal(await store.rotate('k-1', 7, late, new Date(T0)), null);
      assert.equal(await store.rotate('k-2', 1, secret('ghost', 'k-2'), new Date(T0)), null);
      assert.equal(await store.findByHash(late.hash), null);
      assert.equal((await store.findByHash(first.hash))?.secretExpiresAt, null);
      assert.equal((await store.findById('k-1'))?.version, 1);
    });

    it('of two concurrent rotations exactly one wins, and only its secret exists', async () => {
      await store.insert(key('k-1'), secret('s-1', 'k-1'));
      const left = secret('left', 'k-1');
      const right = secret('right', 'k-1');
      const [a, b] = await Promise.all([
        store.rotate('k-1', 1, left, new Date(T0 + 1000)),
        store.rotate('k-1', 1, right, new Date(T0 + 1000)),
      ]);
      assert.equal([a, b].filter((result) => result !== null).length, 1);
      const [winner, loser] = a ? [left, right] : [right, left];
      assert.equal((await store.findByHash(winner.hash))?.id, 'k-1');
      assert.equal(await store.findByHash(loser.hash), null);
      assert.equal((await store.findById('k-1'))?.version, 2);
    });

    it('a rotation to a hash that already exists fails and changes nothing', async () => {
      const first = secret('s-1', 'k-1');
      await store.insert(key('k-1'), first);
      await store.insert(key('k-2'), secret('s-2', 'k-2'));
      await assert.rejects(store.rotate('k-1', 1, secret('s-2', 'k-1'), new Date(T0)));
      assert.equal((await store.findByHash(first.hash))?.secretExpiresAt, null);
      assert.equal((await store.findById('k-1'))?.version, 1);
      assert.equal((await store.findByHash(secret('s-2', 'k-2').hash))?.id, 'k-2');
    });

    it('touch records last use, never moves it backwards, ignores unknown ids and bumps no version', async () => {
      await store.insert(key('k-1'), secret('s-1', 'k-1'));
      await store.insert(key('k-2'), secret('s-2', 'k-2'));
      await store.touch(
        new Map([
          ['k-1', new Date(T0 + 50)],
          ['k-2', new Date(T0 + 60)],
          ['nobody', new Date(T0)],
        ]),
      );
      await store.touch(new Map([['k-1', new Date(T0 + 40)]]));
      await store.touch(new Map());
      const [one, two] = [await store.findById('k-1'), await store.findById('k-2')];
      assert.deepEqual([one?.lastUsedAt, two?.lastUsedAt], [new Date(T0 + 50), new Date(T0 + 60)]);
      assert.deepEqual([one?.version, one?.updatedAt], [1, new Date(T0)]);
      assert.notEqual(await store.update('k-1', 1, { name: 'still version 1', updatedAt: new Date(T0 + 70) }), null);
    });

    it('insertWithinOwnerLimit counts the owner’s keys that are neither revoked nor expired', async () => {
      const now = new Date(T0 + 1000);
      await store.insert(key('k-1'), secret('s-1', 'k-1'));
      await store.insert(key('k-2', { disabled: true }), secret('s-2', 'k-2')); // disabled: still counts
      await store.insert(key('k-3', { revokedAt: new Date(T0) }), secret('s-3', 'k-3'));
      await store.insert(key('k-4', { expiresAt: now }), secret('s-4', 'k-4')); // expired at `now`
      await store.insert(key('k-5', { ownerId: 'owner-2' }), secret('s-5', 'k-5'));
      assert.equal(await store.insertWithinOwnerLimit(key('k-6'), secret('s-6', 'k-6'), 2, now), false);
      assert.equal(await store.findById('k-6'), null);
      assert.equal(await store.findByHash(secret('s-6', 'k-6').hash), null);
      assert.equal(await store.insertWithinOwnerLimit(key('k-6'), secret('s-6', 'k-6'), 3, now), true);
      assert.deepEqual(await store.findById('k-6'), key('k-6'));
      assert.equal((await store.findByHash(secret('s-6', 'k-6').hash))?.id, 'k-6');
      const ownerless = key('k-7', { ownerId: null });
      assert.equal(await store.insertWithinOwnerLimit(ownerless, secret('s-7', 'k-7'), 1, now), true);
    });

    it('of concurrent insertWithinOwnerLimit calls for one owner no more than the limit win', async () => {
      const now = new Date(T0);
      const results = await Promise.all(
        [1, 2, 3, 4, 5].map((n) => store.insertWithinOwnerLimit(key(`c-${n}`), secret(`c-${n}`, `c-${n}`), 2, now)),
      );
      assert.equal(results.filter(Boolean).length, 2);
      assert.equal((await store.list({ ownerId: 'owner-1' })).length, 2);
    });

    it('revokeOwner revokes every unrevoked key of the owner at once and nothing else', async () => {
      const at = new Date(T0 + 5000);
      await store.insert(key('k-2'), secret('s-2', 'k-2'));
      await store.insert(key('k-1', { disabled: true }), secret('s-1', 'k-1'));
      await store.insert(key('k-3', { revokedAt: new Date(T0) }), secret('s-3', 'k-3'));
      await store.insert(key('k-4', { ownerId: 'owner-2' }), secret('s-4', 'k-4'));
      assert.deepEqual(await store.revokeOwner('owner-1', at), ['k-1', 'k-2']);
      for (const id of ['k-1', 'k-2']) {
        const revoked = await store.findById(id);
        assert.deepEqual([revoked?.revokedAt, revoked?.updatedAt, revoked?.version], [at, at, 2]);
        assert.deepEqual((await store.findByHash(secret(id.replace('k', 's'), id).hash))?.revokedAt, at);
      }
      assert.deepEqual(await store.findById('k-3'), key('k-3', { revokedAt: new Date(T0) }));
      assert.deepEqual(await store.findById('k-4'), key('k-4', { ownerId: 'owner-2' }));
      assert.deepEqual(await store.revokeOwner('owner-1', at), []);
      assert.deepEqual(await store.revokeOwner('nobody', at), []);
    });
  });
}
