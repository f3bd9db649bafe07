import pg from 'pg';
import { PostgresApiKeyStore } from 'nestjs-api-key/postgres';
import { guardedModule } from '../guarded-app.js';
import type { BenchKeySet } from '../keys.js';
import { seedStore } from '../stores.js';
import type { BenchTarget } from '../target.js';

/** PostgreSQL of the benchmark (`BENCH_POSTGRES_URL`), default the local test database. */
const url = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** A schema of this server alone, dropped when it stops. */
const schema = `perf_bench_${process.pid}`;

async function dropSchema(): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Our guard over PostgreSQL holding the key set, behind the cache (every request a cache hit after the first). */
const target: BenchTarget = {
  name: 'guard-postgres-cached',
  description:
    'ApiKeyGuard + PostgresApiKeyStore (the key set, LISTEN/NOTIFY) behind `cache: true` (cache hits), scopes, principal, last-used tracking',
  module: async (keys: BenchKeySet) => {
    await dropSchema();
    const store = new PostgresApiKeyStore({ connection: url, schema, migrate: true });
    await store.init();
    await seedStore(store, keys.records, 8);
    return guardedModule({ repository: store, cache: true });
  },
  cleanup: dropSchema,
};
export default target;
