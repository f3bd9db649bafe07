import { HttpException, type ExecutionContext } from '@nestjs/common';
import { graphqlRefusal } from './graphql.js';
import { rpcRefusal } from './rpc.js';
import { wsRefusal } from './ws.js';

/**
 * A refusal of a WebSocket or RPC message in the exception class its transport answers with
 * (`WsException`, `RpcException`), carrying the HTTP error body with our stable `code`; of a
 * GraphQL operation as an `ApiKeyGraphQLError`. Nest answers any other exception there as an
 * anonymous internal error. Errors that are not `HttpException`s pass through unchanged.
 */
export async function transportRefusal(error: unknown, context: ExecutionContext): Promise<unknown> {
  if (context.getType<string>() === 'graphql') return graphqlRefusal(error);
  const body = error instanceof HttpException ? bodyOf(error) : undefined;
  return context.getType() === 'ws' ? wsRefusal(error, context, body) : rpcRefusal(error, context, body);
}

function bodyOf(error: HttpException): object {
  const response = error.getResponse();
  return typeof response === 'object' ? response : { statusCode: error.getStatus(), message: response };
}
