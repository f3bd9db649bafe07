import type { ApiKeyRecord } from './api-key-record.interface.js';

/**
 * Storage contract for API keys, and its injection token.
 *
 * Implement it to keep keys in your own database, then pass the class (built through Nest's
 * dependency injection, so it can inject a `DataSource` or `ConfigService`) or an instance as
 * the module's `repository` option. Inject it anywhere with `constructor(repo: ApiKeyRepository)`.
 *
 * The contract is deliberately narrow: authentication needs one indexed lookup.
 */
export abstract class ApiKeyRepository {
  /**
   * Returns the record whose `hash` equals the given keyed hash, or `null` when there is none.
   * Must be an indexed (O(1) or O(log n)) lookup: it runs on every authenticated request.
   * Throwing or never settling makes the request fail closed with 503.
   */
  abstract findByHash(hash: string): Promise<ApiKeyRecord | null>;

  /**
   * Optional: resolves when the storage answers now (a trivial query within a bound, never
   * touching a key), rejects with an `Error` saying why not. Health indicators call it.
   */
  checkHealth?(): Promise<void>;
}
