import { Injectable, Logger, Optional } from '@nestjs/common';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import type { ApiKeyExpiryNotice, ApiKeyVerification } from './api-key-verification.interface.js';
import { isWellFormedKey } from '../guard/api-key.credentials.js';
import { ApiKeyClock, SystemApiKeyClock } from './api-key.clock.js';
import { ApiKeyEventSink, ApiKeyEventType } from '../api-key.events.js';
import { ApiKeyStoreUnavailableException } from '../api-key.exceptions.js';
import { ApiKeyHasher } from '../keys/api-key.hasher.js';
import { ApiKeyRepository } from '../storage/api-key.repository.js';
import { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import { ApiKeyLastUsedRecorder } from './api-key-last-used.recorder.js';
import { escapeForLog } from '../log-escape.js';
import { FixedTimeout } from './fixed-timeout.js';
import { ApiKeyExpiryNotices } from './api-key-expiry.notices.js';
import type { ApiKeyRestrictionReason } from '../guard/api-key.restrictions.js';
import {
  issuePrincipal,
  issuerOf,
  refusalOf,
  restrictionsOf,
  stateOf,
  verifiedLookupOf,
  verifyRecord,
  type VerifiedApiKey,
} from '../storage/verified-api-key.js';

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
  /** `null` when `expiryWarnings: false`. */
  private readonly expiryNotices: ApiKeyExpiryNotices | null;

  constructor(
    private readonly options: ResolvedApiKeyOptions,
    private readonly hasher: ApiKeyHasher,
    private readonly repository: ApiKeyRepository,
    @Optional() private readonly clock: ApiKeyClock = new SystemApiKeyClock(),
    @Optional() private readonly events?: ApiKeyEventSink,
    @Optional() private readonly usage?: ApiKeyLastUsedRecorder,
  ) {
    const ms = options.lookupTimeoutMs;
    this.timeout = new FixedTimeout(ms, () => new Error(`lookup timed out after ${ms} ms`));
    this.expiryNotices = options.expiryWarnings && new ApiKeyExpiryNotices(options.expiryWarnings, events);
    for (const entry of options.keys) {
      // A copy of the configured scopes, so the frozen principal owns it (issuePrincipal copies the metadata).
      const principal = issuePrincipal(
        this,
        entry.id ?? entry.name,
        entry.name,
        [...(entry.scopes ?? [])],
        entry.ownerId ?? null,
        entry.metadata ?? null,
      );
      this.staticKeys.set(hasher.hash(entry.key), principal);
    }
  }

  /**
   * Verifies `key` as of `now` (default: the current time). Resolves to the principal, or to
   * the reason it was refused.
   * Rejects with {@link ApiKeyStoreUnavailableException} when the repository throws, times
   * out or returns an unusable record: callers must fail closed.
   */
  async verify(key: string, now?: Date): Promise<ApiKeyVerification> {
    const at = now?.getTime() ?? this.currentTime();
    if (!this.isWellFormed(key)) return this.refused(MALFORMED, at);
    const candidates = this.hasher.candidates(key);
    const known = this.staticKeys.get(candidates[0]!);
    if (known) return this.accepted(known, at);
    for (const hash of candidates) {
      const stored = await this.lookup(hash);
      if (stored) return this.outcome(stored, at);
    }
    return this.refused(NOT_FOUND, at);
  }

  /** The clock's time in epoch ms; a clock given as a plain `{ now }` object (in tests) has no `nowMs`. */
  private currentTime(): number {
    const clock = this.clock as Partial<ApiKeyClock> & Pick<ApiKeyClock, 'now'>;
    return clock.nowMs ? clock.nowMs() : clock.now().getTime();
  }

  /** The shape check, and for keys in the configured format (or when only those are accepted) its parse. */
  private isWellFormed(key: string): boolean {
    const { format, maxKeyLength, onlyGeneratedKeys } = this.options;
    if (!isWellFormedKey(key, maxKeyLength)) return false;
    return format.claims(key) ? format.parse(key) !== null : !onlyGeneratedKeys;
  }

  /**
   * The verification of a found record at `now`; records the key's use when it is valid, with
   * the expiry notice of a key that stops working soon (only a key with a state can).
   */
  private outcome(stored: VerifiedApiKey, now: number): ApiKeyVerification {
    const refusal = refusalOf(stored, now);
    if (refusal) return this.refused(refusal, now);
    this.usage?.record(stored.principal.id, now);
    const expiry = stored.state === null ? undefined : this.expiryNotices?.noticeOf(stored, stored.state, now);
    return this.accepted(stored.principal, now, expiry);
  }

  private accepted(principal: ApiKeyPrincipal, now: number, expiry?: ApiKeyExpiryNotice): ApiKeyVerification {
    if (this.events?.acceptsAuthenticated)
      this.events.emit({ type: ApiKeyEventType.Authenticated, keyId: principal.id, at: new Date(now) });
    return expiry ? { valid: true, principal, expiry } : { valid: true, principal };
  }

  private refused(result: ApiKeyVerification & { valid: false }, now: number): ApiKeyVerification {
    this.events?.emit({
      type: ApiKeyEventType.AuthenticationFailed,
      reason: result.reason,
      keyId: result.keyId ?? null,
      at: new Date(now),
    });
    return result;
  }

  /**
   * Checks a verified key's restrictions (see {@link ApiKeyRestrictions}) against the request's
   * client `address` (resolved through the platform's trusted-proxy setting, as {@link clientIpOf}
   * does) and its `Origin` header. Resolves to why the key may not be used from there, after
   * emitting an `api-key.restricted` event, or to `undefined` when it may (always for a key without
   * restrictions, at the cost of one property read). The guard calls it; call it yourself where no
   * guard applies (a WebSocket handshake).
   */
  checkRestrictions(
    principal: ApiKeyPrincipal,
    address: string | undefined,
    origin: string | undefined,
  ): ApiKeyRestrictionReason | undefined {
    const reason = restrictionsOf(principal)?.refusal(address, origin);
    if (reason !== undefined) {
      this.events?.emit({
        type: ApiKeyEventType.Restricted,
        keyId: principal.id,
        reason,
        address: address ?? null,
        origin: origin ?? null,
        at: new Date(this.currentTime()),
      });
    }
    return reason;
  }

  /**
   * Whether `value` is a principal this authenticator gives out: one of its static keys', or one
   * verified from its repository (by any authenticator over the same repository object). A
   * principal of another `ApiKeyModule` instance's keys, or any look-alike, is not. The guard
   * trusts a principal already on a request only if it is.
   */
  issued(value: unknown): value is ApiKeyPrincipal {
    const issuer = issuerOf(value);
    return issuer !== undefined && (issuer === this || issuer === this.repository);
  }

  /**
   * Whether `principal` is one it gives out (see {@link issued}) and is still valid at the clock's
   * time as far as the record it was verified from says (its expiry, a revocation or a secret's end
   * already set then). A change to the stored key since is not seen: the caller learns of those
   * through change notifications. Lets an open connection reuse the principal it was admitted with.
   */
  stillValid(principal: ApiKeyPrincipal): boolean {
    if (!this.issued(principal)) return false;
    const state = stateOf(principal);
    return state === null || refusalOf({ principal, state }, this.currentTime()) === undefined;
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

  /**
   * The verified record stored under `hash`, or `null`: through the store's own verified lookup
   * when it offers one (see `offerVerifiedLookup`), otherwise through a shared, timed
   * `findByHash` whose record is validated here. Fails with
   * {@link ApiKeyStoreUnavailableException} when the store fails or returns an unusable record.
   */
  private async lookup(hash: string): Promise<VerifiedApiKey | null> {
    const verifiedLookup = verifiedLookupOf(this.repository);
    if (verifiedLookup) {
      // Not shared here: such a store (the cache) shares its own lookups and stops sharing one
      // when a write or change notice invalidates it, which a second sharing here would outlive.
      try {
        const found = verifiedLookup(hash);
        return found instanceof Promise ? await this.timeout.race(found) : found;
      } catch (error) {
        throw this.unavailable(error);
      }
    }
    let found: unknown;
    try {
      found = await this.findShared(hash, () => this.repository.findByHash(hash));
    } catch (error) {
      throw this.unavailable(error);
    }
    if (found === null || found === undefined) return null;
    const stored = verifyRecord(found, hash, this.repository);
    if (stored) return stored;
    this.logger.error('Key repository returned a malformed or mismatching record');
    throw new ApiKeyStoreUnavailableException();
  }

  private unavailable(error: unknown): ApiKeyStoreUnavailableException {
    this.logger.error(`Key repository lookup failed: ${escapeForLog(String((error as Error)?.message ?? error))}`);
    return new ApiKeyStoreUnavailableException();
  }

  /**
   * The repository lookup of `hash` (`start` starts it) under the lookup timeout, shared by
   * every verification of the same hash that starts while it is pending, so a burst of requests
   * with one key (or a hanging store) costs one repository call instead of piling up. It leaves
   * the shared set as it settles or times out: nothing is cached, and a failed lookup is not
   * shared again.
   */
  private findShared(hash: string, start: () => unknown): Promise<unknown> {
    const pending = this.inFlight.get(hash);
    if (pending) return pending;
    let call: unknown;
    try {
      call = start();
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
