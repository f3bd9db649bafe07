import { beforeAll, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { ApiKeyRecord } from '../storage/api-key-record.interface.js';
import { ApiKeyAuthenticator } from './api-key.authenticator.js';
import { ApiKeyStoreUnavailableException } from '../api-key.exceptions.js';
import { ApiKeyHasher } from '../keys/api-key.hasher.js';
import { ApiKeyRepository } from '../storage/api-key.repository.js';
import { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import { CachedApiKeyStore } from '../storage/cached-api-key.store.js';
import { InMemoryApiKeyStore } from '../storage/in-memory-api-key.store.js';

const KEY = 'unit-test-key-000000000001';

/** A repository whose lookups stay pending until the test settles them. */
class ManualRepository extends ApiKeyRepository {
  readonly calls: Array<{ hash: string; resolve: (record: ApiKeyRecord | null) => void }> = [];
  findByHash(hash: string): Promise<ApiKeyRecord | null> {
    return new Promise((resolve) => this.calls.push({ hash, resolve }));
  }
}

function setup(lookupTimeoutMs = 5000) {
  const options = new ResolvedApiKeyOptions({ lookupTimeoutMs });
  const hasher = new ApiKeyHasher(options.peppers);
  const repository = new ManualRepository();
  const authenticator = new ApiKeyAuthenticator(options, hasher, repository);
  const record: ApiKeyRecord = { id: 'k1', name: 'k1', hash: hasher.hash(KEY), scopes: [] };
  return { authenticator, repository, record };
}

describe('ApiKeyAuthenticator lookups', () => {
  beforeAll(() => Logger.overrideLogger(false)); // the timeout case logs an expected error

  it('shares one repository call between concurrent verifications of the same key', async () => {
    const { authenticator, repository, record } = setup();
    const results = Array.from({ length: 1000 }, () => authenticator.verify(KEY));
    expect(repository.calls).toHaveLength(1);
    repository.calls[0]!.resolve(record);
    for (const result of await Promise.all(results))
      expect(result).toMatchObject({ valid: true, principal: { id: 'k1' } });
  });

  it('caches nothing: a verification after the lookup settled reads the repository again', async () => {
    const { authenticator, repository } = setup();
    const first = authenticator.verify(KEY);
    repository.calls[0]!.resolve(null);
    await expect(first).resolves.toEqual({ valid: false, reason: 'not_found' });
    const second = authenticator.verify(KEY);
    expect(repository.calls).toHaveLength(2);
    repository.calls[1]!.resolve(null);
    await second;
  });

  it('does not let a verification that starts after invalidate() share an older pending lookup', async () => {
    const { authenticator, repository, record } = setup();
    const before = authenticator.verify(KEY);
    authenticator.invalidate();
    const after = authenticator.verify(KEY);
    expect(repository.calls).toHaveLength(2);
    repository.calls[0]!.resolve(record);
    repository.calls[1]!.resolve({ ...record, revokedAt: new Date(0) });
    await expect(before).resolves.toMatchObject({ valid: true });
    await expect(after).resolves.toMatchObject({ valid: false, reason: 'revoked' });
  });

  it('stops sharing a lookup once it has timed out, so a recovered repository is asked again', async () => {
    const { authenticator, repository, record } = setup(20);
    await expect(authenticator.verify(KEY)).rejects.toBeInstanceOf(ApiKeyStoreUnavailableException);
    const retry = authenticator.verify(KEY);
    expect(repository.calls).toHaveLength(2);
    repository.calls[1]!.resolve(record);
    await expect(retry).resolves.toMatchObject({ valid: true });
  });

  it(
    'finds a key again after it moves to another hash (re-hashed under a new pepper), ' + 'and never under a stale one',
    async () => {
      const [current, previous] = ['pepper-current-00000000001', 'pepper-previous-0000000001'];
      const options = new ResolvedApiKeyOptions({ pepper: [current, previous] });
      const hasher = new ApiKeyHasher(options.peppers);
      const store = new InMemoryApiKeyStore([
        { id: 'k1', name: 'k1', hash: new ApiKeyHasher([previous]).hash(KEY), scopes: [] },
      ]);
      const authenticator = new ApiKeyAuthenticator(options, hasher, store);
      for (let i = 0; i < 2; i++)
        expect(await authenticator.verify(KEY)).toMatchObject({ valid: true, principal: { id: 'k1' } });
      store.delete(new ApiKeyHasher([previous]).hash(KEY));
      store.save({ id: 'k1', name: 'k1 re-hashed', hash: hasher.hash(KEY), scopes: [] });
      expect(await authenticator.verify(KEY)).toMatchObject({ valid: true, principal: { name: 'k1 re-hashed' } });
      store.delete(hasher.hash(KEY));
      expect(await authenticator.verify(KEY)).toEqual({ valid: false, reason: 'not_found' });
    },
  );

  it('reads the time from a clock given as a plain { now } object, as tests replace it', async () => {
    const options = new ResolvedApiKeyOptions({});
    const hasher = new ApiKeyHasher(options.peppers);
    const store = new InMemoryApiKeyStore([
      { id: 'k1', name: 'k1', hash: hasher.hash(KEY), scopes: [], expiresAt: new Date(1_000) },
    ]);
    let now = 999;
    const clock = { now: () => new Date(now) } as unknown as ConstructorParameters<typeof ApiKeyAuthenticator>[3];
    const authenticator = new ApiKeyAuthenticator(options, hasher, store, clock);
    expect(await authenticator.verify(KEY)).toMatchObject({ valid: true });
    now = 1_000;
    expect(await authenticator.verify(KEY)).toEqual({ valid: false, reason: 'expired', keyId: 'k1' });
  });
});

describe('ApiKeyAuthenticator.issued', () => {
  const hasher = new ApiKeyHasher();
  const record: ApiKeyRecord = { id: 'k1', name: 'k1', hash: hasher.hash(KEY), scopes: [] };
  /** A repository without the in-memory lookup: the authenticator verifies its records itself. */
  class PlainRepository extends ApiKeyRepository {
    findByHash = () => Promise.resolve(record);
  }
  const principalOf = async (authenticator: ApiKeyAuthenticator, key = KEY) => {
    const verification = await authenticator.verify(key);
    if (!verification.valid) throw new Error(`not valid: ${verification.reason}`);
    return verification.principal;
  };

  it(
    'knows the principals of its static keys, its generic repository, ' +
      'its in-memory store and its cache, and no other',
    async () => {
      const build = (options: ConstructorParameters<typeof ResolvedApiKeyOptions>[0], repository: ApiKeyRepository) =>
        new ApiKeyAuthenticator(new ResolvedApiKeyOptions(options), hasher, repository);
      const authenticators = [
        build({ keys: [{ name: 'k1', key: KEY }] }, new InMemoryApiKeyStore()),
        build({}, new PlainRepository()),
        build({}, new InMemoryApiKeyStore([record])),
        build({}, new CachedApiKeyStore(new PlainRepository(), { max: 10, ttlMs: 60_000 })),
      ];
      const principals = await Promise.all(authenticators.map((authenticator) => principalOf(authenticator)));
      authenticators.forEach((authenticator, i) => {
        principals.forEach((principal, j) => expect([i, j, authenticator.issued(principal)]).toEqual([i, j, i === j]));
        expect(authenticator.issued({ ...principals[i] })).toBe(false);
      });
    },
  );

  it('shares what a store issues between the authenticators of that one store, whatever the store', async () => {
    for (const store of [new InMemoryApiKeyStore([record]), new PlainRepository()]) {
      const [one, two, other] = [store, store, new InMemoryApiKeyStore([record])].map(
        (repository) => new ApiKeyAuthenticator(new ResolvedApiKeyOptions({}), hasher, repository),
      );
      const principal = await principalOf(one!);
      expect([two!.issued(principal), other!.issued(principal)]).toEqual([true, false]);
    }
  });
});

describe('ApiKeyAuthenticator static keys', () => {
  it('gives their principals a frozen copy of the configured metadata, nested objects included', async () => {
    const metadata = { plan: { tier: 'free' }, regions: ['eu'] };
    const options = new ResolvedApiKeyOptions({ keys: [{ name: 'static', key: KEY, metadata }] });
    const authenticator = new ApiKeyAuthenticator(
      options,
      new ApiKeyHasher(options.peppers),
      new InMemoryApiKeyStore(),
    );
    const result = await authenticator.verify(KEY);
    if (!result.valid) throw new Error('the static key should verify');
    const seen = result.principal.metadata as typeof metadata;
    expect(() => (seen.plan.tier = 'enterprise')).toThrow(TypeError);
    expect(() => seen.regions.push('us')).toThrow(TypeError);
    metadata.plan.tier = 'changed after bootstrap';
    expect((await authenticator.verify(KEY)).valid && (await authenticator.verify(KEY))).toMatchObject({
      principal: { metadata: { plan: { tier: 'free' }, regions: ['eu'] } },
    });
  });
});
