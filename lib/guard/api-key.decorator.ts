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
  const principal = attachedPrincipal(context);
  return field && principal ? principal[field] : principal;
});

/**
 * What the guard attached for this handler call: to the request (HTTP, read as
 * `switchToHttp().getRequest()` does, without the closures that call builds; GraphQL, the
 * context's request), to the connection (WebSocket) or to the message (RPC) — never the payload,
 * which the client sends.
 */
function attachedPrincipal(context: ExecutionContext): ApiKeyPrincipal | null | undefined {
  switch (context.getType<string>()) {
    case 'ws':
      return connectionPrincipal(context.getArgByIndex(0));
    case 'rpc':
      return principalOf(existingMessageRequest(context.getArgByIndex(1)));
    case 'graphql':
      return principalOf(graphqlRequestResponse(context)?.request);
    default:
      return principalOf(context.getArgByIndex(0));
  }
}
