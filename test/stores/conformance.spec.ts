import { afterAll } from '@jest/globals';
import { join } from 'node:path';
import { CachedApiKeyStore, type ApiKeyStore } from 'nestjs-api-key';
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

describeApiKeyStoreConformance('CachedApiKeyStore over SQLite', {
  create: async () => new CachedApiKeyStore(await sqlite()),
  destroy: (store) => (store as CachedApiKeyStore).close(),
});

// IN-MEMORY STORE: once the lifecycle branch makes the in-memory repository a full ApiKeyStore,
// run it here too: describeApiKeyStoreConformance('in memory', { create: () => new InMemoryApiKeyStore() });
