import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { performance } from 'node:perf_hooks';
import { ApiKeyHasher, ApiKeyModule, ApiKeyService, type ApiKeyRecord } from 'nestjs-api-key';
import { READER, TEST_KEYS } from '../support/keys.js';
import { platforms } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';
import { FaultRepository, type Fault } from '../support/fault-repository.js';
import { FaultStore } from '../support/fault-store.js';
import { LeakRecorder } from '../support/leak-recorder.js';
import { send, type RawResponse } from '../support/raw-http.js';
import { startSecurityApp, type SecurityApp } from '../support/security-app.js';
import { EVERY_SOURCE, sources } from '../support/sources.js';

const leaks = new LeakRecorder();
const hasher = new ApiKeyHasher();
const STORED = 'stored-key-of-valid-shape-00001';
const OTHER = 'stored-key-of-valid-shape-00002';
const record = (key: string, extra: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({
  id: key.slice(-5),
  name: `name-${key.slice(-5)}`,
  hash: hasher.hash(key),
  scopes: [],
  ...extra,
});
const never = () => new Promise(() => undefined);
const UNAVAILABLE = {
  statusCode: 503,
  error: 'Service Unavailable',
  code: 'API_KEY_STORE_UNAVAILABLE',
  message: 'Authentication is temporarily unavailable',
};

describe.each(platforms)('storage faults on $name', (platform) => {
  const repository = new FaultRepository();
  let server: SecurityApp;
  beforeAll(async () => {
    server = await startSecurityApp(
      {
        imports: [ApiKeyModule.forRoot({ keys: TEST_KEYS, repository, sources: EVERY_SOURCE, lookupTimeoutMs: 200 })],
        controllers: [OrdersController],
      },
      platform,
      leaks,
    );
  });
  afterAll(() => server.app.close());
  const whoami = (key: string, source: (typeof sources)[number] = sources[0]) =>
    send(server.port, source.present('/orders/whoami', key));
  const unavailable = (res: RawResponse) => {
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual(UNAVAILABLE);
    expect(res.headers['cache-control']).toBe('no-store');
  };
  const failWith = (fault: Fault | undefined) => {
    repository.reset();
    repository.save(record(STORED));
    repository.save(record(OTHER));
    repository.fault = fault;
  };

  describe.each(sources)('with the key in the $name source', (source) => {
    it('fails closed with a generic 503 when the repository rejects, without the driver’s error text', async () => {
      failWith(() => Promise.reject(new Error('connection refused to db at 10.0.0.1')));
      const res = await whoami(STORED, source);
      unavailable(res);
      expect(res.body).not.toContain('10.0.0.1');
    });

    it('fails closed with 503 when the repository hangs: the wait is bounded by lookupTimeoutMs', async () => {
      failWith(never);
      unavailable(await whoami(STORED, source));
    });
  });

  it.each<[string, Fault]>([
    [
      'throws synchronously',
      () => {
        throw new Error('sync failure');
      },
    ],
    ['rejects with a string', () => Promise.reject('not an error')],
    ['rejects with undefined', () => Promise.reject(undefined)],
    // oxlint-disable-next-line unicorn/no-thenable -- a thenable that never settles is the fault under test
    ['returns a thenable that never settles', () => ({ then: () => undefined })],
    ['returns a record without scopes', (hash) => Promise.resolve({ id: 'x', name: 'x', hash })],
    ['returns a record for another hash', () => Promise.resolve(record(OTHER))],
    ['returns a record whose hash is not a digest', () => Promise.resolve({ ...record(STORED), hash: 'not-a-digest' })],
    ['returns a string', () => Promise.resolve('garbage')],
    ['returns a number', () => Promise.resolve(42)],
    ['returns an array of records', () => Promise.resolve([record(STORED)])],
    ['returns an invalid expiry date', () => Promise.resolve(record(STORED, { expiresAt: new Date('nope') }))],
    [
      'returns dates as strings (a driver without date parsing)',
      () => Promise.resolve({ ...record(STORED), revokedAt: '2020-01-01T00:00:00Z' }),
    ],
    ['returns disabled as a string', () => Promise.resolve({ ...record(STORED), disabled: 'false' })],
    ['returns disabled as 0', () => Promise.resolve({ ...record(STORED), disabled: 0 })],
    ['returns a non-string scope', () => Promise.resolve({ ...record(STORED), scopes: ['orders:read', 7] })],
    ['returns metadata that is not an object', () => Promise.resolve({ ...record(STORED), metadata: 'plan=free' })],
    ['returns an ownerId that is not a string', () => Promise.resolve({ ...record(STORED), ownerId: 12 })],
    [
      'returns a record whose getters throw',
      () =>
        Promise.resolve(
          new Proxy(record(STORED), {
            get: (target, name) =>
              name === 'scopes'
                ? []
                : name === 'metadata'
                  ? {
                      get x() {
                        throw new Error('boom');
                      },
                    }
                  : Reflect.get(target, name),
          }),
        ),
    ],
    [
      'returns a proxy that throws on every read',
      () =>
        Promise.resolve(
          new Proxy(
            {},
            {
              get: () => {
                throw new Error('boom');
              },
            },
          ),
        ),
    ],
  ])('fails closed with 503, never 2xx, 401 or 500, when the repository %s', async (_, fault) => {
    failWith(fault);
    unavailable(await whoami(STORED));
  });

  it('still serves static keys while the repository is down', async () => {
    failWith(() => Promise.reject(new Error('down')));
    expect((await whoami(READER.key)).status).toBe(200);
  });

  it('serves a slow repository that answers within the timeout', async () => {
    failWith(undefined);
    repository.delayMs = 50;
    const res = await whoami(STORED);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).id).toBe('00001');
  });

  it('asks a recovered repository again after a lookup timed out, instead of waiting on the hung one', async () => {
    failWith(never);
    unavailable(await whoami(STORED));
    repository.fault = undefined;
    expect((await whoami(STORED)).status).toBe(200);
  });
});

describe.each(platforms)('pending lookups under a hanging repository on $name', (platform) => {
  const repository = new FaultRepository();
  let server: SecurityApp;
  beforeAll(async () => {
    server = await startSecurityApp(
      { imports: [ApiKeyModule.forRoot({ repository, lookupTimeoutMs: 1000 })], controllers: [OrdersController] },
      platform,
      leaks,
    );
  });
  afterAll(() => server.app.close());

  it('do not pile up: 100 concurrent requests with one key share a repository call, and all fail closed', async () => {
    repository.reset();
    const calledAt: number[] = [];
    repository.fault = () => {
      calledAt.push(performance.now());
      return never();
    };
    const responses = await Promise.all(
      Array.from({ length: 100 }, () =>
        send(server.port, { path: '/orders/whoami', headers: [['X-API-Key', STORED]] }),
      ),
    );
    for (const res of responses) expect(res.status).toBe(503);
    // A hung call is shared until its lookupTimeoutMs (1,000 ms) has passed: only a request that
    // arrives after that starts the next one, so calls start 1,000 ms apart or more (less 1 ms for
    // rounding). Without sharing, every request would add a call at once.
    const gaps = calledAt.slice(1).map((at, i) => at - calledAt[i]!);
    expect(gaps.filter((gap) => gap < 999)).toEqual([]);
  });

  it('end with their timeout for distinct keys too: every request is answered 503', async () => {
    repository.reset();
    repository.fault = never;
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        send(server.port, { path: '/orders/whoami', headers: [['X-API-Key', `distinct-unknown-key-${1000 + i}`]] }),
      ),
    );
    for (const res of responses) expect(res.status).toBe(503);
    expect(repository.calls).toBe(50);
  });
});

describe.each(platforms)('writes that fail in the store on $name', (platform) => {
  const store = new FaultStore();
  let server: SecurityApp;
  let service: ApiKeyService;
  beforeAll(async () => {
    server = await startSecurityApp(
      { imports: [ApiKeyModule.forRoot({ repository: store })], controllers: [OrdersController] },
      platform,
      leaks,
    );
    service = server.app.get(ApiKeyService);
  });
  afterAll(() => server.app.close());
  const status = async (key: string) =>
    (await send(server.port, { path: '/orders/whoami', headers: [['X-API-Key', key]] })).status;
  const storeFailed = (operation: string, id: string) => ({
    code: 'store_failed',
    message: expect.stringContaining(`${operation} of key "${id}" failed in the store (`) as unknown as string,
    cause: expect.any(Error) as unknown as Error,
  });

  it('keeps a key working when its revocation fails before writing, and says the revocation failed', async () => {
    store.reset();
    const { key, apiKey } = await service.create({ name: 'revocation fails' });
    store.fault = { method: 'update', when: 'before' };
    await expect(service.revoke(apiKey.id)).rejects.toMatchObject(storeFailed('revoke', apiKey.id));
    expect(await status(key)).toBe(200);
    await service.revoke(apiKey.id);
    expect(await status(key)).toBe(401);
  });

  it('refuses every request that starts after a revocation whose acknowledgement was lost, even with a lookup in flight', async () => {
    store.reset();
    const { key, apiKey } = await service.create({ name: 'revocation written, then failed' });
    store.lookupDelayMs = 200;
    const lookedUp = store.nextLookup();
    const inFlight = status(key); // reads the unrevoked record, answers 200 ms later
    await lookedUp;
    store.fault = { method: 'update', when: 'after' };
    await expect(service.revoke(apiKey.id)).rejects.toMatchObject(storeFailed('revoke', apiKey.id));
    expect(await status(key)).toBe(401);
    expect(await inFlight).toBe(200);
    expect((await service.get(apiKey.id)).revokedAt).not.toBeNull();
  });

  it.each(['before', 'halfway'] as const)(
    'keeps the previous secret working when a rotation with grace 0 fails %s writing, and says the rotation failed',
    async (when) => {
      store.reset();
      const { key: old, apiKey } = await service.create({ name: `rotation fails ${when}` });
      store.fault = { method: 'rotate', when };
      await expect(service.rotate(apiKey.id, { gracePeriodMs: 0 })).rejects.toMatchObject(
        storeFailed('rotate', apiKey.id),
      );
      expect(await status(old)).toBe(200);
      const retried = await service.rotate(apiKey.id, { gracePeriodMs: 0 });
      expect([await status(old), await status(retried.key)]).toEqual([401, 200]);
    },
  );

  it('applies a rotation whose acknowledgement was lost as requested, and a retry issues a working key', async () => {
    store.reset();
    const { key: old, apiKey } = await service.create({ name: 'rotation written, then failed' });
    store.fault = { method: 'rotate', when: 'after' };
    await expect(service.rotate(apiKey.id, { gracePeriodMs: 60_000 })).rejects.toMatchObject(
      storeFailed('rotate', apiKey.id),
    );
    expect(await status(old)).toBe(200); // within the grace period that was written
    const retried = await service.rotate(apiKey.id, { gracePeriodMs: 60_000 });
    expect([await status(old), await status(retried.key)]).toEqual([200, 200]);
  });
});

leaks.expectNoLeaks();
