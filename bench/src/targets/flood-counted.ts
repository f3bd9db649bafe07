import { InMemoryApiKeyStore, type ApiKeyRecord } from 'nestjs-api-key';
import { guardedModule } from '../guarded-app.js';
import type { BenchKeySet } from '../keys.js';
import type { BenchTarget } from '../target.js';

/** The in-memory repository, counting lookups of hashes it does not hold (the flood's keys). */
class CountingRepository extends InMemoryApiKeyStore {
  lookups = 0;
  misses = 0;

  override async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    this.lookups++;
    const record = await super.findByHash(hash);
    if (!record) this.misses++;
    return record;
  }
}

let repository: CountingRepository;

/** guard-memory with storage calls counted; used by the flood, not the HTTP comparison. */
const target: BenchTarget = {
  name: 'flood-counted',
  description: 'guard-memory with a repository that counts its lookups',
  compare: false,
  module: (keys: BenchKeySet) => {
    repository = new CountingRepository(keys.records);
    return guardedModule({ repository });
  },
  stats: () => ({ lookups: repository.lookups, misses: repository.misses }),
};
export default target;
