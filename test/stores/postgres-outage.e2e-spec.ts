import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import pg from 'pg';
import request from 'supertest';
import { ApiKeyModule, ApiKeyService, type IssuedApiKey } from 'nestjs-api-key';
import { createPostgresApiKeyStore, PostgresApiKeyStore } from 'nestjs-api-key/postgres';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../support/databases.js';
import { platforms, startApp } from '../support/platforms.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { OrdersController } from '../support/test-controllers.js';

const PEPPER = 'stores-outage-pepper-0123456789';
/** The promise under test: a revocation on one instance is refused by every other within this. */
const BOUND_MS = 1000;
/**
 * Outages the first test goes through, each measured; `OUTAGE_RUNS=10` prints the figures
 * (time from the revocation resolving to the first 401 on the instance that lost its link).
 */
const RUNS = Number(process.env.OUTAGE_RUNS ?? 1);
/**
 * Connections the listener has tried and been refused before the link is restored: its waits
 * are 100, 200, 400, 800, 1600 ms, so after the fifth it waits 3.2 s more.
 */
const REFUSED_ATTEMPTS = 5;

describe('an instance that lost its link to PostgreSQL, beside one that did not (each with a cache)', () => {
  const schema = uniqueSchema();
  const names = { underTest: `${schema}_cut`, other: `${schema}_other` };
  let proxy: TcpProxy;
  let underTest: INestApplication;
  let storeUnderTest: PostgresApiKeyStore;
  let other: INestApplication;
  let admin: pg.Client;
  /** Keys for the tests, created before the instance under test listens (see beforeAll). */
  let keys: IssuedApiKey[];

  const instance = (repository: PostgresApiKeyStore, platform: (typeof platforms)[number]) =>
    startApp(
      {
        imports: [
          ApiKeyModule.forRoot({
            repository,
            pepper: PEPPER,
            cache: true,
            // Short, so that a lookup over a stalled link gives up soon (see servedFromMemory).
            lookupTimeoutMs: 1000,
          }),
        ],
        controllers: [OrdersController],
      },
      platform,
    );

  beforeAll(async () => {
    await (await createPostgresApiKeyStore({ connection: POSTGRES_URL, schema, migrate: true })).close();
    const url = new URL(POSTGRES_URL);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    const proxied = Object.assign(new URL(POSTGRES_URL), { hostname: '127.0.0.1', port: String(proxy.port) }).href;
    const store = (connectionString: string, applicationName: string) =>
      new PostgresApiKeyStore({ connection: { connectionString, application_name: applicationName }, schema });
    other = await instance(store(POSTGRES_URL, names.other), platforms[1]);
    // Created before the instance under test listens: it never hears of them, so no notice of
    // their creation can arrive late and drop one from its cache in the middle of a test.
    const service = other.get(ApiKeyService);
    keys = [];
    for (let i = 0; i < RUNS + 2; i++) {
      keys.push(await service.create({ name: `outage-${i}`, scopes: ['orders:read'] }));
    }
    storeUnderTest = store(proxied, names.underTest);
    underTest = await instance(storeUnderTest, platforms[0]);
    admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    for (const name of Object.values(names)) {
      await until(async () => (await listeners(name)).length === 1, `instance ${name} to listen`);
    }
  });
  afterAll(async () => {
    await Promise.all([underTest?.close(), other?.close()]);
    await proxy?.close();
    await admin?.end();
    await dropSchema(schema);
  });

  const status = async (app: INestApplication, key: string) =>
    (await request(app.getHttpServer()).get('/orders').set('X-API-Key', key)).status;

  /**
   * Makes the instance under test serve `key` until it has it in memory: with the link stalled,
   * only its cache can answer 200 (a lookup begun just before the listener announced itself
   * is not kept, hence the retries).
   */
  const servedFromMemory = (key: string) =>
    until(async () => {
      expect(await status(underTest, key)).toBe(200);
      proxy.stall();
      try {
        return (await status(underTest, key)) === 200;
      } finally {
        proxy.restore();
      }
    }, 'the instance under test to serve the key from memory');

  /** A key no test used yet. */
  const unusedKey = () => keys.shift()!;

  /**
   * Revokes `id` through the other instance, then polls the instance under test until it refuses
   * `key`; resolves to the time that took from the revocation resolving, fails past the bound.
   */
  async function revokeAndTimeRefusal(id: string, key: string): Promise<number> {
    await other.get(ApiKeyService).revoke(id);
    const revoked = performance.now();
    let last = 0;
    while (performance.now() - revoked < BOUND_MS) {
      last = await status(underTest, key);
      if (last === 401) return performance.now() - revoked;
      await sleep(10);
    }
    throw new Error(`the instance under test still answered ${last} ${BOUND_MS} ms after the revocation resolved`);
  }

  /** Backend pids of an instance's LISTEN connection, once the LISTEN is done. */
  async function listeners(applicationName: string): Promise<number[]> {
    const { rows } = await admin.query(
      `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %' AND state = 'idle'`,
      [applicationName],
    );
    return rows.map((row) => row.pid as number);
  }

  /** Waits until the instance under test listens on a connection other than `previous`. */
  const listeningAgain = (previous: number[], timeoutMs?: number) =>
    until(
      async () => {
        const pids = await listeners(names.underTest);
        return pids.length === 1 && !previous.includes(pids[0]!);
      },
      'the instance under test to listen again',
      timeoutMs,
    );

  /** Cuts the link until the listener is deep in its backoff, then restores it. */
  async function outage(): Promise<void> {
    const refusedBefore = proxy.refused;
    proxy.cut();
    await until(async () => proxy.refused >= refusedBefore + REFUSED_ATTEMPTS, 'the listener to back off', 10_000);
    proxy.restore();
  }

  it(
    'refuses a key revoked right after the outage within 1 second, while its listener still backs off',
    async () => {
      const times: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const { key, apiKey } = unusedKey();
        await servedFromMemory(key);
        const before = await listeners(names.underTest);
        await outage();
        expect(await status(underTest, key)).toBe(200); // the pool is back: the key is served (and may be cached)
        times.push(await revokeAndTimeRefusal(apiKey.id, key));
        await listeningAgain(before);
      }
      const figures = times.map((ms) => ms.toFixed(1)).join(', ');
      if (RUNS > 1) console.info(`time to refuse after an outage over ${RUNS} runs (ms): ${figures}`);
    },
    30_000 + RUNS * 15_000,
  );

  it('listens again as soon as the database answers a query, without waiting out its backoff', async () => {
    const { key } = unusedKey();
    await servedFromMemory(key);
    const before = await listeners(names.underTest);
    await outage();
    expect(await status(underTest, key)).toBe(200);
    // Its backoff would make it try again 3.2 s after its last attempt: well after this deadline.
    await listeningAgain(before, 2000);
  });

  it('refuses a revoked key within 1 second while its listener cannot reconnect but its pool answers', async () => {
    const { key, apiKey } = unusedKey();
    await servedFromMemory(key);
    const before = await listeners(names.underTest);

    const refusedBefore = proxy.refused;
    proxy.refuse(); // open connections (the pool's) keep working; new ones (the listener's) are refused
    await admin.query('SELECT pg_terminate_backend($1)', [before[0]]);
    await until(async () => proxy.refused > refusedBefore, 'the listener to fail to reconnect');

    await revokeAndTimeRefusal(apiKey.id, key);
    proxy.restore();
    await listeningAgain(before);
  });

  it('says whether it listens and whether the database answers, from the real link', async () => {
    const before = await listeners(names.underTest);
    expect(storeUnderTest.isListening()).toBe(true);
    await expect(storeUnderTest.checkHealth()).resolves.toBeUndefined();

    proxy.cut();
    await until(async () => !storeUnderTest.isListening(), 'the listener to notice the cut');
    await expect(storeUnderTest.checkHealth()).rejects.toThrow(/^PostgreSQL did not answer a health check: ./);
    proxy.restore();
    await until(async () => storeUnderTest.isListening(), 'the listener to listen again', 10_000);
    await expect(storeUnderTest.checkHealth()).resolves.toBeUndefined();
    await listeningAgain(before);

    proxy.stall();
    const stalled = 'PostgreSQL did not answer a health check: no answer in 2000 ms';
    await expect(storeUnderTest.checkHealth()).rejects.toThrow(stalled);
    proxy.restore();
    await expect(storeUnderTest.checkHealth()).resolves.toBeUndefined();
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
