import { IncomingMessage } from 'node:http';
import type { ApiKeyPrincipal } from './api-key-principal.interface.js';
import type { RawHttpRequest } from './api-key.credentials.js';
import { isIssuedPrincipal } from './verified-api-key.js';

/** A request object (Express's, or Fastify's wrapper) once the guard has authenticated it. */
export interface RequestWithApiKey {
  /** The principal of the key that authenticated the request. */
  apiKey?: ApiKeyPrincipal;
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
 * when it holds a principal the library issued. Nothing the client sends, and no object a
 * middleware makes up, can pose as one (issued principals carry a mark only the library can give).
 */
export function rememberedPrincipal(request: object): ApiKeyPrincipal | undefined {
  // An own-property check first: reading a missing property walks Express's long prototype chain.
  if (!Object.hasOwn(request, 'apiKey')) return undefined;
  const principal = (request as RequestWithApiKey).apiKey;
  return isIssuedPrincipal(principal) ? principal : undefined;
}
