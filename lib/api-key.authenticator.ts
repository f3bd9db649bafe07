import { Injectable, Logger, Optional } from '@nestjs/common';
import type { ApiKeyPrincipal } from './api-key-principal.interface.js';
import type { ApiKeyRecord } from './api-key-record.interface.js';
import type { ApiKeyVerification } from './api-key-verification.interface.js';
import { isWellFormedKey } from './api-key.credentials.js';
import { ApiKeyClock, SystemApiKeyClock } from './api-key.clock.js';
import { ApiKeyEventSink, ApiKeyEventType } from './api-key.events.js';
import { ApiKeyStoreUnavailableException } from './api-key.exceptions.js';
import { ApiKeyHasher } from './api-key.hasher.js';
import { ApiKeyRepository } from './api-key.repository.js';
import { ResolvedApiKeyOptions } from './api-key-options.js';
import { ApiKeyUsageTracker } from './api-key.usage-tracker.js';
import { escapeForLog } from './log-escape.js';
import { FixedTimeout } from './fixed-timeout.js';

const MALFORMED: ApiKeyVerification & { valid: false } = Object.freeze({ valid: false, reason: 'malformed' });
const NOT_FOUND: ApiKeyVerification & { valid: false } = Object.freeze({ valid: false, reason: 'not_found' });

/**
 * Verifies presented keys: shape check (and, for generated keys, format and checksum), keyed
 * hash, O(1) lookup among the configured static keys and then the repository (with a timeout;
 * concurrent lookups of one hash share a call), constant-time comparison of the digests and the
 * key's state at the clock's time. Every outcome is reported to the event sink and a valid
 * stored key's use to the usage tracker. Use it directly where no guard applies (a WebSocket
 * handshake, a CLI).
 */
@Injectable()
export class ApiKeyAuthenticator {
  private readonly logger = new Logger(ApiKeyAuthenticator.name);
  private readonly staticKeys = new Map<string, ApiKeyPrincipal>();
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly timeout: FixedTimeout;

  constructor(
    private readonly options: ResolvedApiKeyOptions,
    private readonly hasher: ApiKeyHasher,
    private readonly repository: ApiKeyRepository,
    @Optional() private readonly clock: ApiKeyClock = new SystemApiKeyClock(),
    @Optional() private readonly events?: ApiKeyEventSink,
    @Optional() private readonly usage?: ApiKeyUsageTracker,
  ) {
    const ms = options.lookupTimeoutMs;
    this.timeout = new FixedTimeout(ms, () => new Error(`lookup timed out after ${ms} ms`));
    for (const entry of options.keys) {
      // Copies of the configured scopes and metadata, so the frozen principal owns them.
      const record: ApiKeyRecord = {
        id: entry.id ?? entry.name,
        name: entry.name,
        hash: hasher.hash(entry.key),
        scopes: [...(entry.scopes ?? [])],
        ownerId: entry.ownerId ?? null,
        metadata: entry.metadata ? { ...entry.metadata } : null,
      };
      this.staticKeys.set(record.hash, principalOfCopy(record));
    }
  }

  /**
   * Verifies `key` as of `now` (default: the current time). Resolves to the principal, or to
   * the reason it was refused.
   * Rejects with {@link ApiKeyStoreUnavailableException} when the repository throws, times
   * out or returns an unusable record: callers must fail closed.
   */
  async verify(key: string, now: Date = this.clock.now()): Promise<ApiKeyVerification> {
    const { format } = this.options;
    if (!isWellFormedKey(key, this.options.maxKeyLength) || (format.claims(key) ? format.parse(key) === null : this.options.onlyGeneratedKeys)) {
      return this.refused(MALFORMED, now);
    }
    const candidates = this.hasher.candidates(key);
    const known = this.staticKeys.get(candidates[0]!);
    if (known) return this.accepted(known, now);
    for (const hash of candidates) {
      const record = await this.lookup(hash);
      if (!record) continue;
      const result = this.check(record, now);
      if (!result.valid) return this.refused(result, now);
      this.usage?.record(record.id, now);
      return this.accepted(result.principal, now);
    }
    return this.refused(NOT_FOUND, now);
  }

  private accepted(principal: ApiKeyPrincipal, now: Date): ApiKeyVerification {
    if (this.events?.acceptsAuthenticated) this.events.emit({ type: ApiKeyEventType.Authenticated, keyId: principal.id, at: now });
    return { valid: true, principal };
  }

  private refused(result: ApiKeyVerification & { valid: false }, now: Date): ApiKeyVerification {
    this.events?.emit({ type: ApiKeyEventType.AuthenticationFailed, reason: result.reason, keyId: result.keyId ?? null, at: now });
    return result;
  }

  private check(record: ApiKeyRecord, now: Date): ApiKeyVerification {
    const time = now.getTime();
    if (record.revokedAt && record.revokedAt.getTime() <= time) return { valid: false, reason: 'revoked', keyId: record.id };
    if (record.secretExpiresAt && record.secretExpiresAt.getTime() <= time) return { valid: false, reason: 'revoked', keyId: record.id };
    if (record.disabled) return { valid: false, reason: 'disabled', keyId: record.id };
    if (record.expiresAt && record.expiresAt.getTime() <= time) return { valid: false, reason: 'expired', keyId: record.id };
    return { valid: true, principal: principalOfCopy(record) };
  }

  /**
   * Call after changing a stored key (revocation, disabling, a scope change, a rotation):
   * verifications that start afterwards read the repository afresh instead of sharing a lookup
   * already in flight, so the change applies to every request that starts after this call.
   * `ApiKeyService` calls it after each of its writes; call it yourself after writing to the
   * store directly.
   */
  invalidate(): void {
    this.inFlight.clear();
  }

  private async lookup(hash: string): Promise<ApiKeyRecord | null> {
    let found: unknown;
    try {
      found = await this.findShared(hash);
    } catch (error) {
      this.logger.error(`Key repository lookup failed: ${escapeForLog(String((error as Error)?.message ?? error))}`);
      throw new ApiKeyStoreUnavailableException();
    }
    if (found === null || found === undefined) return null;
    const record = usableRecord(found, hash);
    if (!record) {
      this.logger.error('Key repository returned a malformed or mismatching record');
      throw new ApiKeyStoreUnavailableException();
    }
    return record;
  }

  /**
   * The repository lookup of `hash` under the lookup timeout, shared by every verification of
   * the same hash that starts while it is pending, so a burst of requests with one key (or a
   * hanging store) costs one repository call instead of piling up. It leaves the shared set as
   * it settles or times out: nothing is cached, and a failed lookup is not shared again.
   */
  private findShared(hash: string): Promise<unknown> {
    const pending = this.inFlight.get(hash);
    if (pending) return pending;
    let call: unknown;
    try {
      call = this.repository.findByHash(hash);
    } catch (error) {
      call = Promise.reject(error);
    }
    const shared: Promise<unknown> = this.timeout.race(call, () => {
      if (this.inFlight.get(hash) === shared) this.inFlight.delete(hash);
    });
    this.inFlight.set(hash, shared);
    return shared;
  }
}

/**
 * A validated copy of what the repository returned for `hash`, or `undefined` when it is not a
 * record of that hash. Copying once means nothing later reads the repository's object again
 * (a getter or proxy that throws, or a later mutation, cannot turn into a 500 or a mix-up).
 */
function usableRecord(value: unknown, hash: string): ApiKeyRecord | undefined {
  try {
    const source = value as ApiKeyRecord;
    if (typeof source !== 'object' || !Array.isArray(source.scopes)) return undefined;
    const metadata: unknown = source.metadata;
    const record: ApiKeyRecord = {
      id: source.id,
      name: source.name,
      hash: source.hash,
      scopes: [...source.scopes],
      ownerId: source.ownerId,
      metadata: isPlainObject(metadata) ? { ...(metadata as object) } : (metadata as null | undefined),
      expiresAt: copyOfDate(source.expiresAt),
      revokedAt: copyOfDate(source.revokedAt),
      disabled: source.disabled,
      secretExpiresAt: copyOfDate(source.secretExpiresAt),
    };
    const valid =
      typeof record.id === 'string' &&
      typeof record.name === 'string' &&
      typeof record.hash === 'string' &&
      record.scopes.every((scope) => typeof scope === 'string') &&
      (record.ownerId === undefined || record.ownerId === null || typeof record.ownerId === 'string') &&
      (metadata === undefined || metadata === null || isPlainObject(metadata)) &&
      (record.disabled === undefined || typeof record.disabled === 'boolean') &&
      isOptionalDate(record.expiresAt) &&
      isOptionalDate(record.revokedAt) &&
      isOptionalDate(record.secretExpiresAt) &&
      ApiKeyHasher.equal(record.hash, hash);
    return valid ? record : undefined;
  } catch {
    return undefined;
  }
}

function copyOfDate<T>(value: T): T {
  return (value instanceof Date ? new Date(value.getTime()) : value) as T;
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isOptionalDate(value: unknown): boolean {
  return value === undefined || value === null || (value instanceof Date && !Number.isNaN(value.getTime()));
}

const NO_METADATA: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * The principal of a record whose scopes array and metadata object are copies it owns (made by
 * {@link usableRecord}, or from a static key's configuration), frozen in place rather than
 * copied again.
 */
function principalOfCopy(record: ApiKeyRecord): ApiKeyPrincipal {
  return Object.freeze({
    id: record.id,
    name: record.name,
    scopes: Object.freeze(record.scopes as string[]),
    ownerId: record.ownerId ?? null,
    metadata: record.metadata ? Object.freeze(record.metadata) : NO_METADATA,
  });
}
