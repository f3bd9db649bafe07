import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { performance } from 'node:perf_hooks';
import { ApiKeyAuthenticator, ApiKeyHasher, ApiKeyModule, type ApiKeyRecord } from 'nestjs-api-key';
import { platforms } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';
import { FaultRepository } from './support/fault-repository.js';
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

  it('refuses every request that starts after a revocation resolved, during steady load on the key', async () => {
    repository.reset();
    const { key, record } = KEYS[0]!;
    repository.save(record);
    repository.delayMs = 50; // long lookups: requests after the revocation arrive while older ones are in flight
    const authenticator = server.app.get(ApiKeyAuthenticator);
    // What a revocation does: write the record, then make later requests read it afresh.
    const revoke = async () => {
      repository.save({ ...record, revokedAt: new Date() });
      authenticator.invalidate();
    };
    const outcomes: Array<{ startedAt: number; status: number }> = [];
    let revokedAt = Infinity;
    let stop = false;
    const worker = async () => {
      while (!stop) {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 50)); // keep the workers out of step
        const startedAt = performance.now();
        const res = await send(server.port, { path: '/orders/whoami', headers: [['X-API-Key', key]] });
        outcomes.push({ startedAt, status: res.status });
      }
    };
    const workers = Array.from({ length: 32 }, worker);
    await new Promise((resolve) => setTimeout(resolve, 150));
    // Revoke just after a lookup has read the record, so one is in flight (for delayMs) afterwards.
    const findByHash = repository.findByHash.bind(repository);
    await new Promise<void>((resolve) => {
      repository.findByHash = (hash) => {
        repository.findByHash = findByHash;
        const pending = findByHash(hash);
        resolve();
        return pending;
      };
    });
    await revoke();
    revokedAt = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 150));
    stop = true;
    await Promise.all(workers);
    const before = outcomes.filter((o) => o.startedAt < revokedAt);
    const after = outcomes.filter((o) => o.startedAt > revokedAt);
    expect(before.some((o) => o.status === 200)).toBe(true);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((o) => o.status !== 401)).toEqual([]);
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

leaks.expectNoLeaks();
