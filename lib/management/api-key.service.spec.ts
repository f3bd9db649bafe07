import { beforeEach, describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../test/support/clock.js';
import { ApiKeyLifecycleError } from '../api-key-lifecycle.error.js';
import { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import type { ApiKeyRecord } from '../storage/api-key-record.interface.js';
import { ApiKeyAuthenticator } from '../verification/api-key.authenticator.js';
import { ApiKeyEventSink, type ApiKeyEvent } from '../api-key.events.js';
import { ApiKeyHasher } from '../keys/api-key.hasher.js';
import { ApiKeyRepository } from '../storage/api-key.repository.js';
import { ApiKeyService } from './api-key.service.js';
import { ApiKeyLastUsedRecorder } from '../verification/api-key-last-used.recorder.js';
import { InMemoryApiKeyStore } from '../storage/in-memory-api-key.store.js';
import { createStandaloneApiKeyService, type StandaloneApiKeyOptions } from './api-key.standalone.js';

class RecordingSink extends ApiKeyEventSink {
  readonly events: ApiKeyEvent[] = [];
  emit(event: ApiKeyEvent): void {
    this.events.push(event);
  }
}

/** Counts every storage call, to prove what never reaches storage. */
class CountingStore extends InMemoryApiKeyStore {
  calls = 0;
  override findByHash(hash: string): Promise<ApiKeyRecord | null> {
    this.calls++;
    return super.findByHash(hash);
  }
}

class CountingHasher extends ApiKeyHasher {
  calls = 0;
  override candidates(key: string): string[] {
    this.calls++;
    return super.candidates(key);
  }
}

const HOUR = 3_600_000;

function setup(repository: ApiKeyRepository = new CountingStore(), extra: Partial<StandaloneApiKeyOptions> = {}) {
  const clock = new ManualClock();
  const sink = new RecordingSink();
  const options = {
    repository,
    events: sink,
    pepper: 'unit-test-pepper-000001',
    keyPrefix: 'sk_test',
    lastUsedIntervalMs: 1000,
    ...extra,
  };
  const resolved = new ResolvedApiKeyOptions(options);
  const hasher = new CountingHasher(resolved.peppers);
  const usage = new ApiKeyLastUsedRecorder(resolved, repository);
  const authenticator = new ApiKeyAuthenticator(resolved, hasher, repository, clock, sink, usage);
  const service = new ApiKeyService(resolved, hasher, repository, authenticator, clock, sink);
  return { service, clock, sink, usage, hasher, repository, options: resolved };
}

describe('ApiKeyService', () => {
  let ctx: ReturnType<typeof setup>;
  beforeEach(() => {
    ctx = setup();
  });

  it('creates a key, returns the plaintext once with the record, and stores only its keyed hash', async () => {
    const { key, apiKey } = await ctx.service.create({
      name: 'billing',
      scopes: ['invoices:read'],
      ownerId: 'team-a',
      metadata: { plan: 'pro' },
    });
    expect(key).toMatch(/^sk_test_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$/);
    expect(key.split('_')[2]).toBe(apiKey.id);
    expect(apiKey).toMatchObject({
      name: 'billing',
      scopes: ['invoices:read'],
      ownerId: 'team-a',
      metadata: { plan: 'pro' },
      revokedAt: null,
      disabled: false,
      version: 1,
    });
    expect(JSON.stringify(await ctx.service.get(apiKey.id))).not.toContain(key.slice(-38));
    expect(await ctx.service.verify(key)).toEqual({
      valid: true,
      principal: {
        id: apiKey.id,
        name: 'billing',
        scopes: ['invoices:read'],
        ownerId: 'team-a',
        metadata: { plan: 'pro' },
      },
    });
    const record = await (ctx.repository as CountingStore).findByHash(
      new ApiKeyHasher(['unit-test-pepper-000001']).hash(key),
    );
    expect(record?.id).toBe(apiKey.id);
  });

  it('refuses a bad checksum or shape as malformed before any hashing or storage call', async () => {
    const { key } = await ctx.service.create({ name: 'a' });
    const store = ctx.repository as CountingStore;
    store.calls = 0;
    ctx.hasher.calls = 0;
    const typo = key.slice(0, -7) + (key.at(-7) === 'a' ? 'b' : 'a') + key.slice(-6);
    for (const presented of [
      typo,
      key.slice(0, -1),
      'sk_test_random_string',
      `sk_test_${'A'.repeat(12)}_${'B'.repeat(38)}`,
    ]) {
      expect(await ctx.service.verify(presented)).toEqual({ valid: false, reason: 'malformed' });
    }
    expect([store.calls, ctx.hasher.calls]).toEqual([0, 0]);
    expect(await ctx.service.verify(key)).toMatchObject({ valid: true });
    expect([store.calls, ctx.hasher.calls]).toEqual([1, 1]);
  });

  it('expires a key at expiresAt exactly, not a millisecond before', async () => {
    const expiresAt = new Date(ctx.clock.now().getTime() + HOUR);
    const { key, apiKey } = await ctx.service.create({ name: 'temp', expiresAt });
    ctx.clock.set(new Date(expiresAt.getTime() - 1));
    expect(await ctx.service.verify(key)).toMatchObject({ valid: true });
    ctx.clock.set(expiresAt);
    expect(await ctx.service.verify(key)).toEqual({ valid: false, reason: 'expired', keyId: apiKey.id });
  });

  it('revokes at once and for good; revoking twice changes nothing', async () => {
    const { key, apiKey } = await ctx.service.create({ name: 'leaky' });
    const revoked = await ctx.service.revoke(apiKey.id);
    expect(revoked.revokedAt).toEqual(ctx.clock.now());
    expect(await ctx.service.verify(key)).toEqual({ valid: false, reason: 'revoked', keyId: apiKey.id });
    ctx.clock.advance(1000);
    expect((await ctx.service.revoke(apiKey.id)).revokedAt).toEqual(revoked.revokedAt);
    for (const action of [
      () => ctx.service.enable(apiKey.id),
      () => ctx.service.disable(apiKey.id),
      () => ctx.service.rotate(apiKey.id, { gracePeriodMs: 0 }),
      () => ctx.service.update(apiKey.id, { name: 'x' }),
    ]) {
      await expect(action()).rejects.toMatchObject({ code: 'revoked' });
    }
  });

  it('disables and re-enables a key', async () => {
    const { key, apiKey } = await ctx.service.create({ name: 'pausable' });
    await ctx.service.disable(apiKey.id);
    expect(await ctx.service.verify(key)).toEqual({ valid: false, reason: 'disabled', keyId: apiKey.id });
    await ctx.service.enable(apiKey.id);
    expect(await ctx.service.verify(key)).toMatchObject({ valid: true });
  });

  it(
    'rotates: new secret valid at once, ' + 'old one valid until the grace period ends and invalid right after',
    async () => {
      const { key: old, apiKey } = await ctx.service.create({ name: 'rotating', scopes: ['a'] });
      ctx.clock.advance(5000);
      const rotated = await ctx.service.rotate(apiKey.id, { gracePeriodMs: HOUR });
      expect(rotated.key).not.toBe(old);
      expect(rotated.key.split('_')[2]).toBe(apiKey.id);
      expect(rotated.apiKey).toMatchObject({ id: apiKey.id, scopes: ['a'], createdAt: apiKey.createdAt, version: 2 });
      expect(rotated.previousSecretsExpireAt).toEqual(new Date(ctx.clock.now().getTime() + HOUR));
      expect(await ctx.service.verify(rotated.key)).toMatchObject({ valid: true });
      ctx.clock.set(new Date(rotated.previousSecretsExpireAt.getTime() - 1));
      expect(await ctx.service.verify(old)).toMatchObject({ valid: true, principal: { id: apiKey.id } });
      ctx.clock.set(rotated.previousSecretsExpireAt);
      expect(await ctx.service.verify(old)).toEqual({ valid: false, reason: 'revoked', keyId: apiKey.id });
      expect(await ctx.service.verify(rotated.key)).toMatchObject({ valid: true });
    },
  );

  it('rotates with grace 0: the old secret is refused at once, the new one works', async () => {
    const { key: old, apiKey } = await ctx.service.create({ name: 'leaked' });
    const rotated = await ctx.service.rotate(apiKey.id, { gracePeriodMs: 0 });
    expect(await ctx.service.verify(old)).toMatchObject({ valid: false, reason: 'revoked' });
    expect(await ctx.service.verify(rotated.key)).toMatchObject({ valid: true });
  });

  it('a later rotation never extends an earlier grace period; grace 0 cuts every previous secret', async () => {
    const { key: first, apiKey } = await ctx.service.create({ name: 'k' });
    const second = await ctx.service.rotate(apiKey.id, { gracePeriodMs: HOUR });
    const third = await ctx.service.rotate(apiKey.id, { gracePeriodMs: 2 * HOUR });
    ctx.clock.advance(HOUR);
    expect(await ctx.service.verify(first)).toMatchObject({ valid: false, reason: 'revoked' });
    expect(await ctx.service.verify(second.key)).toMatchObject({ valid: true });
    expect(await ctx.service.verify(third.key)).toMatchObject({ valid: true });
    await ctx.service.rotate(apiKey.id, { gracePeriodMs: 0 });
    expect(await ctx.service.verify(second.key)).toMatchObject({ valid: false });
    expect(await ctx.service.verify(third.key)).toMatchObject({ valid: false });
  });

  it('lets exactly one of two concurrent rotations win; the other throws conflict and changes nothing', async () => {
    const { apiKey } = await ctx.service.create({ name: 'raced' });
    const results = await Promise.allSettled([
      ctx.service.rotate(apiKey.id, { gracePeriodMs: 0 }),
      ctx.service.rotate(apiKey.id, { gracePeriodMs: 0 }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const winner = results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ key: string }>;
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({
      code: 'conflict',
    });
    expect(await ctx.service.verify(winner.value.key)).toMatchObject({ valid: true });
    expect((await ctx.service.get(apiKey.id)).version).toBe(2);
  });

  it('retries an update that lost a race instead of overwriting the other change', async () => {
    const { apiKey } = await ctx.service.create({ name: 'n', scopes: ['a'] });
    const [renamed, rescoped] = await Promise.all([
      ctx.service.update(apiKey.id, { name: 'renamed' }),
      ctx.service.update(apiKey.id, { scopes: ['b'] }),
    ]);
    expect(renamed.version + rescoped.version).toBe(2 + 3);
    expect(await ctx.service.get(apiKey.id)).toMatchObject({ name: 'renamed', scopes: ['b'], version: 3 });
  });

  it('updates name, scopes, metadata and expiry, and the change applies to the next verification', async () => {
    const { key, apiKey } = await ctx.service.create({ name: 'n', scopes: ['a', 'b'] });
    ctx.clock.advance(10);
    const updated = await ctx.service.update(apiKey.id, { name: 'm', scopes: ['a'], metadata: { tier: 2 } });
    expect(updated).toMatchObject({
      name: 'm',
      scopes: ['a'],
      metadata: { tier: 2 },
      updatedAt: ctx.clock.now(),
      createdAt: apiKey.createdAt,
    });
    expect(await ctx.service.verify(key)).toMatchObject({
      principal: { name: 'm', scopes: ['a'], metadata: { tier: 2 } },
    });
  });

  it('lists keys by id with owner filter and keyset paging', async () => {
    for (const owner of ['a', 'b', 'a']) await ctx.service.create({ name: `k-${owner}`, ownerId: owner });
    const all = await ctx.service.list();
    expect(all.map((k) => k.id)).toEqual(all.map((k) => k.id).sort());
    expect((await ctx.service.list({ ownerId: 'a' })).length).toBe(2);
    const page = await ctx.service.list({ limit: 2 });
    expect(await ctx.service.list({ after: page[1]!.id })).toEqual(all.slice(2));
    await expect(ctx.service.list({ limit: 0 })).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('answers not_found and invalid_input clearly', async () => {
    await expect(ctx.service.get('nope')).rejects.toMatchObject({
      code: 'not_found',
      message: 'nestjs-api-key: no key with id "nope"',
    });
    await expect(ctx.service.revoke('nope')).rejects.toMatchObject({ code: 'not_found' });
    await expect(ctx.service.rotate('nope', { gracePeriodMs: 0 })).rejects.toMatchObject({ code: 'not_found' });
    await expect(ctx.service.create({ name: '' })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(ctx.service.create({ name: 'x', scopes: ['has space'] })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(ctx.service.create({ name: 'x', expiresAt: ctx.clock.now() })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    const { apiKey } = await ctx.service.create({ name: 'x' });
    for (const gracePeriodMs of [-1, 1.5, Number.NaN, Infinity]) {
      await expect(ctx.service.rotate(apiKey.id, { gracePeriodMs })).rejects.toBeInstanceOf(ApiKeyLifecycleError);
    }
  });

  it(
    'refuses text no store can keep (NUL, unpaired surrogates) ' + 'and metadata that is not JSON, writing nothing',
    async () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      for (const input of [
        { name: 'a\u0000b' },
        { name: 'x', ownerId: 'team\u0000' },
        { name: 'x', metadata: { note: 'half an emoji \ud83d' } },
        { name: 'x', metadata: { ['key\udc00']: 1 } },
        { name: 'x', metadata: { nested: [{ deep: 'nul\u0000' }] } },
        { name: 'x', metadata: cyclic },
        { name: 'x', metadata: { big: 1n } },
      ]) {
        await expect(ctx.service.create(input)).rejects.toMatchObject({ code: 'invalid_input' });
      }
      expect(await ctx.service.list()).toEqual([]);
      const { apiKey } = await ctx.service.create({ name: 'emoji 😀', metadata: { note: 'ok 😀', list: ['é'] } });
      expect(apiKey.name).toBe('emoji 😀');
      await expect(ctx.service.update(apiKey.id, { metadata: { note: '\ud83d' } })).rejects.toMatchObject({
        code: 'invalid_input',
      });
    },
  );

  it('hands out principals and stored keys no caller can change, nested metadata included', async () => {
    const { key, apiKey } = await ctx.service.create({
      name: 'deep',
      scopes: ['a'],
      metadata: { limits: { rpm: 10 }, tenants: ['t1'] },
    });
    const first = await ctx.service.verify(key);
    if (!first.valid) throw new Error('the key should verify');
    const metadata = first.principal.metadata as { limits: { rpm: number }; tenants: string[] };
    expect(() => (metadata.limits.rpm = 1_000_000)).toThrow(TypeError);
    expect(() => metadata.tenants.push('victim')).toThrow(TypeError);
    const shown = await ctx.service.get(apiKey.id);
    expect(() => (shown.scopes as string[]).push('admin:*')).toThrow(TypeError);
    expect(() => ((shown as { disabled: boolean }).disabled = true)).toThrow(TypeError);
    expect(await ctx.service.verify(key)).toMatchObject({
      valid: true,
      principal: { scopes: ['a'], metadata: { limits: { rpm: 10 }, tenants: ['t1'] } },
    });
    const expiresAt = new Date(ctx.clock.now().getTime() + 60_000);
    const dated = await ctx.service.create({ name: 'dated', expiresAt });
    expiresAt.setTime(0); // the caller's own Date: the stored key has its own copy
    (await ctx.service.get(dated.apiKey.id)).expiresAt!.setTime(0); // and hands out one nothing reads back
    expect(await ctx.service.verify(dated.key)).toMatchObject({ valid: true });
    expect((await ctx.service.get(dated.apiKey.id)).expiresAt).toEqual(new Date(ctx.clock.now().getTime() + 60_000));
  });

  it(
    'answers ids and list queries no store could hold ' + 'with not_found or invalid_input, the same on every store',
    async () => {
      await expect(ctx.service.get('a\u0000')).rejects.toMatchObject({ code: 'not_found' });
      await expect(ctx.service.revoke('a\u0000')).rejects.toMatchObject({ code: 'not_found' });
      await expect(ctx.service.get(42 as unknown as string)).rejects.toMatchObject({ code: 'invalid_input' });
      await expect(ctx.service.list({ after: ['a', 'b'] as unknown as string })).rejects.toMatchObject({
        code: 'invalid_input',
      });
      await expect(ctx.service.list({ after: '\u0000' })).rejects.toMatchObject({ code: 'invalid_input' });
      await expect(ctx.service.list({ ownerId: 'team\ud800' })).rejects.toMatchObject({ code: 'invalid_input' });
    },
  );

  it('refuses a grace period that ends past the latest Date, writing nothing', async () => {
    const { key, apiKey } = await ctx.service.create({ name: 'x' });
    await expect(ctx.service.rotate(apiKey.id, { gracePeriodMs: Number.MAX_SAFE_INTEGER })).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining('gracePeriodMs is too long'),
    });
    expect(await ctx.service.get(apiKey.id)).toEqual(apiKey);
    expect(await ctx.service.verify(key)).toMatchObject({ valid: true });
  });

  it('emits an event for every change and every outcome, never with the key', async () => {
    const { key, apiKey } = await ctx.service.create({ name: 'evented' });
    await ctx.service.verify(key);
    // a changed last character: the checksum fails
    await ctx.service.verify(`${key.slice(0, -1)}${key.endsWith('x') ? 'y' : 'x'}`);
    await ctx.service.update(apiKey.id, { name: 'renamed' });
    await ctx.service.disable(apiKey.id);
    await ctx.service.verify(key);
    await ctx.service.enable(apiKey.id);
    const rotated = await ctx.service.rotate(apiKey.id, { gracePeriodMs: 0 });
    await ctx.service.verify(key);
    await ctx.service.revoke(apiKey.id);
    await ctx.service.verify('sk_unknown_but_well_formed');
    const at = ctx.clock.now();
    const id = apiKey.id;
    expect(ctx.sink.events).toEqual([
      { type: 'api-key.created', keyId: id, at },
      { type: 'api-key.authenticated', keyId: id, at },
      { type: 'api-key.authentication-failed', reason: 'malformed', keyId: null, at },
      { type: 'api-key.updated', keyId: id, at },
      { type: 'api-key.disabled', keyId: id, at },
      { type: 'api-key.authentication-failed', reason: 'disabled', keyId: id, at },
      { type: 'api-key.enabled', keyId: id, at },
      { type: 'api-key.rotated', keyId: id, at, previousSecretsExpireAt: at },
      { type: 'api-key.authentication-failed', reason: 'revoked', keyId: id, at },
      { type: 'api-key.revoked', keyId: id, at },
      { type: 'api-key.authentication-failed', reason: 'not_found', keyId: null, at },
    ]);
    const text = JSON.stringify(ctx.sink.events);
    for (const secret of [key, rotated.key]) expect(text).not.toContain(secret.slice(-38, -20));
  });

  it('coalesces lastUsedAt: no storage write per verification, one touch per key per interval', async () => {
    const store = ctx.repository as InMemoryApiKeyStore;
    const touches: number[] = [];
    const touch = store.touch.bind(store);
    store.touch = (batch) => (touches.push(batch.size), touch(batch));
    const a = await ctx.service.create({ name: 'a' });
    const b = await ctx.service.create({ name: 'b' });
    for (let i = 0; i < 50; i++) {
      ctx.clock.advance(1);
      await ctx.service.verify(a.key);
      await ctx.service.verify(b.key);
    }
    expect(touches).toEqual([]);
    expect((await ctx.service.get(a.apiKey.id)).lastUsedAt).toBeNull();
    await ctx.usage.flush();
    expect(touches).toEqual([2]);
    expect((await ctx.service.get(a.apiKey.id)).lastUsedAt).toEqual(ctx.clock.now());
    await ctx.usage.flush();
    expect(touches).toEqual([2]);
  });

  it('keeps a failed lastUsedAt write for the next flush', async () => {
    const store = ctx.repository as InMemoryApiKeyStore;
    const { key, apiKey } = await ctx.service.create({ name: 'a' });
    await ctx.service.verify(key);
    const touch = store.touch.bind(store);
    store.touch = () => Promise.reject(new Error('database down'));
    await ctx.usage.flush();
    store.touch = touch;
    await ctx.usage.flush();
    expect((await ctx.service.get(apiKey.id)).lastUsedAt).toEqual(ctx.clock.now());
  });

  it('throws store_required for management on a lookup-only repository, while verify still works', async () => {
    class LookupOnly extends ApiKeyRepository {
      findByHash(): Promise<ApiKeyRecord | null> {
        return Promise.resolve(null);
      }
    }
    const { service } = setup(new LookupOnly());
    await expect(service.create({ name: 'x' })).rejects.toMatchObject({
      code: 'store_required',
      message: expect.stringContaining('the configured LookupOnly only looks keys up'),
    });
    await expect(service.list()).rejects.toMatchObject({ code: 'store_required' });
    expect(await service.verify('anything-of-16-chars')).toEqual({ valid: false, reason: 'not_found' });
  });

  it('revokeOwner refuses an owner id that is not a non-empty string, finds none for an unstorable one', async () => {
    for (const ownerId of ['', 42, null]) {
      await expect(ctx.service.revokeOwner(ownerId as string)).rejects.toMatchObject({
        code: 'invalid_input',
        message: 'nestjs-api-key: ownerId must be a non-empty string',
      });
    }
    expect(await ctx.service.revokeOwner('a\0b')).toEqual([]);
  });

  it('limits and revokes owners on a store without the owner methods (written for an earlier version)', async () => {
    const inner = new InMemoryApiKeyStore();
    const methods = ['findByHash', 'insert', 'findById', 'list', 'update', 'rotate', 'touch'] as const;
    const earlier = Object.fromEntries(methods.map((name) => [name, inner[name].bind(inner)]));
    const { service, sink } = setup(earlier as unknown as ApiKeyRepository, { maxActiveKeysPerOwner: 2 });
    const first = await service.create({ name: 'a', ownerId: 'acme' });
    await service.create({ name: 'b', ownerId: 'acme' });
    await expect(service.create({ name: 'c', ownerId: 'acme' })).rejects.toMatchObject({
      code: 'owner_limit_reached',
    });
    await service.create({ name: 'other', ownerId: 'globex' });
    await service.revoke(first.apiKey.id);
    const third = await service.create({ name: 'c', ownerId: 'acme' });
    const revoked = await service.revokeOwner('acme');
    expect(revoked).toHaveLength(2);
    expect(revoked).toContain(third.apiKey.id);
    expect(await service.verify(third.key)).toEqual({ valid: false, reason: 'revoked', keyId: third.apiKey.id });
    expect(sink.events.filter((event) => event.type === 'api-key.revoked')).toHaveLength(3);
    expect((await service.list({ ownerId: 'globex' }))[0]!.revokedAt).toBeNull();
  });

  it(
    'rotates the pepper: keys hashed under the previous pepper keep verifying, ' + 'rotated keys use the new one',
    async () => {
      const store = new CountingStore();
      const before = setup(store, { pepper: 'old-pepper-000000000001' });
      const { key: old, apiKey } = await before.service.create({ name: 'p' });
      const during = setup(store, { pepper: ['new-pepper-000000000001', 'old-pepper-000000000001'] });
      expect(await during.service.verify(old)).toMatchObject({ valid: true });
      const rotated = await during.service.rotate(apiKey.id, { gracePeriodMs: HOUR });
      expect(await store.findByHash(new ApiKeyHasher(['new-pepper-000000000001']).hash(rotated.key))).not.toBeNull();
      const after = setup(store, { pepper: 'new-pepper-000000000001' });
      expect(await after.service.verify(rotated.key)).toMatchObject({ valid: true });
      expect(await after.service.verify(old)).toEqual({ valid: false, reason: 'not_found' });
    },
  );

  it(
    'accepts static keys of any format next to generated ones, ' +
      'and refuses a prefixed static key with a bad checksum at startup',
    async () => {
      const generated = setup().options.format.generate().key;
      const { service } = setup(new CountingStore(), {
        keys: [
          { name: 'legacy', key: 'legacy-static-key-0000001' },
          { name: 'generated', key: generated },
        ],
      });
      expect(await service.verify('legacy-static-key-0000001')).toMatchObject({
        valid: true,
        principal: { id: 'legacy' },
      });
      expect(await service.verify(generated)).toMatchObject({ valid: true, principal: { id: 'generated' } });
      expect(() =>
        setup(new CountingStore(), {
          keys: [{ name: 'broken', key: `${generated.slice(0, -1)}${generated.endsWith('a') ? 'b' : 'a'}` }],
        }),
      ).toThrow(
        'keys[0] ("broken").key starts with the generated-key prefix "sk_test_" but is not a valid generated key',
      );
    },
  );

  it('is built without Nest by createStandaloneApiKeyService, with the module options validation', async () => {
    const sink = new RecordingSink();
    const { service, usage } = createStandaloneApiKeyService({
      repository: new InMemoryApiKeyStore(),
      events: sink,
      pepper: 'standalone-pepper-0001',
    });
    const { key } = await service.create({ name: 's' });
    expect(await service.verify(key)).toMatchObject({ valid: true });
    await usage.flush();
    expect(sink.events.map((e) => e.type)).toEqual(['api-key.created', 'api-key.authenticated']);
    expect(() =>
      createStandaloneApiKeyService({ repository: new InMemoryApiKeyStore(), events: sink, pepper: 'short' }),
    ).toThrow('pepper must be');
  });

  it('verifies a key issued by an earlier version from its stored record alone (fixed vector)', async () => {
    // Key and hash as version 0.1 stored them (see api-key.format.spec.ts): never regenerate these.
    const store = new CountingStore([
      { id: '0123456789AB', name: 'issued-by-0.1', hash: 'wFN36GkEkki_gWsuk-mfoImYR3hmppz0TzOfC7rTWpM', scopes: ['a'] },
    ]);
    const { service } = setup(store, { pepper: 'test-pepper-0000000001', keyPrefix: 'sk_live' });
    expect(await service.verify('sk_live_0123456789AB_CDEFGHIJKLMNOPQRSTUVWXYZabcdefgh0XmZgl')).toMatchObject({
      valid: true,
      principal: { id: '0123456789AB' },
    });
  });

  it('writes lastUsedAt by itself once the interval has passed', async () => {
    const store = new CountingStore();
    const { service } = setup(store, { lastUsedIntervalMs: 20 });
    const { key, apiKey } = await service.create({ name: 'timed' });
    await service.verify(key);
    const deadline = Date.now() + 5000;
    while ((await store.findById(apiKey.id))?.lastUsedAt === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect((await store.findById(apiKey.id))?.lastUsedAt).not.toBeNull();
  });

  it(
    'with onlyGeneratedKeys, refuses any other key before hashing or storage, ' + 'and checks static keys at startup',
    async () => {
      const strict = setup(new CountingStore(), { onlyGeneratedKeys: true });
      const { key } = await strict.service.create({ name: 'g' });
      const store = strict.repository as CountingStore;
      store.calls = 0;
      strict.hasher.calls = 0;
      expect(await strict.service.verify('random-string-of-some-length')).toEqual({
        valid: false,
        reason: 'malformed',
      });
      expect([store.calls, strict.hasher.calls]).toEqual([0, 0]);
      expect(await strict.service.verify(key)).toMatchObject({ valid: true });
      expect(() =>
        setup(new CountingStore(), {
          onlyGeneratedKeys: true,
          keys: [{ name: 'legacy', key: 'legacy-static-key-0000001' }],
        }),
      ).toThrow('keys[0] ("legacy").key is not a generated "sk_test_" key, and onlyGeneratedKeys is on');
    },
  );

  it(
    'keeps the old secret valid while a rotation is in flight and after a failed one: ' + 'never zero valid secrets',
    async () => {
      const store = ctx.repository as CountingStore;
      const { key: old, apiKey } = await ctx.service.create({ name: 'r' });
      const rotate = store.rotate.bind(store);
      let release!: () => void;
      store.rotate = (...args) => new Promise((resolve) => (release = () => resolve(rotate(...args))));
      const rotation = ctx.service.rotate(apiKey.id, { gracePeriodMs: 0 });
      await new Promise((r) => setImmediate(r));
      expect(await ctx.service.verify(old)).toMatchObject({ valid: true });
      release();
      const { key: fresh } = await rotation;
      expect(await ctx.service.verify(fresh)).toMatchObject({ valid: true });
      store.rotate = () => Promise.reject(new Error('write failed'));
      await expect(ctx.service.rotate(apiKey.id, { gracePeriodMs: 0 })).rejects.toMatchObject({
        code: 'store_failed',
        message: expect.stringContaining('(write failed)'),
      });
      expect(await ctx.service.verify(fresh)).toMatchObject({ valid: true });
      expect(ctx.sink.events.filter((e) => e.type === 'api-key.rotated')).toHaveLength(1);
    },
  );
});
