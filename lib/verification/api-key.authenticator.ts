import { Injectable, Logger, Optional } from '@nestjs/common';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import type { ApiKeyVerification } from './api-key-verification.interface.js';
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
import { HashMemo } from './hash-memo.js';
import { findVerified, issuePrincipal, issuerOf, pairedFindByHash, refusalOf, verifyRecord, type VerifiedApiKey, type VerifiedLookup } from '../storage/verified-api-key.js';

const MALFORMED: ApiKeyVerification & { valid: false } = Object.freeze({ valid: false, reason: 'malformed' });
const NOT_FOUND: ApiKeyVerification & { valid: false } = Object.freeze({ valid: false, reason: 'not_found' });

/** A verification that is known at once, or one waiting for the repository. */
export type ApiKeyVerificationResult = ApiKeyVerification | Promise<ApiKeyVerification>;

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
  private readonly memo = new HashMemo();
  /** The `findByHash` behind the repository's in-memory lookup, if it has one (see {@link pairedFindByHash}). */
  private readonly fastFindByHash: unknown;

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
    this.fastFindByHash = pairedFindByHash(repository);
    for (const entry of options.keys) {
      // A copy of the configured scopes, so the frozen principal owns it (issuePrincipal copies the metadata).
      const principal = issuePrincipal(this, entry.id ?? entry.name, entry.name, [...(entry.scopes ?? [])], entry.ownerId ?? null, entry.metadata ?? null);
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
    return this.verifyInline(key, now);
  }

  /**
   * {@link verify} without a promise when none is needed: when the outcome is known without
   * waiting for storage (a malformed or static key, a key the in-memory store or the cache holds)
   * it returns the verification itself, otherwise a promise of it. Throws (or rejects) with
   * {@link ApiKeyStoreUnavailableException} as `verify` rejects. The guard uses it, so a request
   * whose key is answered from memory does not wait for the microtask queue.
   */
  verifyInline(key: string, now?: Date): ApiKeyVerificationResult {
    return this.verifyAt(key, now?.getTime() ?? this.currentTime());
  }

  /** The clock's time in epoch ms; a clock given as a plain `{ now }` object (in tests) has no `nowMs`. */
  private currentTime(): number {
    const clock = this.clock as Partial<ApiKeyClock> & Pick<ApiKeyClock, 'now'>;
    return clock.nowMs ? clock.nowMs() : clock.now().getTime();
  }

  /** {@link verifyInline} at `now`, in epoch ms. */
  private verifyAt(key: string, now: number): ApiKeyVerificationResult {
    const { format } = this.options;
    if (!isWellFormedKey(key, this.options.maxKeyLength) || (format.claims(key) ? format.parse(key) === null : this.options.onlyGeneratedKeys)) {
      return this.refused(MALFORMED, now);
    }
    const digest = this.memo.digest(key);
    const remembered = this.memo.get(digest);
    if (remembered !== undefined) {
      const known = this.staticKeys.get(remembered);
      return known ? this.accepted(known, now) : this.verifyStored([remembered], 0, now, digest, key);
    }
    const candidates = this.hasher.candidates(key);
    const known = this.staticKeys.get(candidates[0]!);
    if (known) {
      this.memo.remember(digest, candidates[0]!);
      return this.accepted(known, now);
    }
    return this.verifyStored(candidates, 0, now, digest);
  }

  /**
   * Looks the candidate hashes up from `index` on, synchronously for as long as the store
   * answers so, and remembers the one that finds a record. `retry` is the key when the only
   * candidate is the memo's (already remembered): if it finds nothing, the key is forgotten and
   * every hash tried.
   */
  private verifyStored(candidates: readonly string[], index: number, now: number, digest: string, retry?: string): ApiKeyVerificationResult {
    // A hash that came from the memo is remembered already.
    const unremembered = retry === undefined ? digest : undefined;
    for (let i = index; i < candidates.length; i++) {
      const hash = candidates[i]!;
      const found = this.lookup(hash);
      if (found instanceof Promise) {
        return found.then((stored) => (stored ? this.outcome(stored, hash, unremembered, now) : this.verifyStored(candidates, i + 1, now, digest, retry)));
      }
      if (found) return this.outcome(found, hash, unremembered, now);
    }
    if (retry !== undefined) {
      this.memo.forget(digest);
      return this.verifyStored(this.hasher.candidates(retry), 0, now, digest);
    }
    return this.refused(NOT_FOUND, now);
  }

  /** The verification of a found record; remembers its hash under `digest` when one is given. */
  private outcome(stored: VerifiedApiKey, hash: string, digest: string | undefined, now: number): ApiKeyVerification {
    if (digest !== undefined) this.memo.remember(digest, hash);
    const refusal = refusalOf(stored, now);
    if (refusal) return this.refused(refusal, now);
    this.usage?.record(stored.principal.id, now);
    return this.accepted(stored.principal, now);
  }

  private accepted(principal: ApiKeyPrincipal, now: number): ApiKeyVerification {
    if (this.events?.acceptsAuthenticated) this.events.emit({ type: ApiKeyEventType.Authenticated, keyId: principal.id, at: new Date(now) });
    return { valid: true, principal };
  }

  private refused(result: ApiKeyVerification & { valid: false }, now: number): ApiKeyVerification {
    this.events?.emit({ type: ApiKeyEventType.AuthenticationFailed, reason: result.reason, keyId: result.keyId ?? null, at: new Date(now) });
    return result;
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
   * The verified record stored under `hash`, or `null`: at once when the store holds it in
   * memory, otherwise through a shared, timed lookup. Fails with
   * {@link ApiKeyStoreUnavailableException} when the store fails or returns an unusable record.
   */
  private lookup(hash: string): VerifiedApiKey | null | Promise<VerifiedApiKey | null> {
    if (this.fastFindByHash !== undefined && this.repository.findByHash === this.fastFindByHash) {
      let found: VerifiedApiKey | null | Promise<VerifiedApiKey | null>;
      try {
        found = (this.repository as unknown as VerifiedLookup)[findVerified](hash);
      } catch (error) {
        throw this.unavailable(error);
      }
      if (!(found instanceof Promise)) return found;
      // Not shared here: such a store (the cache) shares its own lookups and stops sharing one
      // when a write or change notice invalidates it, which a second sharing here would outlive.
      return this.timeout.race(found).catch((error: unknown) => {
        throw this.unavailable(error);
      });
    }
    return this.findShared(hash, () => this.repository.findByHash(hash)).then(
      (found) => {
        if (found === null || found === undefined) return null;
        const stored = verifyRecord(found, hash, this.repository);
        if (stored) return stored;
        this.logger.error('Key repository returned a malformed or mismatching record');
        throw new ApiKeyStoreUnavailableException();
      },
      (error: unknown) => Promise.reject(this.unavailable(error)),
    );
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
