import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import { principalOf } from './api-key.request.js';
import { graphqlRequestResponse } from './contexts/graphql.js';
import { existingMessageRequest } from './contexts/message-request.js';
import { connectionPrincipal } from './contexts/ws.js';

/**
 * Parameter decorator: the principal of the key that authenticated the request; `null` on an
 * `@OptionalApiKey()` route called without a key, `undefined` on a `@Public()` route. Give a field
 * name to get just that field (`null` and `undefined` alike when there is no principal). It works in
 * HTTP handlers, WebSocket gateways and microservice message handlers (where the principal belongs
 * to the message the guard admitted), and GraphQL resolvers (the request of the GraphQL context).
 *
 * @example `find(@ApiKey() key: ApiKeyPrincipal)` or `find(@ApiKey('ownerId') owner: string)`
 */
export const ApiKey = createParamDecorator((field: keyof ApiKeyPrincipal | undefined, context: ExecutionContext) => {
  // The request, as switchToHttp().getRequest() reads it, without the closures that call builds;
  // for a message, what the guard attached (never the payload: the client sends that).
  const type = context.getType<string>();
  const principal =
    type === 'ws'
      ? connectionPrincipal(context.getArgByIndex(0))
      : type === 'graphql'
        ? principalOf(graphqlRequestResponse(context)?.request)
        : principalOf(type === 'rpc' ? existingMessageRequest(context.getArgByIndex(1)) : context.getArgByIndex(0));
  return field && principal ? principal[field] : principal;
});
