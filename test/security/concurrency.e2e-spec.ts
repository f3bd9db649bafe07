import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { performance } from 'node:perf_hooks';
import { ApiKeyClock, ApiKeyHasher, ApiKeyModule, ApiKeyService, type ApiKeyRecord } from 'nestjs-api-key';
import { ApiKeyRateLimitModule } from 'nestjs-api-key/rate-limit';
import { ManualClock } from '../support/clock.js';
import { FREE, RateLimitedController, RL_KEYS } from '../rate-limit/support.js';
import { platforms } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';
import { FaultRepository } from './support/fault-repository.js';
import { FaultStore } from './support/fault-store.js';
import { LeakRecorder } from './support/leak-recorder.js';
import { send } from './support/raw-http.js';
import { startSecurityApp, type SecurityApp } from './support/security-app.js';
import { EVERY_SOURCE, sources } from './support/sources.js';

const leaks = new LeakRecorder();
const hasher = new ApiKeyHasher();
const KEYS = Array.from({ length: 10 }, (_, i) => ({
  key: `concurrent-key-${i}-of-valid-shape-${String(i).repeat(8)}`,
  record: { id: `ck-${i}`, name: `key ${i}`, hash: '', scopes: [`tenant-${i}:read`], ownerId: `owner-${i}`, metadata: { tenant: i } } as ApiKeyRecord,
})).map(({ key, record }) => ({ key, record: { ...record, hash: hasher.hash(key) } }));

describe.each(platforms)('concurrency and load on $name', (platform) => {
  const repository = new FaultRepository();
  let server: SecurityApp;
  beforeAll(async () => {
    server = await startSecurityApp({ imports: [ApiKeyModule.forRoot({ repository, sources: EVERY_SOURCE })], controllers: [OrdersController] }, platform, leaks);
  });
  afterAll(() => server.app.close());
  const whoami = (index: number) => send(server.port, sources[index % sources.length]!.present('/orders/whoami', KEYS[index % KEYS.length]!.key));

  it('gives every one of 1,000 concurrent requests over 10 keys (and every source) its own key’s principal', async () => {
    repository.reset();
    for (const { record } of KEYS) repository.save(record);
    repository.delayMs = 2;
    const responses = await Promise.all(Array.from({ length: 1000 }, (_, i) => whoami(i)));
    responses.forEach((res, i) => {
      const { record } = KEYS[i % KEYS.length]!;
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ id: record.id, name: record.name, scopes: record.scopes, ownerId: record.ownerId, metadata: record.metadata });
    });
  });

  it('coalesces many concurrent lookups of one unknown key: never two repository calls for it at once', async () => {
    repository.reset();
    repository.delayMs = 100;
    const responses = await Promise.all(
      Array.from({ length: 300 }, () => send(server.port, { path: '/orders/whoami', headers: [['X-API-Key', 'unknown-key-of-valid-shape-0099']] })),
    );
    for (const res of responses) expect(res.status).toBe(401);
    expect(repository.maxPending).toBe(1);
    expect(repository.calls).toBeLessThan(30);
  });
});

describe.each(platforms)('writes through ApiKeyService under load on $name', (platform) => {
  const store = new FaultStore();
  const clock = new ManualClock();
  let server: SecurityApp;
  let service: ApiKeyService;
  beforeAll(async () => {
    server = await startSecurityApp({ imports: [ApiKeyModule.forRoot({ repository: store })], controllers: [OrdersController] }, platform, leaks, (builder) =>
      builder.overrideProvider(ApiKeyClock).useValue(clock),
    );
    service = server.app.get(ApiKeyService);
  });
  afterAll(() => server.app.close());
  const status = async (key: string) => (await send(server.port, { path: '/orders/whoami', headers: [['X-API-Key', key]] })).status;

  /** Runs 32 workers, out of step, each sending `keys()` in turn until `stop()`; records when each request started. */
  function load(keys: () => readonly string[]) {
    const outcomes: Array<{ key: string; startedAt: number; status: number }> = [];
    let running = true;
    const worker = async (n: number) => {
      for (let i = n; running; i++) {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 30));
        const choice = keys();
        const key = choice[i % choice.length]!;
        const startedAt = performance.now();
        outcomes.push({ key, startedAt, status: await status(key) });
      }
    };
    const workers = Array.from({ length: 32 }, (_, n) => worker(n));
    return {
      outcomes,
      stop: async () => {
        running = false;
        await Promise.all(workers);
      },
    };
  }
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('refuses every request that starts after ApiKeyService.revoke() resolved, during steady load on the key', async () => {
    store.reset();
    const { key, apiKey } = await service.create({ name: 'revoked under load' });
    store.lookupDelayMs = 50; // long lookups: requests after the revocation arrive while older ones are in flight
    const run = load(() => [key]);
    await sleep(150);
    // Revoke just after a lookup has read the record, and keep that one in flight for 300 ms.
    const findByHash = store.findByHash.bind(store);
    await new Promise<void>((resolve) => {
      store.findByHash = async (hash) => {
        store.findByHash = findByHash;
        const record = await store.inner.findByHash(hash);
        resolve();
        await sleep(300);
        return record;
      };
    });
    await service.revoke(apiKey.id);
    const revokedAt = performance.now();
    // A few at once too, certain to start while that lookup is still pending.
    await Promise.all(Array.from({ length: 8 }, async () => run.outcomes.push({ key, startedAt: performance.now(), status: await status(key) })));
    await sleep(100);
    await run.stop();
    const before = run.outcomes.filter((o) => o.startedAt < revokedAt);
    const after = run.outcomes.filter((o) => o.startedAt > revokedAt);
    expect(before.some((o) => o.status === 200)).toBe(true);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((o) => o.status !== 401)).toEqual([]);
  });

  it('never leaves a moment without a valid key while rotating under load, with slow lookups and a slow write', async () => {
    store.reset();
    const { key: old, apiKey } = await service.create({ name: 'rotated under load' });
    store.lookupDelayMs = 10;
    store.writeDelayMs = 50;
    let fresh: string | undefined;
    const run = load(() => (fresh ? [old, fresh] : [old]));
    await sleep(100);
    const rotatedAt = performance.now();
    const rotation = service.rotate(apiKey.id, { gracePeriod: 60_000 });
    fresh = (await rotation).key;
    await sleep(100);
    await run.stop();
    expect(run.outcomes.filter((o) => o.key === old && o.startedAt > rotatedAt).length).toBeGreaterThan(0);
    expect(run.outcomes.filter((o) => o.key === fresh).length).toBeGreaterThan(0);
    expect(run.outcomes.filter((o) => o.status !== 200)).toEqual([]);
    store.reset();
    clock.advance(60_000); // the end of the grace period
    expect([await status(old), await status(fresh)]).toEqual([401, 200]);
  });
});

describe.each(platforms)('rate limits on $name: a request refused by one limit is charged to no other', (platform) => {
  let server: SecurityApp;
  beforeAll(async () => {
    server = await startSecurityApp(
      {
        imports: [
          ApiKeyModule.forRoot({ keys: RL_KEYS, isGlobal: true }),
          ApiKeyRateLimitModule.forRoot({
            limit: { points: 100, duration: 60 },
            plans: { metered: { limit: { points: 2, duration: 60 }, quota: { points: 10, period: 'day' } } },
            planOf: () => 'metered',
            perAddress: { points: 3, duration: 60 },
            clock: () => new Date('2026-06-15T12:00:00.000Z'), // the quota's day never ends mid-test
          }),
        ],
        controllers: [RateLimitedController],
      },
      platform,
      leaks,
    );
  });
  afterAll(() => server.app.close());
  const get = (path: string) => send(server.port, { path, headers: [['X-API-Key', FREE.key]] });

  it('charges no quota and no failed-authentication budget for a 429 from the key’s rate limit or a 403', async () => {
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await get('/rl')).status);
    for (let i = 0; i < 3; i++) statuses.push((await get('/rl/scoped')).status);
    expect(statuses).toEqual([200, 200, 429, 429, 429, 403, 403, 403]);
    const refused = await get('/rl');
    expect([refused.status, JSON.parse(refused.body).policy, Number(refused.headers['retry-after']) >= 1]).toEqual([429, 'metered', true]);
    // A route with its own limit still admits the key (the address was not blocked by 6 refusals),
    // and the quota counts only the 2 admitted requests before this one.
    const admitted = await get('/rl/override');
    expect(admitted.status).toBe(200);
    expect(admitted.headers['ratelimit']).toMatch(/^"override";r=1;t=\d+, "metered-quota";r=7;t=\d+$/);
  });
});

leaks.expectNoLeaks();
