import { ApiKeyRepository, type ApiKeyRecord } from 'nestjs-api-key';

/** What the next lookups do: answer from the records, or one of the failures. */
export type Fault = (hash: string) => unknown;

/**
 * A repository with fault injection. By default it answers from its records after `delayMs`
 * (reading them when the lookup starts, as a real database would); `fault` replaces the answer
 * with anything (a throw, a promise that never settles, garbage). It counts calls and, for the
 * answers from its records, the most that were pending at once.
 */
export class FaultRepository extends ApiKeyRepository {
  readonly records = new Map<string, ApiKeyRecord>();
  fault: Fault | undefined;
  delayMs = 0;
  calls = 0;
  pending = 0;
  maxPending = 0;

  findByHash(hash: string): Promise<ApiKeyRecord | null> {
    this.calls++;
    if (this.fault) return this.fault(hash) as Promise<ApiKeyRecord | null>;
    const record = this.records.get(hash) ?? null;
    this.pending++;
    this.maxPending = Math.max(this.maxPending, this.pending);
    return new Promise((resolve) =>
      setTimeout(() => {
        this.pending--;
        resolve(record);
      }, this.delayMs),
    );
  }

  /** Stores `record`, replacing the one with the same hash. */
  save(record: ApiKeyRecord): void {
    this.records.set(record.hash, record);
  }

  /** Back to a healthy, empty-handed state: no fault, no delay, counters at zero. */
  reset(): void {
    this.fault = undefined;
    this.delayMs = 0;
    this.calls = 0;
    this.maxPending = 0;
  }
}
