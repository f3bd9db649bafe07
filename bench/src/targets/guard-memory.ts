import { InMemoryApiKeyStore } from 'nestjs-api-key';
import { guardedModule } from '../guarded-app.js';
import type { BenchKeySet } from '../keys.js';
import type { BenchTarget } from '../target.js';

/** Our guard over the in-memory repository holding the whole key set. */
const target: BenchTarget = {
  name: 'guard-memory',
  description: 'ApiKeyGuard + InMemoryApiKeyStore (the key set), @RequireScopes, @ApiKey() principal',
  module: (keys: BenchKeySet) => guardedModule({ repository: new InMemoryApiKeyStore(keys.records) }),
};
export default target;
