import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import type { ApiKeyRecord } from './api-key-record.interface.js';
import type { ApiKeyVerification } from '../verification/api-key-verification.interface.js';
import { ApiKeyHasher } from '../keys/api-key.hasher.js';
import { frozenCopy } from './frozen-copy.js';

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

/**
 * The internal lookup of stores that keep verified records in memory (the in-memory store, the
 * cache): the record for `hash` at once when it is in memory, a promise otherwise. Throws (or
 * rejects) when the stored record is unusable. A symbol, so it is not part of the public API.
 */
export const findVerified: unique symbol = Symbol('nestjs-api-key.findVerified');

/** A store with the {@link findVerified} lookup. */
export interface VerifiedLookup {
  [findVerified](hash: string): VerifiedApiKey | null | Promise<VerifiedApiKey | null>;
}

/**
 * The `findByHash` that `repository`'s {@link findVerified} lookup stands for (the one of the
 * class that defines both), or `undefined` when it has no such lookup. The authenticator uses
 * the lookup only while the repository's `findByHash` is still that one: a subclass or an
 * instance that replaces `findByHash` (to count, log or fail lookups) is asked through it.
 */
export function pairedFindByHash(repository: object): unknown {
  for (let proto: object | null = repository; proto !== null; proto = Object.getPrototypeOf(proto) as object | null) {
    if (Object.prototype.hasOwnProperty.call(proto, findVerified)) return (proto as { findByHash?: unknown }).findByHash;
  }
  return undefined;
}

/**
 * Who issued `value` (the store or authenticator given to {@link issuePrincipal}) when it is a
 * principal this library built, `undefined` for anything else: a principal a middleware or the
 * client's data made up has no issuer.
 */
export function issuerOf(value: unknown): object | undefined {
  return typeof value === 'object' && value !== null ? readIssuer(value) : undefined;
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
      ApiKeyHasher.equal(source.hash, hash);
    if (!valid) return undefined;
    const limited = expiresAt !== null || revokedAt !== null || secretExpiresAt !== null || disabled === true;
    return {
      principal: issuePrincipal(issuer, id, name, sharedScopes(scopes), ownerId ? sharedOwner(ownerId) : null, (metadata as Record<string, unknown> | null | undefined) ?? null),
      state: limited ? { expiresAt, revokedAt, disabled: disabled === true, secretExpiresAt } : null,
    };
  } catch {
    return undefined;
  }
}

/**
 * A principal of a static key or a verified record: frozen, with the scopes array given to it (a
 * copy it owns) frozen in place and a deep, frozen copy of `metadata` (plain objects and arrays
 * all the way down, so no handler can change what later requests read), and marked as issued by
 * `issuer` (the store the record came from, or the authenticator for its static keys).
 */
export function issuePrincipal(
  issuer: object,
  id: string,
  name: string,
  scopes: string[],
  ownerId: string | null,
  metadata: Record<string, unknown> | null,
): ApiKeyPrincipal {
  return new IssuedPrincipal(ISSUING, issuer, id, name, Object.freeze(scopes), ownerId, metadata ? frozenCopy(metadata) : NO_METADATA);
}

/** What {@link IssuedPrincipal}'s constructor asks for, so nothing outside this module can build one (even through `principal.constructor`). */
const ISSUING: unique symbol = Symbol('nestjs-api-key.issuing');

/** `value.#issuer` when `#issuer in value`, captured where the private name is in scope (a static method could be replaced). */
let readIssuer: (value: object) => object | undefined;

/**
 * The principals this library issues. The private field is the mark: only this class's
 * constructor puts it on an object and nothing can copy it, so `#issuer in value` tells an
 * issued principal from any look-alike, and it says which store or authenticator issued it, at
 * the cost of one field per principal. The constructor checks its token before it assigns
 * anything, so no setter on a `Reflect.construct` target's prototype ever sees a marked object;
 * the class and its prototype are frozen.
 */
class IssuedPrincipal implements ApiKeyPrincipal {
  readonly #issuer: object;
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly ownerId: string | null;
  readonly metadata: Readonly<Record<string, unknown>>;

  static {
    readIssuer = (value) => (#issuer in value ? value.#issuer : undefined);
  }

  constructor(
    issuing: symbol,
    issuer: object,
    id: string,
    name: string,
    scopes: readonly string[],
    ownerId: string | null,
    metadata: Readonly<Record<string, unknown>>,
  ) {
    if (issuing !== ISSUING) throw new TypeError('API key principals are issued by nestjs-api-key only');
    this.#issuer = issuer;
    this.id = id;
    this.name = name;
    this.scopes = scopes;
    this.ownerId = ownerId;
    this.metadata = metadata;
    Object.freeze(this);
  }
}
Object.freeze(IssuedPrincipal.prototype);
Object.freeze(IssuedPrincipal);

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
  };
}

/** How many distinct scope lists and owners {@link sharedScopes} and {@link sharedOwner} keep. */
const SHARED_LIMIT = 4096;
const scopeLists = new Map<string, readonly string[]>();
const owners = new Map<string, string>();

/**
 * One frozen array per distinct scope list: keys usually share a few lists, and a store returns
 * fresh strings for every row, so a cache of many keys would otherwise hold as many copies.
 * Up to {@link SHARED_LIMIT} lists are shared; past that, each key keeps its own.
 */
function sharedScopes(scopes: string[]): string[] {
  const id = JSON.stringify(scopes);
  const shared = scopeLists.get(id);
  if (shared) return shared as string[];
  if (scopeLists.size < SHARED_LIMIT) scopeLists.set(id, Object.freeze(scopes));
  return scopes;
}

/** One string per distinct owner id, as {@link sharedScopes} does for scope lists. */
function sharedOwner(ownerId: string): string {
  const shared = owners.get(ownerId);
  if (shared !== undefined) return shared;
  if (owners.size < SHARED_LIMIT) owners.set(ownerId, ownerId);
  return ownerId;
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
