import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import { principalOf } from './api-key.request.js';

/**
 * Parameter decorator: the principal of the key that authenticated the request; `null` on an
 * `@OptionalApiKey()` route called without a key, `undefined` on a `@Public()` route. Give a field
 * name to get just that field (`null` and `undefined` alike when there is no principal). It reads the
 * handler's first argument (the HTTP request, or an RPC payload); in a GraphQL resolver read
 * `apiKey` from the request the guard read instead.
 *
 * @example `find(@ApiKey() key: ApiKeyPrincipal)` or `find(@ApiKey('ownerId') owner: string)`
 */
export const ApiKey = createParamDecorator((field: keyof ApiKeyPrincipal | undefined, context: ExecutionContext) => {
  // The request, as switchToHttp().getRequest() reads it, without the closures that call builds.
  const principal = principalOf(context.getArgByIndex(0));
  return field && principal ? principal[field] : principal;
});
