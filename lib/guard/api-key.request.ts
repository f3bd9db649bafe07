import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import type { RawHttpRequest } from './api-key.credentials.js';
import type { ApiKeyAuthenticator } from '../verification/api-key.authenticator.js';

/** A request object (Express's, or Fastify's wrapper) once the guard has authenticated it. */
export interface RequestWithApiKey {
  /**
   * The principal of the key that authenticated the request; `null` when an `@OptionalApiKey()`
   * route admitted it without a key.
   */
  apiKey?: ApiKeyPrincipal | null;
}

/**
 * Puts the principal on the request as `request.apiKey`, an ordinary own property, where
 * `@ApiKey()` and a second guard pass find it; and as `request[userProperty]` too when one is
 * configured (`request.user`, where passport puts its user).
 */
export function attachPrincipal(request: object, principal: ApiKeyPrincipal, userProperty: string | null): void {
  (request as RequestWithApiKey).apiKey = principal;
  if (userProperty !== null) (request as Record<string, unknown>)[userProperty] = principal;
}

/** Marks the request as admitted without a key: `request.apiKey` is `null`. */
export function attachAnonymous(request: object): void {
  (request as RequestWithApiKey).apiKey = null;
}

/** The principal on `request.apiKey`: `null` for a request admitted without a key, `undefined` before any guard. */
export function principalOf(request: unknown): ApiKeyPrincipal | null | undefined {
  return (request as RequestWithApiKey | undefined)?.apiKey;
}

/** Node's own request behind a platform's request object (Express's is one, Fastify wraps it in `raw`). */
export function rawRequestOf(request: unknown): RawHttpRequest {
  return ((request as { raw?: RawHttpRequest }).raw ?? request) as RawHttpRequest;
}

/**
 * The principal a previous guard pass authenticated this request with, if any: `request.apiKey`
 * when it holds a principal `authenticator` gives out. Nothing the client sends, no object a
 * middleware makes up and no principal of another module instance's keys can pose as one.
 */
export function rememberedPrincipal(
  request: object,
  authenticator: Pick<ApiKeyAuthenticator, 'issued'>,
): ApiKeyPrincipal | undefined {
  const principal = principalOf(request);
  return authenticator.issued(principal) ? principal : undefined;
}
