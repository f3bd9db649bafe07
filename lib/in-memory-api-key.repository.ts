import type { ApiKeyRecord } from './api-key-record.interface.js';
import { ApiKeyRepository } from './api-key.repository.js';

/**
 * The default repository: records in a `Map` keyed by hash, for tests and single-process apps.
 * Its contents are lost when the process exits.
 */
export class InMemoryApiKeyRepository extends ApiKeyRepository {
  private readonly byHash = new Map<string, ApiKeyRecord>();

  /** Creates a repository holding the given records. */
  constructor(records: Iterable<ApiKeyRecord> = []) {
    super();
    for (const record of records) this.save(record);
  }

  /** @inheritdoc */
  findByHash(hash: string): Promise<ApiKeyRecord | null> {
    return Promise.resolve(this.byHash.get(hash) ?? null);
  }

  /** Adds or replaces a record (matched by its hash). */
  save(record: ApiKeyRecord): void {
    this.byHash.set(record.hash, record);
  }

  /** Removes the record with the given hash; returns whether one was removed. */
  delete(hash: string): boolean {
    return this.byHash.delete(hash);
  }
}
