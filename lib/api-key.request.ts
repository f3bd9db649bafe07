import type { ApiKeyPrincipal } from './api-key-principal.interface.js';
import type { RawHttpRequest } from './api-key.credentials.js';

/** A request object (Express's, or Fastify's wrapper) once the guard has authenticated it. */
export interface RequestWithApiKey {
  /** The principal of the key that authenticated the request. */
  apiKey?: ApiKeyPrincipal;
}

/** The principal the guard attached to `request`, if any. */
export function principalOf(request: unknown): ApiKeyPrincipal | undefined {
  return (request as RequestWithApiKey | undefined)?.apiKey;
}

/** Node's own request behind a platform's request object (Fastify wraps it in `raw`). */
export function rawRequestOf(request: unknown): RawHttpRequest {
  return ((request as { raw?: RawHttpRequest }).raw ?? request) as RawHttpRequest;
}

const authenticated = new WeakMap<object, ApiKeyPrincipal>();

/**
 * Remembers that the guard authenticated `request`, so that a second guard pass (a global
 * guard plus `@UseGuards` on a controller) reuses the principal instead of verifying again.
 * Kept outside the request so nothing the client or a middleware sets can pose as it.
 */
export function rememberPrincipal(request: object, principal: ApiKeyPrincipal): void {
  authenticated.set(request, principal);
}

/** The principal a previous guard pass authenticated this request with, if any. */
export function rememberedPrincipal(request: object): ApiKeyPrincipal | undefined {
  return authenticated.get(request);
}
