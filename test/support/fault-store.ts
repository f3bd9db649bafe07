import {
  ApiKeyStore,
  InMemoryApiKeyStore,
  type ApiKeyListQuery,
  type ApiKeyPatch,
  type ApiKeyRecord,
  type StoredApiKey,
  type StoredApiKeySecret,
} from 'nestjs-api-key';

/**
 * How the next write of one method fails: `before` acting (nothing changed), `after` acting (a
 * lost acknowledgement: the change is stored, the caller sees an error), or `halfway` (rotation
 * only: the new secret is stored, the previous ones are left as they were, as a store without
 * transactions would leave them if it failed between its two statements).
 */
export interface WriteFault {
  readonly method: 'update' | 'rotate';
  readonly when: 'before' | 'after' | 'halfway';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A full {@link ApiKeyStore} (the in-memory one underneath) with fault injection: every lookup
 * and every write can be delayed, every call is counted, and the next write of a method can fail
 * before, after or halfway through acting ({@link WriteFault}).
 */
export class FaultStore extends ApiKeyStore {
  readonly inner = new InMemoryApiKeyStore();
  lookupDelayMs = 0;
  writeDelayMs = 0;
  /** Storage calls of any kind, lookups included. */
  calls = 0;
  fault: WriteFault | undefined;
  private lookupWaiters: Array<() => void> = [];

  /** Resolves once the next lookup has read its record (before its delay). */
  nextLookup(): Promise<void> {
    return new Promise((resolve) => this.lookupWaiters.push(resolve));
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    this.calls++;
    const record = await this.inner.findByHash(hash); // read when the lookup starts, answered later
    for (const resolve of this.lookupWaiters.splice(0)) resolve();
    if (this.lookupDelayMs > 0) await sleep(this.lookupDelayMs);
    return record;
  }

  insert(key: StoredApiKey, secret: StoredApiKeySecret): Promise<void> {
    this.calls++;
    return this.inner.insert(key, secret);
  }

  findById(id: string): Promise<StoredApiKey | null> {
    this.calls++;
    return this.inner.findById(id);
  }

  list(query?: ApiKeyListQuery): Promise<StoredApiKey[]> {
    this.calls++;
    return this.inner.list(query);
  }

  async update(id: string, expectedVersion: number, patch: ApiKeyPatch): Promise<StoredApiKey | null> {
    this.calls++;
    const fault = this.take('update');
    if (this.writeDelayMs > 0) await sleep(this.writeDelayMs);
    if (fault === 'before') throw new Error('update failed before writing');
    const updated = await this.inner.update(id, expectedVersion, patch);
    if (fault) throw new Error('connection lost after the update was written');
    return updated;
  }

  async rotate(
    id: string,
    expectedVersion: number,
    secret: StoredApiKeySecret,
    previousSecretsExpireAt: Date,
    expiresAt?: Date | null,
  ): Promise<StoredApiKey | null> {
    this.calls++;
    const fault = this.take('rotate');
    if (this.writeDelayMs > 0) await sleep(this.writeDelayMs);
    if (fault === 'before') throw new Error('rotation failed before writing');
    if (fault === 'halfway') {
      const key = await this.inner.findById(id);
      if (key) this.inner.save({ ...key, hash: secret.hash, secretExpiresAt: secret.expiresAt });
      throw new Error('rotation failed after adding the new secret');
    }
    const rotated = await this.inner.rotate(id, expectedVersion, secret, previousSecretsExpireAt, expiresAt);
    if (fault) throw new Error('connection lost after the rotation was written');
    return rotated;
  }

  touch(lastUsed: ReadonlyMap<string, Date>): Promise<void> {
    return this.inner.touch(lastUsed);
  }

  /** Back to a healthy store: no fault, no delay, counter at zero (the keys stay). */
  reset(): void {
    this.fault = undefined;
    this.lookupDelayMs = 0;
    this.writeDelayMs = 0;
    this.calls = 0;
  }

  private take(method: WriteFault['method']): WriteFault['when'] | undefined {
    if (this.fault?.method !== method) return undefined;
    const { when } = this.fault;
    this.fault = undefined;
    return when;
  }
}
