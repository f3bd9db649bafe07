import { Injectable, Optional } from '@nestjs/common';
import type { ApiKeyVerification } from '../verification/api-key-verification.interface.js';
import { ApiKeyLifecycleError } from '../api-key-lifecycle.error.js';
import { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import { isApiKeyStore } from '../storage/api-key-store.predicate.js';
import { ApiKeyAuthenticator } from '../verification/api-key.authenticator.js';
import { ApiKeyClock } from '../verification/api-key.clock.js';
import { ApiKeyChanges } from '../verification/api-key.changes.js';
import { ApiKeyEventSink, ApiKeyEventType, type ApiKeyLifecycleEvent } from '../api-key.events.js';
import { ApiKeyFormat } from '../keys/api-key.format.js';
import { ApiKeyHasher } from '../keys/api-key.hasher.js';
import { ApiKeyRepository } from '../storage/api-key.repository.js';
import { escapeForLog } from '../log-escape.js';
import {
  insertWithinOwnerLimitOf,
  revokeOwnerOf,
  type ApiKeyListQuery,
  type ApiKeyPatch,
  type ApiKeyStore,
  type StoredApiKey,
} from '../storage/api-key.store.js';
import { normalizeOrigin, parseNetwork } from '../guard/api-key.restrictions.js';

/** What {@link ApiKeyService.create} needs. */
export interface CreateApiKeyInput {
  /** Human-readable name ("billing-service"). */
  readonly name: string;
  /** Scopes granted. Default: none. */
  readonly scopes?: readonly string[];
  /** Owner (user, team or service id). Default `null`. */
  readonly ownerId?: string | null;
  /** Application data exposed on the principal. Default `{}`. */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /**
   * The key stops working at this instant (inclusive). Must be in the future, and within the
   * module's `keyLifetime.maxMs` when set. Default: `keyLifetime`'s default lifetime, else never.
   */
  readonly expiresAt?: Date | null;
  /**
   * Client networks the key may be used from, in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`;
   * a bare address is one host). Default `null`: any network. See {@link ApiKeyRestrictions}.
   */
  readonly allowedNetworks?: readonly string[] | null;
  /** Browser origins the key may be used from (`https://app.example.com`). Default `null`: any origin. */
  readonly allowedOrigins?: readonly string[] | null;
}

/** Fields {@link ApiKeyService.update} may change; absent fields are kept. */
export interface UpdateApiKeyInput {
  readonly name?: string;
  readonly scopes?: readonly string[];
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** A new expiry (`null`: never). */
  readonly expiresAt?: Date | null;
  /** New allowed networks (`null` or `[]`: any network). */
  readonly allowedNetworks?: readonly string[] | null;
  /** New allowed origins (`null` or `[]`: any origin). */
  readonly allowedOrigins?: readonly string[] | null;
}

/** Options of {@link ApiKeyService.rotate}. */
export interface RotateApiKeyOptions {
  /**
   * How long the previous secret keeps working, in ms: a whole number ≥ 0 whose end is a valid
   * `Date` (before year 275760), else `rotate` throws `invalid_input`. `0` revokes it at once (a
   * leaked key). The new secret works from the moment `rotate` resolves.
   */
  readonly gracePeriodMs: number;
  /**
   * The key's new expiry (`null`: never), within `keyLifetime.maxMs` when set. Default: renewed to
   * `keyLifetime`'s default lifetime from now when the module has a lifetime policy, else unchanged.
   */
  readonly expiresAt?: Date | null;
}

/** A key as issued: the plaintext, shown exactly once, and the stored record. */
export interface IssuedApiKey {
  /** The plaintext key. It is not stored anywhere: hand it to its user now. */
  readonly key: string;
  /** The stored key (without any secret). */
  readonly apiKey: StoredApiKey;
}

/** The result of a rotation. */
export interface RotatedApiKey extends IssuedApiKey {
  /** When the previous secret(s) stop working. */
  readonly previousSecretsExpireAt: Date;
}

const WRITE_ATTEMPTS = 3;
const OPERATIONS: Record<ApiKeyLifecycleEvent['type'], string> = {
  [ApiKeyEventType.Created]: 'create',
  [ApiKeyEventType.Updated]: 'update',
  [ApiKeyEventType.Revoked]: 'revoke',
  [ApiKeyEventType.Disabled]: 'disable',
  [ApiKeyEventType.Enabled]: 'enable',
};

/**
 * Manages keys: creates them (the plaintext is returned once), verifies, lists, updates,
 * revokes, disables and enables them, and rotates their secret with a grace period. Writes
 * are version-conditional: a concurrent change is retried (updates) or reported as a
 * `conflict` {@link ApiKeyLifecycleError} (rotations). Every change applies to the next
 * request on this instance (lookups in flight are not reused), has the open WebSocket connections
 * and GraphQL subscriptions of the key verified again at once, and emits an event. A write the
 * store fails rejects with `store_failed` (it may still have been applied).
 *
 * Management needs the repository to be an {@link ApiKeyStore} (the default in-memory one is);
 * with a lookup-only repository every method but `verify` throws `store_required`.
 */
@Injectable()
export class ApiKeyService {
  private readonly format: ApiKeyFormat;
  private readonly maxActiveKeysPerOwner: number | null;
  private readonly lifetime: ResolvedApiKeyOptions['keyLifetime'];

  constructor(
    options: ResolvedApiKeyOptions,
    private readonly hasher: ApiKeyHasher,
    private readonly repository: ApiKeyRepository,
    private readonly authenticator: ApiKeyAuthenticator,
    private readonly clock: ApiKeyClock,
    private readonly events: ApiKeyEventSink,
    @Optional() private readonly changes?: ApiKeyChanges,
  ) {
    this.format = options.format;
    this.maxActiveKeysPerOwner = options.maxActiveKeysPerOwner;
    this.lifetime = options.keyLifetime;
  }

  /**
   * Creates a key. Resolves to its plaintext (returned this once, never stored) and record.
   * Throws `owner_limit_reached` when its owner already holds `maxActiveKeysPerOwner` active
   * keys (the package's stores count and insert atomically, also across instances).
   */
  async create(input: CreateApiKeyInput): Promise<IssuedApiKey> {
    const store = this.store();
    const now = this.clock.now();
    if (input === null || typeof input !== 'object')
      invalid('create() needs { name, scopes?, ownerId?, metadata?, expiresAt?, allowedNetworks?, allowedOrigins? }');
    const expiresAt = this.expiryOf(input.expiresAt, now);
    const { key, id } = this.format.generate();
    const apiKey: StoredApiKey = {
      id,
      name: nameOf(input.name),
      scopes: scopesOf(input.scopes ?? []),
      ownerId: ownerOf(input.ownerId),
      metadata: metadataOf(input.metadata ?? {}),
      createdAt: now,
      updatedAt: now,
      expiresAt,
      revokedAt: null,
      disabled: false,
      lastUsedAt: null,
      version: 1,
      allowedNetworks: networksOf(input.allowedNetworks),
      allowedOrigins: originsOf(input.allowedOrigins),
    };
    const secret = { hash: this.hasher.hash(key), keyId: id, createdAt: now, expiresAt: null };
    const limit = this.maxActiveKeysPerOwner;
    const inserted = await this.write(OPERATIONS[ApiKeyEventType.Created], `key "${id}"`, async () => {
      if (limit !== null && apiKey.ownerId !== null) return insertWithinOwnerLimitOf(store, apiKey, secret, limit, now);
      await store.insert(apiKey, secret);
      return true;
    });
    if (!inserted) {
      throw new ApiKeyLifecycleError(
        'owner_limit_reached',
        `owner "${escapeForLog(apiKey.ownerId!, 200)}" already has ${limit} active keys (maxActiveKeysPerOwner); ` +
          'revoke one before creating another',
      );
    }
    this.emit(ApiKeyEventType.Created, id, now);
    return { key, apiKey };
  }

  /**
   * Verifies a presented key at the clock's time: the principal, or why it was refused
   * (`malformed`, `not_found`, `expired`, `revoked`, `disabled`). The reason is for logs and
   * admin tools, never for an HTTP response. Rejects when the store fails.
   */
  verify(key: string): Promise<ApiKeyVerification> {
    return this.authenticator.verify(key);
  }

  /**
   * Keys ordered by id (byte-wise in UTF-8), optionally filtered by owner and paged (`after`,
   * `limit`); the package's stores return at most 1,000 per call, also by default.
   */
  async list(query: ApiKeyListQuery = {}): Promise<StoredApiKey[]> {
    if (query.limit !== undefined && (!Number.isSafeInteger(query.limit) || query.limit <= 0))
      invalid('limit must be a positive integer');
    for (const field of ['after', 'ownerId'] as const) {
      const value = query[field];
      if (value !== undefined && (typeof value !== 'string' || !isStorableText(value)))
        invalid(`${field} must be a string without NUL characters or unpaired surrogates`);
    }
    return this.store().list(query);
  }

  /** The key with this id; throws `not_found` when there is none. */
  async get(id: string): Promise<StoredApiKey> {
    if (typeof id !== 'string') invalid('id must be a string');
    if (!isStorableText(id)) notFound(JSON.stringify(id).slice(1, -1)); // no store holds such an id
    const key = await this.store().findById(id);
    if (!key) notFound(id);
    return key;
  }

  /** Changes a key's name, scopes, metadata or expiry. Throws `not_found` or `revoked`. */
  async update(id: string, input: UpdateApiKeyInput): Promise<StoredApiKey> {
    if (input === null || typeof input !== 'object')
      invalid('update() needs { name?, scopes?, metadata?, expiresAt?, allowedNetworks?, allowedOrigins? }');
    return this.change(id, ApiKeyEventType.Updated, (key, now) => {
      refuseRevoked(key);
      return {
        name: input.name === undefined ? undefined : nameOf(input.name),
        scopes: input.scopes === undefined ? undefined : scopesOf(input.scopes),
        metadata: input.metadata === undefined ? undefined : metadataOf(input.metadata),
        expiresAt: input.expiresAt === undefined ? undefined : this.expiryOf(input.expiresAt, now),
        allowedNetworks: input.allowedNetworks === undefined ? undefined : networksOf(input.allowedNetworks),
        allowedOrigins: input.allowedOrigins === undefined ? undefined : originsOf(input.allowedOrigins),
        updatedAt: now,
      };
    });
  }

  /** Revokes a key for good, every secret at once. Revoking a revoked key changes nothing. */
  revoke(id: string): Promise<StoredApiKey> {
    return this.change(id, ApiKeyEventType.Revoked, (key, now) =>
      key.revokedAt ? null : { revokedAt: now, updatedAt: now },
    );
  }

  /**
   * Revokes every key of `ownerId` that is not revoked yet, in one store write (and, on
   * PostgreSQL, one change notification: caches on every instance forget their keys within the
   * usual bound). Resolves to the ids revoked, in id order (empty when there was none); emits
   * `api-key.revoked` for each. Keys the owner creates afterwards are not affected.
   */
  async revokeOwner(ownerId: string): Promise<string[]> {
    if (typeof ownerId !== 'string' || ownerId === '') invalid('ownerId must be a non-empty string');
    const store = this.store();
    if (!isStorableText(ownerId)) return []; // no store holds such an owner
    const now = this.clock.now();
    const revoked = await this.write(
      'revokeOwner',
      `owner "${ownerId}"`,
      () => revokeOwnerOf(store, ownerId, now),
      null,
    );
    for (const id of revoked) {
      this.changes?.changed(id);
      this.emit(ApiKeyEventType.Revoked, id, now);
    }
    return revoked;
  }

  /** Refuses the key until {@link enable}. Throws `revoked` for a revoked key. */
  disable(id: string): Promise<StoredApiKey> {
    return this.change(
      id,
      ApiKeyEventType.Disabled,
      (key, now) => (refuseRevoked(key), key.disabled ? null : { disabled: true, updatedAt: now }),
    );
  }

  /** Lets a disabled key work again. Throws `revoked` for a revoked key. */
  enable(id: string): Promise<StoredApiKey> {
    return this.change(
      id,
      ApiKeyEventType.Enabled,
      (key, now) => (refuseRevoked(key), key.disabled ? { disabled: false, updatedAt: now } : null),
    );
  }

  /**
   * Gives the key a new secret: same id, scopes, owner, metadata and history. The new key works
   * as soon as this resolves; the previous secret(s) keep working until `gracePeriodMs` from
   * now and stop exactly then (`0`: at once). The store swaps them atomically, so there is no
   * moment without a valid secret. Of two concurrent rotations one wins, the other throws
   * `conflict`. Throws `not_found` or `revoked` too, and `invalid_input` for a bad `gracePeriodMs`
   * (nothing is written then).
   */
  async rotate(id: string, options: RotateApiKeyOptions): Promise<RotatedApiKey> {
    const store = this.store();
    const grace = options?.gracePeriodMs;
    if (typeof grace !== 'number' || !Number.isSafeInteger(grace) || grace < 0)
      invalid('gracePeriodMs must be a whole number of milliseconds >= 0');
    const current = await this.get(id);
    refuseRevoked(current);
    if (!ApiKeyFormat.isValidId(id))
      invalid(`key "${id}" has an id that cannot be embedded in a generated key (1 to 64 letters and digits)`);
    const now = this.clock.now();
    const previousSecretsExpireAt = new Date(now.getTime() + grace);
    if (Number.isNaN(previousSecretsExpireAt.getTime()))
      invalid('gracePeriodMs is too long: it would end past the latest date a Date can hold');
    const renewed = options.expiresAt === undefined && !this.hasLifetimePolicy();
    const expiresAt = renewed ? undefined : this.expiryOf(options.expiresAt, now);
    const { key } = this.format.generate(id);
    const secret = { hash: this.hasher.hash(key), keyId: id, createdAt: now, expiresAt: null };
    const apiKey = await this.write(
      'rotate',
      `key "${id}"`,
      () => store.rotate(id, current.version, secret, previousSecretsExpireAt, expiresAt),
      id,
    );
    if (!apiKey) {
      if (!(await store.findById(id))) notFound(id);
      throw new ApiKeyLifecycleError(
        'conflict',
        `key "${id}" changed during the rotation (another rotation or update won); nothing was rotated`,
      );
    }
    this.changes?.changed(id);
    this.events.emit({ type: ApiKeyEventType.Rotated, keyId: id, at: now, previousSecretsExpireAt });
    return { key, apiKey, previousSecretsExpireAt };
  }

  /**
   * The expiry of a key created, rotated or updated at `now` with `requested` as its `expiresAt`
   * (`undefined`: none asked for), under the module's lifetime policy; throws `invalid_input` for
   * an expiry that is not a future `Date` or `null`, or that the policy's maximum does not allow.
   */
  private expiryOf(requested: unknown, now: Date): Date | null {
    const { maxMs, defaultMs } = this.lifetime;
    if (requested === undefined) {
      const lifetime = defaultMs ?? maxMs;
      return lifetime === null ? null : new Date(now.getTime() + lifetime);
    }
    const expiresAt = expiryOf(requested, now);
    if (maxMs === null) return expiresAt;
    const latest = now.getTime() + maxMs;
    if (expiresAt === null || expiresAt.getTime() > latest) {
      invalid(
        `expiresAt must be at most ${describeMs(maxMs)} from now (the maximum lifetime of a key), ` +
          `at the latest ${new Date(latest).toISOString()}` +
          (expiresAt === null ? ': a key that never expires is not allowed' : ''),
      );
    }
    return expiresAt;
  }

  private hasLifetimePolicy(): boolean {
    return this.lifetime.maxMs !== null || this.lifetime.defaultMs !== null;
  }

  /** Applies `build`'s patch with a version-conditional write, retrying on a concurrent change. */
  private async change(
    id: string,
    type: ApiKeyLifecycleEvent['type'],
    build: (key: StoredApiKey, now: Date) => ApiKeyPatch | null,
  ): Promise<StoredApiKey> {
    const store = this.store();
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const key = await this.get(id);
      const now = this.clock.now();
      const patch = build(key, now);
      if (!patch) return key;
      const updated = await this.write(OPERATIONS[type], `key "${id}"`, () => store.update(id, key.version, patch), id);
      if (updated) {
        this.changes?.changed(id);
        this.emit(type, id, now);
        return updated;
      }
    }
    throw new ApiKeyLifecycleError(
      'conflict',
      `key "${id}" kept changing concurrently; gave up after ${WRITE_ATTEMPTS} attempts`,
    );
  }

  /**
   * Runs one store write. Whatever its outcome, later verifications read the store afresh (a
   * write that failed may still have been applied, a lost acknowledgement), and after a failed
   * write to existing keys (`changed`: the key's id, `null` for several) their open connections
   * are verified again, as after a change. A failure is reported as a `store_failed`
   * {@link ApiKeyLifecycleError} naming the operation and its `subject` (`key "<id>"`), with the
   * store's error as `cause`; no event is emitted for it.
   */
  private async write<T>(
    operation: string,
    subject: string,
    call: () => Promise<T>,
    changed?: string | null,
  ): Promise<T> {
    let failed = false;
    try {
      return await call();
    } catch (error) {
      failed = true;
      throw new ApiKeyLifecycleError(
        'store_failed',
        `${operation} of ${subject} failed in the store (` +
          `${escapeForLog(String((error as Error)?.message ?? error), 200)}); ` +
          `it may or may not have been applied: read the key with get() before retrying`,
        { cause: error },
      );
    } finally {
      this.authenticator.invalidate();
      // After the invalidation: the connections' re-checks read the store afresh.
      if (failed && changed !== undefined) this.changes?.changed(changed);
    }
  }

  private emit(type: ApiKeyLifecycleEvent['type'], keyId: string, at: Date): void {
    this.events.emit({ type, keyId, at });
  }

  private store(): ApiKeyStore {
    if (!isApiKeyStore(this.repository)) {
      throw new ApiKeyLifecycleError(
        'store_required',
        'ApiKeyService needs a repository that implements ApiKeyStore ' +
          '(insert, findById, list, update, rotate, touch); ' +
          `the configured ${this.repository.constructor?.name ?? 'repository'} only looks keys up`,
      );
    }
    return this.repository;
  }
}

function invalid(message: string): never {
  throw new ApiKeyLifecycleError('invalid_input', message);
}

function notFound(id: string): never {
  throw new ApiKeyLifecycleError('not_found', `no key with id "${id}"`);
}

function refuseRevoked(key: StoredApiKey): void {
  if (key.revokedAt) throw new ApiKeyLifecycleError('revoked', `key "${key.id}" is revoked; create a new key instead`);
}

function nameOf(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '' || name.length > 200)
    invalid('name must be a non-empty string of at most 200 characters');
  if (!isStorableText(name)) invalid(unstorable('name'));
  return name;
}

function scopesOf(scopes: unknown): string[] {
  if (
    !Array.isArray(scopes) ||
    scopes.some((scope) => typeof scope !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(scope))
  ) {
    invalid('scopes must be an array of non-empty strings of visible ASCII characters without spaces');
  }
  return [...new Set(scopes as string[])];
}

function ownerOf(ownerId: unknown): string | null {
  if (ownerId === undefined || ownerId === null) return null;
  if (typeof ownerId !== 'string' || ownerId === '') invalid('ownerId must be a non-empty string or null');
  if (!isStorableText(ownerId)) invalid(unstorable('ownerId'));
  return ownerId;
}

function metadataOf(metadata: unknown): Record<string, unknown> {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))
    invalid('metadata must be a plain object');
  try {
    JSON.stringify(metadata); // stores keep metadata as JSON: a cycle or a BigInt cannot be kept
  } catch {
    invalid('metadata must be serialisable as JSON');
  }
  if (!storableJson(metadata)) invalid(unstorable('metadata (its keys and strings)'));
  return { ...(metadata as Record<string, unknown>) };
}

function unstorable(field: string): string {
  return `${field} must not contain NUL characters or unpaired UTF-16 surrogates (PostgreSQL cannot store them)`;
}

/** Whether every store can keep `text`: no NUL, no unpaired surrogate (PostgreSQL refuses both). */
function isStorableText(text: string): boolean {
  return !/\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

/** {@link isStorableText} for every key and string of a JSON-serialisable value. */
function storableJson(value: unknown): boolean {
  if (typeof value === 'string') return isStorableText(value);
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) return value.every(storableJson);
  return Object.entries(value).every(([key, item]) => isStorableText(key) && storableJson(item));
}

/** The most entries a key's list of networks or of origins may hold. */
const MAX_RESTRICTIONS = 1000;

/** A validated list of restrictions (each entry through `check`, duplicates dropped); `null` for none. */
function restrictionListOf(list: unknown, field: string, check: (entry: string) => string): string[] | null {
  if (list === undefined || list === null) return null;
  if (!Array.isArray(list) || list.some((entry) => typeof entry !== 'string'))
    invalid(`${field} must be an array of strings or null`);
  if (list.length > MAX_RESTRICTIONS) invalid(`${field} must hold at most ${MAX_RESTRICTIONS} entries`);
  try {
    const entries = [...new Set((list as string[]).map(check))];
    return entries.length === 0 ? null : entries;
  } catch (error) {
    return invalid(`${field}: ${(error as Error).message}`);
  }
}

function networksOf(list: unknown): string[] | null {
  return restrictionListOf(list, 'allowedNetworks', (entry) => (parseNetwork(entry), entry));
}

function originsOf(list: unknown): string[] | null {
  return restrictionListOf(list, 'allowedOrigins', normalizeOrigin);
}

/** `366 days`, `12 hours`, `90 s`: a lifetime for messages, in the largest whole unit. */
function describeMs(ms: number): string {
  for (const [unit, size] of [
    ['days', 86_400_000],
    ['hours', 3_600_000],
    ['minutes', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size} ${unit}`;
  }
  return `${ms} ms`;
}

function expiryOf(expiresAt: unknown, now: Date): Date | null {
  if (expiresAt === undefined || expiresAt === null) return null;
  if (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime()))
    invalid('expiresAt must be a valid Date or null');
  if (expiresAt.getTime() <= now.getTime()) invalid('expiresAt must be in the future');
  return expiresAt;
}
