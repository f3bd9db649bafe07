import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import type { ApiKeyRecord } from './api-key-record.interface.js';
import type { ApiKeyVerification } from '../verification/api-key-verification.interface.js';
import { ApiKeyHasher } from '../keys/api-key.hasher.js';
import { frozenCopy } from './frozen-copy.js';
import { ApiKeyRestrictions } from '../guard/api-key.restrictions.js';

/**
 * A key record validated once, in the form verification reads on every request: the frozen
 * principal (shared by every request the record authenticates) and the record's state (`null`
 * when the key never expires and is neither revoked nor disabled, as most keys). Neither can
 * change after it is built, so stores that keep records in memory keep these and hand them to the
 * authenticator as they are (the cache's entries add its own bookkeeping fields beside them).
 */
export interface VerifiedApiKey {
  readonly principal: ApiKeyPrincipal;
  readonly state: ApiKeyState | null;
}

/** A record's state, instants as epoch milliseconds (`null`: none). */
export interface ApiKeyState {
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly disabled: boolean;
  readonly secretExpiresAt: number | null;
}

/** The lookup a store keeps of its verified records: at once when in memory, a promise otherwise. */
export type VerifiedLookup = (hash: string) => VerifiedApiKey | null | Promise<VerifiedApiKey | null>;

/** The verified lookups stores offered, with the `findByHash` each stands for. */
const verifiedLookups = new WeakMap<object, { readonly findByHash: unknown; readonly lookup: VerifiedLookup }>();

/**
 * Offers the authenticator `store`'s lookup of the verified records it keeps in memory (the
 * in-memory store, the cache), so verification does not re-validate a record the store has
 * validated already. `findByHash` is the class's own method the lookup stands for.
 */
export function offerVerifiedLookup(store: object, findByHash: unknown, lookup: VerifiedLookup): void {
  verifiedLookups.set(store, { findByHash, lookup });
}

/**
 * The verified lookup `repository` offered, while its `findByHash` is still the one the lookup
 * stands for; `undefined` otherwise. A subclass or an instance that replaces `findByHash` (to
 * count, log or fail lookups) is asked through it.
 */
export function verifiedLookupOf(repository: { readonly findByHash: unknown }): VerifiedLookup | undefined {
  const offered = verifiedLookups.get(repository);
  return offered && repository.findByHash === offered.findByHash ? offered.lookup : undefined;
}

/** The issuer of every principal this library built (see {@link issuePrincipal}). */
const issuers = new WeakMap<object, object>();

/**
 * Who issued `value` (the store or authenticator given to {@link issuePrincipal}) when it is a
 * principal this library built, `undefined` for anything else: a copy, or a principal a
 * middleware or the client's data made up, has no issuer.
 */
export function issuerOf(value: unknown): object | undefined {
  return typeof value === 'object' && value !== null ? issuers.get(value) : undefined;
}

/** The state of the record each principal of a limited key was verified from. */
const states = new WeakMap<object, ApiKeyState>();

/**
 * The state of the record `principal` was verified from (`null`: a key without one, or a static
 * key): what {@link refusalOf} reads to tell whether that principal is still valid at an instant.
 */
export function stateOf(principal: ApiKeyPrincipal): ApiKeyState | null {
  return states.get(principal) ?? null;
}

/** The shared frozen metadata of principals without any. */
const NO_METADATA: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * The verified form of `value`, a record a repository returned for `hash`, or `undefined` when
 * it is not a well-formed record of that hash (the digests are compared in constant time). The
 * record is copied once, so nothing later reads the repository's object again: a getter or
 * proxy that throws, or a later mutation, cannot turn into a 500 or a mix-up.
 */
export function verifyRecord(value: unknown, hash: string, issuer: object): VerifiedApiKey | undefined {
  try {
    const source = value as ApiKeyRecord;
    if (typeof source !== 'object' || source === null || !Array.isArray(source.scopes)) return undefined;
    const { id, name, ownerId, disabled } = source;
    const scopes = [...source.scopes];
    const metadata: unknown = source.metadata;
    const expiresAt = instantOf(source.expiresAt);
    const revokedAt = instantOf(source.revokedAt);
    const secretExpiresAt = instantOf(source.secretExpiresAt);
    const restrictions = recordRestrictions(source);
    const valid =
      typeof id === 'string' &&
      typeof name === 'string' &&
      typeof source.hash === 'string' &&
      scopes.every((scope) => typeof scope === 'string') &&
      (ownerId === undefined || ownerId === null || typeof ownerId === 'string') &&
      (metadata === undefined || metadata === null || isPlainObject(metadata)) &&
      (disabled === undefined || typeof disabled === 'boolean') &&
      expiresAt !== undefined &&
      revokedAt !== undefined &&
      secretExpiresAt !== undefined &&
      restrictions !== undefined &&
      ApiKeyHasher.equal(source.hash, hash);
    if (!valid) return undefined;
    const limited = expiresAt !== null || revokedAt !== null || secretExpiresAt !== null || disabled === true;
    const principal = issuePrincipal(
      issuer,
      id,
      name,
      scopes,
      ownerId ?? null,
      (metadata as Record<string, unknown>) ?? null,
      restrictions,
    );
    const state = limited ? { expiresAt, revokedAt, disabled: disabled === true, secretExpiresAt } : null;
    if (state) states.set(principal, state);
    return { principal, state };
  } catch {
    return undefined;
  }
}

/**
 * A principal of a static key or a verified record: frozen, with the scopes array given to it (a
 * copy it owns) frozen in place and a deep, frozen copy of `metadata` (plain objects and arrays
 * all the way down, so no handler can change what later requests read), and recorded as issued
 * by `issuer` (the store the record came from, or the authenticator for its static keys).
 */
export function issuePrincipal(
  issuer: object,
  id: string,
  name: string,
  scopes: string[],
  ownerId: string | null,
  metadata: Record<string, unknown> | null,
  restrictions: ApiKeyRestrictions | null = null,
): ApiKeyPrincipal {
  const principal: ApiKeyPrincipal = {
    id,
    name,
    scopes: Object.freeze(scopes),
    ownerId,
    metadata: metadata ? frozenCopy(metadata) : NO_METADATA,
  };
  // Not enumerable: the principal handlers see (and serialise) is unchanged.
  if (restrictions) Object.defineProperty(principal, RESTRICTIONS, { value: restrictions });
  issuers.set(Object.freeze(principal), issuer);
  return principal;
}

/** Where a principal of a restricted key keeps its {@link ApiKeyRestrictions}. */
const RESTRICTIONS = Symbol('nestjs-api-key.restrictions');

/**
 * The restrictions of the key `principal` stands for, `undefined` when it has none (the guard's
 * whole cost for an unrestricted key is this one property read).
 */
export function restrictionsOf(principal: ApiKeyPrincipal): ApiKeyRestrictions | undefined {
  return (principal as { [RESTRICTIONS]?: ApiKeyRestrictions })[RESTRICTIONS];
}

/** The restrictions of a record, `null` when it has none, `undefined` when they are malformed. */
function recordRestrictions(source: ApiKeyRecord): ApiKeyRestrictions | null | undefined {
  try {
    return ApiKeyRestrictions.of(source.allowedNetworks, source.allowedOrigins);
  } catch {
    return undefined;
  }
}

/**
 * Why the key is refused at `now` (epoch ms), or `undefined` when it is valid then. A revoked
 * key (or a rotated-out secret past its grace) reads as revoked, before disabled and expired.
 */
export function refusalOf(key: VerifiedApiKey, now: number): (ApiKeyVerification & { valid: false }) | undefined {
  const { state } = key;
  if (state === null) return undefined;
  const { revokedAt, secretExpiresAt, expiresAt } = state;
  if ((revokedAt !== null && revokedAt <= now) || (secretExpiresAt !== null && secretExpiresAt <= now)) {
    return { valid: false, reason: 'revoked', keyId: key.principal.id };
  }
  if (state.disabled) return { valid: false, reason: 'disabled', keyId: key.principal.id };
  if (expiresAt !== null && expiresAt <= now) return { valid: false, reason: 'expired', keyId: key.principal.id };
  return undefined;
}

/** The record the verified form came from (for `findByHash` callers of stores that keep verified forms). */
export function recordOf(key: VerifiedApiKey, hash: string): ApiKeyRecord {
  const { principal, state } = key;
  return {
    id: principal.id,
    name: principal.name,
    hash,
    scopes: principal.scopes,
    ownerId: principal.ownerId,
    metadata: principal.metadata,
    expiresAt: dateOf(state?.expiresAt ?? null),
    revokedAt: dateOf(state?.revokedAt ?? null),
    disabled: state?.disabled ?? false,
    secretExpiresAt: dateOf(state?.secretExpiresAt ?? null),
    allowedNetworks: restrictionsOf(principal)?.networks ?? null,
    allowedOrigins: restrictionsOf(principal)?.origins ?? null,
  };
}

/** Epoch ms of an optional valid date; `null` when absent, `undefined` when it is not one. */
function instantOf(value: unknown): number | null | undefined {
  if (value === undefined || value === null) return null;
  if (!(value instanceof Date)) return undefined;
  const time = value.getTime();
  return Number.isNaN(time) ? undefined : time;
}

function dateOf(time: number | null): Date | null {
  return time === null ? null : new Date(time);
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
