import { Injectable, Logger } from '@nestjs/common';
import type { ApiKeyPrincipal } from './api-key-principal.interface.js';
import type { ApiKeyRecord } from './api-key-record.interface.js';
import type { ApiKeyVerification } from './api-key-verification.interface.js';
import { isWellFormedKey } from './api-key.credentials.js';
import { ApiKeyStoreUnavailableException } from './api-key.exceptions.js';
import { ApiKeyHasher } from './api-key.hasher.js';
import { ApiKeyRepository } from './api-key.repository.js';
import { ResolvedApiKeyOptions } from './api-key-options.js';
import { escapeForLog } from './log-escape.js';
import { FixedTimeout } from './fixed-timeout.js';

const MALFORMED: ApiKeyVerification = Object.freeze({ valid: false, reason: 'malformed' });
const NOT_FOUND: ApiKeyVerification = Object.freeze({ valid: false, reason: 'not_found' });

/**
 * Verifies presented keys: shape check, keyed hash, O(1) lookup among the configured static
 * keys and then the repository (with a timeout), constant-time comparison of the digests and
 * the key's state. Use it directly where no guard applies (a WebSocket handshake, a CLI).
 */
@Injectable()
export class ApiKeyAuthenticator {
  private readonly logger = new Logger(ApiKeyAuthenticator.name);
  private readonly staticKeys = new Map<string, { record: ApiKeyRecord; principal: ApiKeyPrincipal }>();
  private readonly timeout: FixedTimeout;

  constructor(
    private readonly options: ResolvedApiKeyOptions,
    private readonly hasher: ApiKeyHasher,
    private readonly repository: ApiKeyRepository,
  ) {
    const ms = options.lookupTimeoutMs;
    this.timeout = new FixedTimeout(ms, () => new Error(`lookup timed out after ${ms} ms`));
    for (const entry of options.keys) {
      const record: ApiKeyRecord = {
        id: entry.id ?? entry.name,
        name: entry.name,
        hash: hasher.hash(entry.key),
        scopes: entry.scopes ?? [],
        ownerId: entry.ownerId ?? null,
        metadata: entry.metadata ?? null,
      };
      this.staticKeys.set(record.hash, { record, principal: toPrincipal(record) });
    }
  }

  /**
   * Verifies `key` as of `now` (default: the current time). Resolves to the principal, or to
   * the reason it was refused.
   * Rejects with {@link ApiKeyStoreUnavailableException} when the repository throws, times
   * out or returns an unusable record: callers must fail closed.
   */
  async verify(key: string, now?: Date): Promise<ApiKeyVerification> {
    if (!isWellFormedKey(key, this.options.maxKeyLength)) return MALFORMED;
    const candidates = this.hasher.candidates(key);
    const known = this.staticKeys.get(candidates[0]!);
    if (known) return { valid: true, principal: known.principal };
    for (const hash of candidates) {
      const record = await this.lookup(hash);
      if (record) return this.check(record, now);
    }
    return NOT_FOUND;
  }

  private check(record: ApiKeyRecord, now: Date | undefined): ApiKeyVerification {
    const time = now ? now.getTime() : Date.now();
    if (record.revokedAt && record.revokedAt.getTime() <= time) return { valid: false, reason: 'revoked', keyId: record.id };
    if (record.secretExpiresAt && record.secretExpiresAt.getTime() <= time) return { valid: false, reason: 'revoked', keyId: record.id };
    if (record.disabled) return { valid: false, reason: 'disabled', keyId: record.id };
    if (record.expiresAt && record.expiresAt.getTime() <= time) return { valid: false, reason: 'expired', keyId: record.id };
    return { valid: true, principal: toPrincipal(record) };
  }

  private async lookup(hash: string): Promise<ApiKeyRecord | null> {
    let record: unknown;
    try {
      record = await this.timeout.race(this.repository.findByHash(hash));
    } catch (error) {
      this.logger.error(`Key repository lookup failed: ${escapeForLog(String((error as Error)?.message ?? error))}`);
      throw new ApiKeyStoreUnavailableException();
    }
    if (record === null || record === undefined) return null;
    if (!isRecord(record) || !ApiKeyHasher.equal(record.hash, hash)) {
      this.logger.error('Key repository returned a malformed or mismatching record');
      throw new ApiKeyStoreUnavailableException();
    }
    return record;
  }
}

function isRecord(value: unknown): value is ApiKeyRecord {
  const record = value as ApiKeyRecord;
  return (
    typeof record === 'object' &&
    typeof record.id === 'string' &&
    typeof record.name === 'string' &&
    typeof record.hash === 'string' &&
    Array.isArray(record.scopes) &&
    record.scopes.every((scope) => typeof scope === 'string') &&
    isOptionalDate(record.expiresAt) &&
    isOptionalDate(record.revokedAt) &&
    isOptionalDate(record.secretExpiresAt)
  );
}

function isOptionalDate(value: unknown): boolean {
  return value === undefined || value === null || (value instanceof Date && !Number.isNaN(value.getTime()));
}

function toPrincipal(record: ApiKeyRecord): ApiKeyPrincipal {
  return Object.freeze({
    id: record.id,
    name: record.name,
    scopes: Object.freeze([...record.scopes]),
    ownerId: record.ownerId ?? null,
    metadata: Object.freeze({ ...(record.metadata ?? {}) }),
  });
}
