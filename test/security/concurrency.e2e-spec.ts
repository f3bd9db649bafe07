import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { performance } from 'node:perf_hooks';
import {
  ApiKeyClock,
  ApiKeyGuard,
  ApiKeyHasher,
  ApiKeyModule,
  ApiKeyService,
  type ApiKeyRecord,
  type PresentedApiKey,
} from 'nestjs-api-key';
import { ApiKeyRateLimitModule } from 'nestjs-api-key/rate-limit';
import { ManualClock } from '../support/clock.js';
import { FREE, RateLimitedController, RL_KEYS } from '../rate-limit/support.js';
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
const KEYS = Array.from({ length: 10 }, (_, i) => ({
  key: `concurrent-key-${i}-of-valid-shape-${String(i).repeat(8)}`,
  record: {
    id: `ck-${i}`,
    name: `key ${i}`,
    hash: '',
    scopes: [`tenant-${i}:read`],
    ownerId: `owner-${i}`,
    metadata: { tenant: i },
  } as ApiKeyRecord,
})).map(({ key, record }) => ({ key, record: { ...record, hash: hasher.hash(key) } }));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `condition()` holds, checking every 10 ms (the test's timeout bounds the wait). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(10);
}

/** Counts the requests whose key's verification has started, and wakes a waiter at a target. */
class VerificationCounter {
  private started = 0;
  private waiter: { count: number; resolve: () => void } | undefined;

  /** Resolves once `count` more verifications have started. */
  next(count: number): Promise<void> {
    this.started = 0;
    return new Promise((resolve) => (this.waiter = { count, resolve }));
  }

  add(): void {
    if (++this.started === this.waiter?.count) this.waiter.resolve();
  }
}
const verifications = new VerificationCounter();

/**
 * The library's guard, counting each request once its key's verification has started (the
 * authenticator joins or starts the repository lookup before `authenticate` returns).
 */
class CountingGuard extends ApiKeyGuard {
  protected override authenticate(presented: PresentedApiKey) {
    try {
      return super.authenticate(presented);
    } finally {
      verifications.add();
    }
  }
}

describe.each(platforms)('concurrency and load on $name', (platform) => {
  const repository = new FaultRepository();
  let server: SecurityApp;
  beforeAll(async () => {
    // A lookup below waits for a whole burst to arrive: the timeout is the test's, not the library's.
    const options = { repository, sources: EVERY_SOURCE, lookupTimeoutMs: 30_000 };
    server = await startSecurityApp(
      { imports: [ApiKeyModule.forRoot(options)], controllers: [OrdersController] },
      platform,
      leaks,
      (builder) => builder.overrideGuard(ApiKeyGuard).useClass(CountingGuard),
    );
  });
  afterAll(() => server.app.close());
  const whoami = (index: number) =>
    send(server.port, sources[index % sources.length]!.present('/orders/whoami', KEYS[index % KEYS.length]!.key));

  it('gives every one of 1,000 concurrent requests over 10 keys (and every source) its own key’s principal', async () => {
    repository.reset();
    for (const { record } of KEYS) repository.save(record);
    repository.delayMs = 2;
    const responses = await Promise.all(Array.from({ length: 1000 }, (_, i) => whoami(i)));
    responses.forEach((res, i) => {
      const { record } = KEYS[i % KEYS.length]!;
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({
        id: record.id,
        name: record.name,
        scopes: record.scopes,
        ownerId: record.ownerId,
        metadata: record.metadata,
      });
    });
  });

  it('coalesces lookups of one unknown key: 300 requests waiting at once share one repository call', async () => {
    repository.reset();
    // The lookup answers once all 300 verifications have started: they overlap however slowly the requests arrive.
    const allStarted = verifications.next(300);
    repository.fault = () => allStarted.then(() => null);
    const responses = await Promise.all(
      Array.from({ length: 300 }, () =>
        send(server.port, { path: '/orders/whoami', headers: [['X-API-Key', 'unknown-key-of-valid-shape-0099']] }),
      ),
    );
    for (const res of responses) expect(res.status).toBe(401);
    expect(repository.calls).toBe(1);
  });
});

describe.each(platforms)('writes through ApiKeyService under load on $name', (platform) => {
  const store = new FaultStore();
  const clock = new ManualClock();
  let server: SecurityApp;
  let service: ApiKeyService;
  beforeAll(async () => {
    server = await startSecurityApp(
      { imports: [ApiKeyModule.forRoot({ repository: store })], controllers: [OrdersController] },
      platform,
      leaks,
      (builder) => builder.overrideProvider(ApiKeyClock).useValue(clock),
    );
    service = server.app.get(ApiKeyService);
  });
  afterAll(() => server.app.close());
  const status = async (key: string) =>
    (await send(server.port, { path: '/orders/whoami', headers: [['X-API-Key', key]] })).status;

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

  it('refuses every request that starts after ApiKeyService.revoke() resolved, during steady load on the key', async () => {
    store.reset();
    const { key, apiKey } = await service.create({ name: 'revoked under load' });
    store.lookupDelayMs = 50; // long lookups: requests after the revocation arrive while older ones are in flight
    const run = load(() => [key]);
    await sleep(150);
    // Revoke just after a lookup has read the record, and keep that one in flight until released.
    const findByHash = store.findByHash.bind(store);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await new Promise<void>((resolve) => {
      store.findByHash = async (hash) => {
        store.findByHash = findByHash;
        const record = await store.inner.findByHash(hash);
        resolve();
        await released;
        return record;
      };
    });
    await service.revoke(apiKey.id);
    const revokedAt = performance.now();
    // A few at once too, answered while that lookup is still pending. Had they shared it, they
    // would wait for it: it is released after 5 s then, so they fail the test rather than hang.
    const request = async () => run.outcomes.push({ key, startedAt: performance.now(), status: await status(key) });
    const burst = Promise.all(Array.from({ length: 8 }, request));
    let fallback: NodeJS.Timeout | undefined;
    await Promise.race([burst, new Promise((resolve) => (fallback = setTimeout(resolve, 5_000)))]);
    clearTimeout(fallback);
    release();
    await burst;
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
    const rotation = service.rotate(apiKey.id, { gracePeriodMs: 60_000 });
    fresh = (await rotation).key;
    const oldAfterRotation = (o: (typeof run.outcomes)[number]) => o.key === old && o.startedAt > rotatedAt;
    await until(() => run.outcomes.some((o) => o.key === fresh) && run.outcomes.some(oldAfterRotation));
    await run.stop();
    expect(run.outcomes.filter(oldAfterRotation).length).toBeGreaterThan(0);
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
            limit: { points: 100, durationMs: 60_000 },
            plans: { metered: { limit: { points: 2, durationMs: 60_000 }, quota: { points: 10, period: 'day' } } },
            planOf: () => 'metered',
            perAddress: { points: 3, durationMs: 60_000 },
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
    expect([refused.status, JSON.parse(refused.body).policy, Number(refused.headers['retry-after']) >= 1]).toEqual([
      429,
      'metered',
      true,
    ]);
    // A route with its own limit still admits the key (the address was not blocked by 6 refusals),
    // and the quota counts only the 2 admitted requests before this one.
    const admitted = await get('/rl/override');
    expect(admitted.status).toBe(200);
    expect(admitted.headers['ratelimit']).toMatch(/^"override";r=1;t=\d+, "metered-quota";r=7;t=\d+$/);
  });
});

leaks.expectNoLeaks();
