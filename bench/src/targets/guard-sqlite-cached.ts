import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteApiKeyStore } from 'nestjs-api-key/sqlite';
import { guardedModule } from '../guarded-app.js';
import type { BenchKeySet } from '../keys.js';
import { seedStore } from '../stores.js';
import type { BenchTarget } from '../target.js';

let directory: string | undefined;

/** Our guard over a SQLite file holding the key set, behind the cache (every request a cache hit after the first). */
const target: BenchTarget = {
  name: 'guard-sqlite-cached',
  description:
    'ApiKeyGuard + SqliteApiKeyStore (a file holding the key set) behind `cache: true` (cache hits), scopes, principal, last-used tracking',
  module: async (keys: BenchKeySet) => {
    directory = mkdtempSync(join(tmpdir(), 'perf-bench-sqlite-'));
    const store = new SqliteApiKeyStore({ database: join(directory, 'keys.db'), migrate: true });
    await store.init();
    await seedStore(store, keys.records, 1);
    return guardedModule({ repository: store, cache: true });
  },
  cleanup: async () => {
    if (directory) rmSync(directory, { recursive: true, force: true });
  },
};
export default target;
