import { IncomingMessage } from 'node:http';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import type { RawHttpRequest } from './api-key.credentials.js';
import type { ApiKeyAuthenticator } from '../verification/api-key.authenticator.js';

/** A request object (Express's, or Fastify's wrapper) once the guard has authenticated it. */
export interface RequestWithApiKey {
  /** The principal of the key that authenticated the request. */
  apiKey?: ApiKeyPrincipal;
}

/**
 * Where `request.apiKey` lives on requests whose prototype was swapped (Express gives each
 * request its app's `request` prototype): see {@link attachPrincipal}.
 */
const principals = new WeakMap<object, unknown>();

/** The `apiKey` accessor put on such a prototype: a property in all but being an own one. */
const PRINCIPAL_ACCESSOR: PropertyDescriptor = {
  get(this: object) {
    return principals.get(this);
  },
  set(this: object, value: unknown) {
    principals.set(this, value);
  },
  configurable: true,
};

/** Prototypes {@link attachPrincipal} has looked at (and given the accessor where it should). */
const inspectedPrototypes = new WeakSet<object>();

/**
 * Puts the principal on the request as `request.apiKey`, where `@ApiKey()` and a second guard
 * pass find it.
 *
 * On a Node request whose prototype was swapped (Express does it to every request), V8 builds a
 * new hidden class for each property added to the object, which costs microseconds per request
 * (Express's own additions pay it too). There `apiKey` is instead an accessor on the swapped-in
 * prototype, defined once unless the chain already has an `apiKey` or the prototype cannot take
 * one, which keeps each request's value beside the request. Reading and assigning
 * `request.apiKey` work as for a property (assign `undefined` to clear it); it is not an own
 * property, so `delete`, `Object.keys` and `Object.hasOwn` do not see it, and `'apiKey' in
 * request` holds for every request of the app. Other requests (Fastify's, Node's own) get an own
 * property.
 */
export function attachPrincipal(request: object, principal: ApiKeyPrincipal): void {
  if (request instanceof IncomingMessage) giveAccessorToSwappedPrototype(request);
  (request as RequestWithApiKey).apiKey = principal;
}

function giveAccessorToSwappedPrototype(request: IncomingMessage): void {
  const prototype = Object.getPrototypeOf(request) as object;
  if (inspectedPrototypes.has(prototype)) return;
  inspectedPrototypes.add(prototype);
  const swapped = prototype !== (request.constructor as { prototype?: unknown }).prototype;
  if (swapped && !('apiKey' in prototype) && Object.isExtensible(prototype)) Object.defineProperty(prototype, 'apiKey', PRINCIPAL_ACCESSOR);
}

/** The principal the guard attached to `request`, if any. */
export function principalOf(request: unknown): ApiKeyPrincipal | undefined {
  return (request as RequestWithApiKey | undefined)?.apiKey;
}

/** Node's own request behind a platform's request object (Express's is one, Fastify wraps it in `raw`). */
export function rawRequestOf(request: unknown): RawHttpRequest {
  // Checked by class first: a missing property is a slow read on Express's per-request objects.
  if (request instanceof IncomingMessage) return request as RawHttpRequest;
  return ((request as { raw?: RawHttpRequest }).raw ?? request) as RawHttpRequest;
}

/**
 * The principal a previous guard pass authenticated this request with, if any: `request.apiKey`
 * when it holds a principal `authenticator` gives out. Nothing the client sends, no object a
 * middleware makes up and no principal of another module instance's keys can pose as one
 * (issued principals carry a mark, naming their issuer, that only the library can give).
 */
export function rememberedPrincipal(request: object, authenticator: Pick<ApiKeyAuthenticator, 'issued'>): ApiKeyPrincipal | undefined {
  // Node's requests are read through (Express's find the accessor on their prototype); others
  // only when they have the property, as reading a missing one walks the whole prototype chain.
  const principal = request instanceof IncomingMessage || Object.hasOwn(request, 'apiKey') ? (request as RequestWithApiKey).apiKey : undefined;
  return authenticator.issued(principal) ? principal : undefined;
}
