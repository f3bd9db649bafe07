import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import pg from 'pg';
import request from 'supertest';
import { ApiKeyModule } from 'nestjs-api-key';
import { createPostgresApiKeyStore, PostgresApiKeyStore } from 'nestjs-api-key/postgres';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../support/databases.js';
import { platforms, startApp } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';
import { newPlaintext, seedKey, storeOf } from './seed.js';

const PEPPER = 'stores-instances-pepper-0123456789';
const BOUND_MS = 1000;

describe('two app instances (Express and Fastify) sharing one PostgreSQL database, each with a cache', () => {
  const schema = uniqueSchema();
  const names = { a: `${schema}_a`, b: `${schema}_b` };
  let a: INestApplication;
  let b: INestApplication;
  let admin: pg.Client;

  const instance = (applicationName: string, platform: (typeof platforms)[number]) =>
    startApp(
      {
        imports: [
          ApiKeyModule.forRoot({
            repository: new PostgresApiKeyStore({
              connection: { connectionString: POSTGRES_URL, application_name: applicationName },
              schema,
            }),
            pepper: PEPPER,
            // A TTL far beyond the bound: only change notifications can make the other instance see a change in time.
            cache: { ttlMs: 600_000 },
          }),
        ],
        controllers: [OrdersController],
      },
      platform,
    );

  beforeAll(async () => {
    await (await createPostgresApiKeyStore({ connection: POSTGRES_URL, schema, migrate: true })).close();
    [a, b] = await Promise.all([instance(names.a, platforms[0]), instance(names.b, platforms[1])]);
    admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    // Both instances are running once they listen for changes (the bound applies from then on).
    for (const name of Object.values(names))
      await until(async () => (await listeners(name)).length === 1, `instance ${name} to listen`);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await admin?.end();
    await dropSchema(schema);
  });

  const status = async (app: INestApplication, key: string) =>
    (await request(app.getHttpServer()).get('/orders').set('X-API-Key', key)).status;

  /** Polls until `app` refuses `key`; fails if that takes longer than the bound. */
  async function refusedWithinBound(app: INestApplication, key: string): Promise<void> {
    const deadline = Date.now() + BOUND_MS;
    let last = 0;
    while (Date.now() < deadline) {
      last = await status(app, key);
      if (last === 401) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`still answered ${last} after ${BOUND_MS} ms`);
  }

  /** Backend pids of an instance's LISTEN connection. */
  async function listeners(applicationName: string): Promise<number[]> {
    const { rows } = await admin.query(
      `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %'`,
      [applicationName],
    );
    return rows.map((row) => row.pid as number);
  }

  async function until(check: () => Promise<boolean>, what: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  it('a revocation on one instance is refused on the other within 1 second', async () => {
    const plaintext = newPlaintext('shared');
    const key = await seedKey(a, plaintext);
    expect([await status(a, plaintext), await status(b, plaintext), await status(b, plaintext)]).toEqual([
      200, 200, 200,
    ]);
    await storeOf(a).update(key.id, 1, { revokedAt: new Date(), updatedAt: new Date() });
    expect(await status(a, plaintext)).toBe(401);
    await refusedWithinBound(b, plaintext);
  });

  it('a scope change on one instance applies on the other within 1 second', async () => {
    const plaintext = newPlaintext('scopes');
    const key = await seedKey(b, plaintext);
    expect(await status(a, plaintext)).toBe(200);
    await storeOf(b).update(key.id, 1, { scopes: ['reports:read'], updatedAt: new Date() });
    const deadline = Date.now() + BOUND_MS;
    while ((await status(a, plaintext)) !== 403) {
      if (Date.now() > deadline) throw new Error('scope change not applied within the bound');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });

  it('after its listening connection is killed, an instance reconnects: missed and later changes are refused within 1 second', async () => {
    await until(async () => (await listeners(names.b)).length === 1, 'instance B to listen');
    const [missed, later] = [newPlaintext('missed'), newPlaintext('later')];
    const missedKey = await seedKey(a, missed);
    const laterKey = await seedKey(a, later);
    expect([await status(b, missed), await status(b, later)]).toEqual([200, 200]);

    const [killed] = await listeners(names.b);
    await admin.query('SELECT pg_terminate_backend($1)', [killed]);
    await storeOf(a).update(missedKey.id, 1, { revokedAt: new Date(), updatedAt: new Date() });
    await refusedWithinBound(b, missed);

    await until(async () => {
      const pids = await listeners(names.b);
      return pids.length === 1 && pids[0] !== killed;
    }, 'instance B to listen again');
    expect(await status(b, later)).toBe(200);
    await storeOf(a).update(laterKey.id, 1, { disabled: true, updatedAt: new Date() });
    await refusedWithinBound(b, later);
  });
});

describe('two stores writing last-used times for the same keys at once (PostgreSQL)', () => {
  const schema = uniqueSchema();
  let stores: PostgresApiKeyStore[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    await dropSchema(schema);
  });

  it('never deadlock, whatever order each one met the keys in', async () => {
    stores = [await createPostgresApiKeyStore({ connection: POSTGRES_URL, schema, migrate: true })];
    for (let i = 0; i < 2; i++) stores.push(await createPostgresApiKeyStore({ connection: POSTGRES_URL, schema }));
    const ids = Array.from({ length: 200 }, (_, i) => `touched-${i}`);
    const createdAt = new Date('2026-01-01T00:00:00.000Z');
    for (const id of ids) {
      const key = {
        id,
        name: id,
        scopes: [],
        ownerId: null,
        metadata: {},
        createdAt,
        updatedAt: createdAt,
        expiresAt: null,
        revokedAt: null,
        disabled: false,
        lastUsedAt: null,
        version: 1,
      };
      await stores[0]!.insert(key, { hash: `hash-${id}`, keyId: id, createdAt, expiresAt: null });
    }
    const batch = (order: string[], round: number) =>
      new Map(order.map((id) => [id, new Date(createdAt.getTime() + round * 1000)]));
    for (let round = 1; round <= 40; round++) {
      // Orders of their own: locking rows in each batch's order deadlocks now and then.
      await Promise.all(stores.map((store) => store.touch(batch(shuffled(ids), round))));
    }
    expect((await stores[1]!.findById('touched-0'))?.lastUsedAt).toEqual(new Date(createdAt.getTime() + 40_000));
  });
});

/** A copy of `items` in random order. */
function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
