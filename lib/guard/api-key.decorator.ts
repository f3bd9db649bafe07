import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import { principalOf } from './api-key.request.js';
import { graphqlRequestResponse } from './contexts/graphql.js';

/**
 * Parameter decorator: the principal of the key that authenticated the request, or
 * `undefined` on a `@Public()` route. Give a field name to get just that field. It works in
 * controllers and GraphQL resolvers (where it reads the request of the GraphQL context).
 *
 * @example `find(@ApiKey() key: ApiKeyPrincipal)` or `find(@ApiKey('ownerId') owner: string)`
 */
export const ApiKey = createParamDecorator((field: keyof ApiKeyPrincipal | undefined, context: ExecutionContext) => {
  const principal =
    context.getType<string>() === 'graphql'
      ? principalOf(graphqlRequestResponse(context)?.request)
      : // The request, as switchToHttp().getRequest() reads it, without the closures that call builds.
        principalOf(context.getArgByIndex(0));
  return field ? principal?.[field] : principal;
});
