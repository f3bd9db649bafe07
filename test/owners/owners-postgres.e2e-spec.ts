import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import pg from 'pg';
import request from 'supertest';
import { ApiKeyLifecycleError, ApiKeyModule, ApiKeyService } from 'nestjs-api-key';
import { createPostgresApiKeyStore, PostgresApiKeyStore } from 'nestjs-api-key/postgres';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../support/databases.js';
import { platforms, startApp } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';

const PEPPER = 'owners-postgres-pepper-0123456789';
const BOUND_MS = 1000;
const LIMIT = 3;

describe('owners across two app instances (Express and Fastify) sharing one PostgreSQL database', () => {
  const schema = uniqueSchema();
  const names = { a: `${schema}_a`, b: `${schema}_b` };
  const channel = `${schema}.api_keys_changes`;
  let a: INestApplication;
  let b: INestApplication;
  let admin: pg.Client;
  const notifications: string[] = [];

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
            maxActiveKeysPerOwner: LIMIT,
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
    admin.on('notification', (message) => {
      if (message.channel === channel) notifications.push(message.payload ?? '');
    });
    await admin.query(`LISTEN "${channel}"`);
    for (const name of Object.values(names))
      await until(async () => (await listeners(name)).length === 1, `instance ${name} to listen`);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await admin?.end();
    await dropSchema(schema);
  });

  const service = (app: INestApplication) => app.get(ApiKeyService);
  const status = async (app: INestApplication, key: string) =>
    (await request(app.getHttpServer()).get('/orders/whoami').set('X-API-Key', key)).status;

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

  async function failure(promise: Promise<unknown>): Promise<ApiKeyLifecycleError> {
    const error = await promise.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ApiKeyLifecycleError);
    return error as ApiKeyLifecycleError;
  }

  it('caps an owner’s active keys whichever instance creates them, and frees a place on revocation', async () => {
    const first = await service(a).create({ name: 'one', ownerId: 'acme' });
    await service(b).create({ name: 'two', ownerId: 'acme' });
    await service(a).create({ name: 'three', ownerId: 'acme' });
    for (const app of [a, b]) {
      const error = await failure(service(app).create({ name: 'four', ownerId: 'acme' }));
      expect(error.code).toBe('owner_limit_reached');
      expect(error.message).toMatch(/owner "acme" already has 3 active keys \(maxActiveKeysPerOwner\)/);
    }
    expect(await service(b).list({ ownerId: 'acme' })).toHaveLength(LIMIT);
    await service(b).create({ name: 'other owner', ownerId: 'globex' });
    await service(b).create({ name: 'no owner' });
    await service(b).revoke(first.apiKey.id);
    await service(a).create({ name: 'four', ownerId: 'acme' });
    expect((await service(a).list({ ownerId: 'acme' })).filter((key) => key.revokedAt === null)).toHaveLength(LIMIT);
  });

  it('lets no more than the limit through when both instances create for one owner at once', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, n) => service(n % 2 ? a : b).create({ name: `race-${n}`, ownerId: 'initech' })),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(LIMIT);
    for (const result of results.filter((result) => result.status === 'rejected'))
      expect((result as PromiseRejectedResult).reason).toMatchObject({ code: 'owner_limit_reached' });
    expect(await service(a).list({ ownerId: 'initech' })).toHaveLength(LIMIT);
  });

  it('revokes every key of an owner in one call, one notification, refused on both instances within the bound', async () => {
    const keys = await Promise.all(
      ['x', 'y', 'z'].map((name, n) => service(n ? b : a).create({ name, ownerId: 'umbrella' })),
    );
    const bystander = await service(a).create({ name: 'bystander', ownerId: 'hooli' });
    // Both caches hold every key.
    for (const app of [a, b]) for (const { key } of [...keys, bystander]) expect(await status(app, key)).toBe(200);
    notifications.length = 0;
    const revoked = await service(a).revokeOwner('umbrella');
    expect(revoked).toEqual(keys.map(({ apiKey }) => apiKey.id).sort());
    // A later write's notification arrives after every earlier one (NOTIFY is delivered in commit order).
    const sentinel = await service(a).create({ name: 'sentinel', ownerId: 'sentinel' });
    await until(async () => notifications.includes(sentinel.apiKey.id), 'the sentinel notification');
    expect(notifications).toEqual(['', sentinel.apiKey.id]);
    for (const { key } of keys) {
      expect(await status(a, key)).toBe(401);
      await refusedWithinBound(b, key);
    }
    for (const app of [a, b]) expect(await status(app, bystander.key)).toBe(200);
    for (const key of await service(b).list({ ownerId: 'umbrella' })) expect(key.revokedAt).not.toBeNull();
    expect(await service(b).revokeOwner('umbrella')).toEqual([]);
    // Revoked keys no longer count: the owner may create again.
    await service(b).create({ name: 'fresh', ownerId: 'umbrella' });
  });
});
