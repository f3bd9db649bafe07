import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, type INestApplication } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import request from 'supertest';
import { ApiKeyHasher, ApiKeyModule, ApiKeyRepository } from 'nestjs-api-key';
import { PostgresApiKeyStore } from 'nestjs-api-key/postgres';
import { SqliteApiKeyStore } from 'nestjs-api-key/sqlite';
import { dropSchema, POSTGRES_URL, tempDir, uniqueSchema } from '../support/databases.js';
import { platforms, startApp } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';
import { newPlaintext, seedKey, storeOf } from './seed.js';

const dir = tempDir();
const schemas: string[] = [];
afterAll(async () => {
  dir.remove();
  for (const schema of schemas) await dropSchema(schema);
});

/** Each store, as the app's configuration would build it from `ConfigService`. */
const stores = [
  {
    name: 'SQLite file',
    env: () => ({ API_KEY_DB: join(dir.path, `e2e-${Date.now()}-${Math.random().toString(36).slice(2)}.db`) }),
    build: (config: ConfigService): ApiKeyRepository =>
      new SqliteApiKeyStore({ database: config.getOrThrow('API_KEY_DB'), migrate: true }),
  },
  {
    name: 'PostgreSQL',
    env: () => {
      const schema = uniqueSchema();
      schemas.push(schema);
      return { DATABASE_URL: POSTGRES_URL, API_KEY_SCHEMA: schema };
    },
    build: (config: ConfigService): ApiKeyRepository =>
      new PostgresApiKeyStore({
        connection: config.getOrThrow('DATABASE_URL'),
        schema: config.getOrThrow('API_KEY_SCHEMA'),
        migrate: true,
      }),
  },
];

describe.each(platforms)('persistent stores over HTTP on $name', (platform) => {
  describe.each(stores)('$name behind the cache, configured with forRootAsync + ConfigService', (store) => {
    let app: INestApplication;
    beforeAll(async () => {
      const env = store.env();
      app = await startApp(
        {
          imports: [
            ApiKeyModule.forRootAsync({
              imports: [ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => env] })],
              inject: [ConfigService],
              useFactory: (config: ConfigService) => ({
                repository: store.build(config),
                pepper: 'stores-e2e-pepper-0123456789',
                cache: { ttlMs: 60_000 },
              }),
            }),
          ],
          controllers: [OrdersController],
        },
        platform,
      );
    });
    afterAll(() => app.close());

    const get = (key?: string, path = '/orders') => {
      const call = request(app.getHttpServer()).get(path);
      return key === undefined ? call : call.set('X-API-Key', key);
    };

    it('authenticates a stored key and refuses an unknown one with the same 401 as ever', async () => {
      const plaintext = newPlaintext('valid');
      await seedKey(app, plaintext, { scopes: ['orders:read'], ownerId: 'team-s' });
      const ok = await get(plaintext, '/orders/whoami').expect(200);
      expect(ok.body).toEqual({
        id: `id-${plaintext}`,
        name: 'seeded',
        scopes: ['orders:read'],
        ownerId: 'team-s',
        metadata: {},
      });
      const unknown = await get(newPlaintext('unknown')).expect(401);
      expect(unknown.body.code).toBe('API_KEY_INVALID');
    });

    it('revocation, disabling and scope changes through the repository apply to the very next request', async () => {
      const plaintext = newPlaintext('changes');
      const key = await seedKey(app, plaintext);
      await get(plaintext).expect(200);
      const narrowed = await storeOf(app).update(key.id, 1, { scopes: ['reports:read'], updatedAt: new Date() });
      await get(plaintext).expect(403);
      const disabled = await storeOf(app).update(key.id, narrowed!.version, {
        scopes: ['orders:read'],
        disabled: true,
        updatedAt: new Date(),
      });
      await get(plaintext).expect(401);
      const enabled = await storeOf(app).update(key.id, disabled!.version, { disabled: false, updatedAt: new Date() });
      await get(plaintext).expect(200);
      await storeOf(app).update(key.id, enabled!.version, { revokedAt: new Date(), updatedAt: new Date() });
      await get(plaintext).expect(401);
    });

    it('rotation: the new key works at once, the old one until its grace ends', async () => {
      const old = newPlaintext('old');
      const key = await seedKey(app, old);
      await get(old).expect(200);
      const fresh = newPlaintext('fresh');
      const hash = app.get(ApiKeyHasher).hash(fresh);
      const rotated = await storeOf(app).rotate(
        key.id,
        1,
        { hash, keyId: key.id, createdAt: new Date(), expiresAt: null },
        new Date(Date.now() + 60_000),
      );
      await get(fresh).expect(200);
      await get(old).expect(200);
      const again = newPlaintext('again');
      await storeOf(app).rotate(
        key.id,
        rotated!.version,
        { hash: app.get(ApiKeyHasher).hash(again), keyId: key.id, createdAt: new Date(), expiresAt: null },
        new Date(),
      );
      await get(old).expect(401);
      await get(fresh).expect(401);
      await get(again).expect(200);
    });

    it('every request that starts after a revocation resolves is refused, under steady load', async () => {
      const plaintext = newPlaintext('load');
      const key = await seedKey(app, plaintext);
      const results: Array<{ started: number; status: number }> = [];
      let revokedAt = Infinity;
      const stopAt = performance.now() + 600;
      const worker = async () => {
        while (performance.now() < stopAt) {
          const started = performance.now();
          const { status } = await get(plaintext);
          results.push({ started, status });
        }
      };
      const revoke = async () => {
        await new Promise((resolve) => setTimeout(resolve, 200));
        await storeOf(app).update(key.id, 1, { revokedAt: new Date(), updatedAt: new Date() });
        revokedAt = performance.now();
      };
      await Promise.all([worker(), worker(), worker(), worker(), revoke()]);
      const before = results.filter((r) => r.started < revokedAt);
      const after = results.filter((r) => r.started > revokedAt);
      expect(before.some((r) => r.status === 200)).toBe(true);
      expect(after.length).toBeGreaterThan(0);
      expect(after.filter((r) => r.status !== 401)).toEqual([]);
    });
  });
});

describe.each(platforms)('storage failures fail closed on $name', (platform) => {
  const appWith = (repository: ApiKeyRepository) =>
    startApp(
      {
        imports: [ApiKeyModule.forRoot({ repository, cache: true, lookupTimeoutMs: 1000 })],
        controllers: [OrdersController],
      },
      platform,
    );
  const get = (app: INestApplication, key: string) => request(app.getHttpServer()).get('/orders').set('X-API-Key', key);

  it('a SQLite database closed under the app gives 503, never 2xx', async () => {
    const store = new SqliteApiKeyStore({ database: join(dir.path, `closed-${platform.name}.db`), migrate: true });
    const app = await appWith(store);
    const plaintext = newPlaintext('closed');
    await seedKey(app, plaintext);
    await store.close();
    const response = await get(app, plaintext).expect(503);
    expect(response.body.code).toBe('API_KEY_STORE_UNAVAILABLE');
    expect(JSON.stringify(response.body)).not.toMatch(/database|sqlite/i);
    await app.close();
  });

  it('a PostgreSQL lookup blocked by a lock gives 503 within the timeout, and the key works again once it is released', async () => {
    const schema = uniqueSchema();
    schemas.push(schema);
    const app = await appWith(new PostgresApiKeyStore({ connection: POSTGRES_URL, schema, migrate: true }));
    const plaintext = newPlaintext('locked');
    await seedKey(app, plaintext);
    const locker = new pg.Client({ connectionString: POSTGRES_URL });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE "${schema}".api_key_secrets IN ACCESS EXCLUSIVE MODE`);
    try {
      await get(app, plaintext).expect(503);
      await get(app, plaintext).expect(503);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    await get(app, plaintext).expect(200);
    await app.close();
  });

  it('a PostgreSQL error (its tables gone) gives 503 without driver text, and the key works again once they are back', async () => {
    const schema = uniqueSchema();
    schemas.push(schema);
    const app = await appWith(new PostgresApiKeyStore({ connection: POSTGRES_URL, schema, migrate: true }));
    const plaintext = newPlaintext('renamed');
    await seedKey(app, plaintext);
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`ALTER TABLE "${schema}".api_key_secrets RENAME TO moved`);
    try {
      const response = await get(app, plaintext).expect(503);
      expect(JSON.stringify(response.body)).not.toMatch(/relation|api_key_secrets/);
    } finally {
      await admin.query(`ALTER TABLE "${schema}".moved RENAME TO api_key_secrets`);
      await admin.end();
    }
    await get(app, plaintext).expect(200);
    await app.close();
  });
});

describe.each(platforms)('storage calls behind the cache on $name (SQLite file)', (platform) => {
  class CountingSqliteStore extends SqliteApiKeyStore {
    lookups = 0;
    override findByHash(hash: string) {
      this.lookups++;
      return super.findByHash(hash);
    }
  }

  it('concurrent requests with one key, known or unknown, reach storage once; repeats are served from memory', async () => {
    const store = new CountingSqliteStore({ database: join(dir.path, `counting-${platform.name}.db`), migrate: true });
    const app = await startApp(
      {
        imports: [ApiKeyModule.forRoot({ repository: store, cache: { negativeTtlMs: 60_000 } })],
        controllers: [OrdersController],
      },
      platform,
    );
    const known = newPlaintext('known');
    await seedKey(app, known);
    const unknown = newPlaintext('unknown');
    const burst = (key: string) =>
      Promise.all(Array.from({ length: 40 }, () => request(app.getHttpServer()).get('/orders').set('X-API-Key', key)));
    const statuses = async (key: string) => (await burst(key)).map((response) => response.status);
    expect(new Set([...(await statuses(unknown)), ...(await statuses(unknown))])).toEqual(new Set([401]));
    expect(store.lookups).toBe(1);
    expect(new Set([...(await statuses(known)), ...(await statuses(known))])).toEqual(new Set([200]));
    expect(store.lookups).toBe(2);
    await app.close();
  });
});

describe('storage failures fail closed (an application-owned pool)', () => {
  it('a PostgreSQL pool the application ended under a running app gives 503', async () => {
    const schema = uniqueSchema();
    schemas.push(schema);
    const pool = new pg.Pool({ connectionString: POSTGRES_URL });
    const app = await startApp(
      {
        imports: [
          ApiKeyModule.forRoot({
            repository: new PostgresApiKeyStore({ connection: pool, schema, migrate: true }),
            cache: true,
          }),
        ],
        controllers: [OrdersController],
      },
      platforms[0],
    );
    const plaintext = newPlaintext('ended');
    await seedKey(app, plaintext);
    await pool.end(); // resolves although the app's cache is listening: that connection is not the pool's
    await request(app.getHttpServer()).get('/orders').set('X-API-Key', plaintext).expect(503);
    await app.close();
  });
});

describe('store lifecycle in a Nest application', () => {
  const platform = platforms[0];
  const appWith = (repository: ApiKeyRepository, cache = true) =>
    startApp({ imports: [ApiKeyModule.forRoot({ repository, cache })], controllers: [OrdersController] }, platform);

  it('closes its SQLite file when the app closes', async () => {
    const opened = new SqliteApiKeyStore({ database: join(dir.path, 'opened.db'), migrate: true });
    const app = await appWith(opened);
    await app.close();
    await expect(opened.findByHash('x'.repeat(43))).rejects.toThrow(/not open/);
  });

  it('builds a store class through DI (ConfigService), migrates it at startup and closes it at shutdown', async () => {
    const path = join(dir.path, 'class.db');
    @Injectable()
    class ConfiguredStore extends SqliteApiKeyStore {
      constructor(config: ConfigService) {
        super({ database: config.getOrThrow('API_KEY_DB'), migrate: true });
      }
    }
    const app = await startApp(
      {
        imports: [
          ApiKeyModule.forRootAsync({
            imports: [ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ API_KEY_DB: path })] })],
            useFactory: () => ({ repository: ConfiguredStore }),
          }),
        ],
        controllers: [OrdersController],
      },
      platform,
    );
    const store = app.get(ApiKeyRepository);
    expect(store).toBeInstanceOf(ConfiguredStore);
    const plaintext = newPlaintext('class');
    await seedKey(app, plaintext);
    await request(app.getHttpServer()).get('/orders').set('X-API-Key', plaintext).expect(200);
    await app.close();
    await expect(store.findByHash('x'.repeat(43))).rejects.toThrow(/not open/);
  });

  it('ends a PostgreSQL pool it created when the app closes, and never a Pool the app owns', async () => {
    const schema = uniqueSchema();
    schemas.push(schema);
    const created = new PostgresApiKeyStore({ connection: POSTGRES_URL, schema, migrate: true });
    const app = await appWith(created);
    await app.close();
    await expect(created.findByHash('x'.repeat(43))).rejects.toThrow(/pool/i);

    const pool = new pg.Pool({ connectionString: POSTGRES_URL });
    const adopted = new PostgresApiKeyStore({ connection: pool, schema, migrate: true });
    const second = await appWith(adopted);
    await second.close();
    expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    expect(await adopted.findByHash('x'.repeat(43))).toBeNull();
    await pool.end();
  });
});
