import { guardedModule } from '../guarded-app.js';
import { benchKey, type BenchKeySet } from '../keys.js';
import type { BenchTarget } from '../target.js';

/** Our guard with the key set given as static `keys` (hashed at startup, no repository call). */
const target: BenchTarget = {
  name: 'guard-static',
  description: 'ApiKeyGuard + the key set as static `keys` options, @RequireScopes, @ApiKey() principal',
  module: (keys: BenchKeySet) =>
    guardedModule({
      keys: keys.records.map((record, i) => ({
        id: record.id,
        name: record.name,
        key: benchKey(i),
        scopes: [...record.scopes],
      })),
    }),
};
export default target;
