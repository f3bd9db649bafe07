import { afterAll } from '@jest/globals';
import { join } from 'node:path';
import pg from 'pg';
import { CachedApiKeyStore, InMemoryApiKeyStore, type ApiKeyStore } from 'nestjs-api-key';
import { createPostgresApiKeyStore, type PostgresApiKeyStore } from 'nestjs-api-key/postgres';
import { createSqliteApiKeyStore, type SqliteApiKeyStore } from 'nestjs-api-key/sqlite';
import { describeApiKeyStoreConformance } from 'nestjs-api-key/testing';
import { dropSchema, POSTGRES_URL, tempDir, uniqueSchema } from '../support/databases.js';

const dir = tempDir();
let files = 0;
afterAll(() => dir.remove());

const sqlite = () => createSqliteApiKeyStore({ database: join(dir.path, `conformance-${files++}.db`), migrate: true });

describeApiKeyStoreConformance('SQLite file', {
  create: sqlite,
  destroy: (store) => (store as SqliteApiKeyStore).close(),
});

const schemas = new Map<ApiKeyStore, string>();
describeApiKeyStoreConformance('PostgreSQL', {
  create: async () => {
    const schema = uniqueSchema();
    const store = await createPostgresApiKeyStore({ connection: POSTGRES_URL, schema, migrate: true });
    schemas.set(store, schema);
    return store;
  },
  destroy: async (store) => {
    await (store as PostgresApiKeyStore).close();
    await dropSchema(schemas.get(store)!);
  },
});

// An application's pool may parse types its own way (here: timestamps left as text).
const pools = new Map<ApiKeyStore, pg.Pool>();
const TIMESTAMPTZ = 1184;
describeApiKeyStoreConformance('PostgreSQL through a pool that reads timestamps as text', {
  create: async () => {
    const schema = uniqueSchema();
    const types = {
      getTypeParser: (oid: number, format?: 'text' | 'binary') =>
        oid === TIMESTAMPTZ ? (text: string) => text : pg.types.getTypeParser(oid, format),
    };
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, types: types as pg.CustomTypesConfig });
    const store = await createPostgresApiKeyStore({ connection: pool, schema, migrate: true });
    schemas.set(store, schema);
    pools.set(store, pool);
    return store;
  },
  destroy: async (store) => {
    await (store as PostgresApiKeyStore).close();
    await pools.get(store)!.end();
    await dropSchema(schemas.get(store)!);
  },
});

describeApiKeyStoreConformance('CachedApiKeyStore over SQLite', {
  create: async () => new CachedApiKeyStore(await sqlite()),
  destroy: (store) => (store as CachedApiKeyStore).close(),
});

describeApiKeyStoreConformance('in memory', { create: () => new InMemoryApiKeyStore() });
