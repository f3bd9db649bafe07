import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ApiKeyAuthenticator,
  ApiKeyClock,
  ApiKeyFormat,
  ApiKeyHasher,
  ApiKeyModule,
  ApiKeyService,
  ResolvedApiKeyOptions,
  type ApiKeyRecord,
} from 'nestjs-api-key';
import { ManualClock } from '../support/clock.js';
import { platforms } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';
import { FaultRepository } from '../support/fault-repository.js';
import { FaultStore } from '../support/fault-store.js';
import { LeakRecorder } from '../support/leak-recorder.js';
import { send } from '../support/raw-http.js';
import { startSecurityApp, type SecurityApp } from '../support/security-app.js';
import { EVERY_SOURCE, sources } from '../support/sources.js';

const leaks = new LeakRecorder();
const hasher = new ApiKeyHasher();
const KEY = 'lifecycle-key-of-valid-shape-01';
const HOUR = 3_600_000;
const base: ApiKeyRecord = { id: 'lc-1', name: 'lifecycle', hash: hasher.hash(KEY), scopes: [] };

describe.each(platforms)('key lifecycle from repository records on $name', (platform) => {
  const repository = new FaultRepository();
  let server: SecurityApp;
  beforeAll(async () => {
    server = await startSecurityApp(
      { imports: [ApiKeyModule.forRoot({ repository, sources: EVERY_SOURCE })], controllers: [OrdersController] },
      platform,
      leaks,
    );
  });
  afterAll(() => server.app.close());
  const statusWith = async (record: Partial<ApiKeyRecord>, source: (typeof sources)[number] = sources[0]) => {
    repository.save({ ...base, ...record });
    return (await send(server.port, source.present('/orders/whoami', KEY))).status;
  };

  describe.each(sources)('with the key in the $name source', (source) => {
    it.each<[string, () => Partial<ApiKeyRecord>, number]>([
      ['active', () => ({}), 200],
      ['expired', () => ({ expiresAt: new Date(Date.now() - HOUR) }), 401],
      ['expiring later', () => ({ expiresAt: new Date(Date.now() + HOUR) }), 200],
      ['revoked', () => ({ revokedAt: new Date(Date.now() - HOUR) }), 401],
      [
        'revoked, with disabled explicitly false',
        () => ({ revokedAt: new Date(Date.now() - HOUR), disabled: false }),
        401,
      ],
      ['scheduled for revocation later', () => ({ revokedAt: new Date(Date.now() + HOUR) }), 200],
      ['disabled', () => ({ disabled: true }), 401],
      [
        'with its secret past its own expiry (a rotated-out secret)',
        () => ({ secretExpiresAt: new Date(Date.now() - HOUR) }),
        401,
      ],
      ['with its secret in its grace period', () => ({ secretExpiresAt: new Date(Date.now() + HOUR) }), 200],
    ])('answers a key that is %s with %i', async (_, state, expected) => {
      expect(await statusWith(state(), source)).toBe(expected);
    });
  });

  it('takes a disable, a re-enable and a revocation into account on the very next request', async () => {
    expect(await statusWith({})).toBe(200);
    expect(await statusWith({ disabled: true })).toBe(401);
    expect(await statusWith({ disabled: false })).toBe(200);
    expect(await statusWith({ revokedAt: new Date() })).toBe(401);
  });
});

describe('key lifecycle at exact instants (fixed time through ApiKeyAuthenticator.verify)', () => {
  const repository = new FaultRepository();
  const authenticator = new ApiKeyAuthenticator(new ResolvedApiKeyOptions({ repository }), hasher, repository);
  const NOW = new Date('2030-01-01T00:00:00.000Z');
  const before = new Date(NOW.getTime() - 1);
  const verifyAt = (record: Partial<ApiKeyRecord>, at: Date) => {
    repository.save({ ...base, ...record });
    return authenticator.verify(KEY, at);
  };

  it.each([
    ['expiresAt', 'expired'],
    ['revokedAt', 'revoked'],
    ['secretExpiresAt', 'revoked'],
  ] as const)('refuses a key from its %s exactly (inclusive), and accepts it 1 ms before', async (field, reason) => {
    await expect(verifyAt({ [field]: NOW }, NOW)).resolves.toEqual({ valid: false, reason, keyId: 'lc-1' });
    await expect(verifyAt({ [field]: NOW }, before)).resolves.toMatchObject({ valid: true, principal: { id: 'lc-1' } });
  });

  it('names the reason for logs (disabled, revoked before disabled) while the HTTP answer stays the same', async () => {
    await expect(verifyAt({ disabled: true }, NOW)).resolves.toEqual({
      valid: false,
      reason: 'disabled',
      keyId: 'lc-1',
    });
    await expect(verifyAt({ disabled: true, revokedAt: before }, NOW)).resolves.toEqual({
      valid: false,
      reason: 'revoked',
      keyId: 'lc-1',
    });
  });
});

describe.each(platforms)('generated keys and rotations through ApiKeyService on $name', (platform) => {
  const store = new FaultStore();
  const clock = new ManualClock();
  let server: SecurityApp;
  let service: ApiKeyService;
  beforeAll(async () => {
    server = await startSecurityApp(
      {
        imports: [
          ApiKeyModule.forRoot({
            repository: store,
            sources: EVERY_SOURCE,
            keyPrefix: 'acme_live',
            onlyGeneratedKeys: true,
          }),
        ],
        controllers: [OrdersController],
      },
      platform,
      leaks,
      (builder) => builder.overrideProvider(ApiKeyClock).useValue(clock),
    );
    service = server.app.get(ApiKeyService);
  });
  afterAll(() => server.app.close());

  describe.each(sources)('with the key in the $name source', (source) => {
    it('round-trips prefix, id and checksum; refuses a bad checksum, another prefix or a truncated key with the identical 401 and no storage call', async () => {
      const { key, apiKey } = await service.create({ name: 'generated' });
      expect(new ApiKeyFormat('acme_live').parse(key)).toBe(apiKey.id);
      const ok = await send(server.port, source.present('/orders/whoami', key));
      expect([ok.status, JSON.parse(ok.body).id]).toEqual([200, apiKey.id]);
      store.reset();
      const unknown = await send(
        server.port,
        source.present('/orders/whoami', new ApiKeyFormat('acme_live').generate().key),
      );
      expect([unknown.status, store.calls]).toEqual([401, 1]); // right shape and checksum: looked up, not found
      const last = key.at(-1) === 'a' ? 'b' : 'a';
      for (const value of [
        `${key.slice(0, -1)}${last}`,
        key.replace(/^acme_live_/, 'acme_test_'),
        key.slice(0, -1),
        key.slice(0, -6),
        `${key}0`,
      ]) {
        store.reset();
        const res = await send(server.port, source.present('/orders/whoami', value));
        expect([res.head, res.body]).toEqual([unknown.head, unknown.body]);
        expect(store.calls).toBe(0);
      }
    });
  });

  it('lets exactly one of two concurrent rotations win: its key works at once, the previous key until its grace ends', async () => {
    store.reset();
    const { key: old, apiKey } = await service.create({ name: 'raced' });
    store.writeDelayMs = 20; // both rotations read the same version before either writes
    const results = await Promise.allSettled([
      service.rotate(apiKey.id, { gracePeriodMs: 1_000 }),
      service.rotate(apiKey.id, { gracePeriodMs: 1_000 }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect([won.length, lost.length]).toEqual([1, 1]);
    expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'conflict' });
    const winner = (won[0] as PromiseFulfilledResult<{ key: string }>).value.key;
    expect((await service.get(apiKey.id)).version).toBe(apiKey.version + 1);
    const status = async (key: string) =>
      (await send(server.port, { path: '/orders/whoami', headers: [['X-API-Key', key]] })).status;
    expect([await status(winner), await status(old)]).toEqual([200, 200]);
    clock.advance(1_000);
    expect([await status(winner), await status(old)]).toEqual([200, 401]);
  });
});

leaks.expectNoLeaks();
