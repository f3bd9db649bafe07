import { HttpException, IntrinsicException } from '@nestjs/common';
import type { ExecutionContext } from '@nestjs/common';

/** What the guard reads a GraphQL operation with; `response` is `null` over a socket. */
interface RequestResponse {
  readonly request: object;
  readonly response: object | null;
}

/**
 * The parts of a GraphQL context object the guard reads, whichever driver built it: Apollo on
 * Express puts the HTTP request in `req` (and its response in `res` when the app's `context`
 * function adds it); Mercurius puts Fastify's `reply` there, whose `request` is the request. Over
 * a socket, `req` is the connection's request `ApiKeySubscriptions` admitted, and Mercurius's
 * `reply` is a stand-in holding the handshake's request.
 */
interface GraphQLContextLike {
  readonly req?: object;
  readonly res?: object;
  readonly reply?: { readonly request?: object; readonly header?: unknown };
}

/**
 * The HTTP request and response of a GraphQL operation (the third resolver argument is the
 * GraphQL context), or `undefined` when the context carries no request. Read without importing
 * `@nestjs/graphql`: apps without GraphQL load nothing of it.
 */
export function graphqlRequestResponse(context: ExecutionContext): RequestResponse | undefined {
  const gql = context.getArgByIndex<GraphQLContextLike | undefined>(2);
  const reply = gql?.reply;
  // Fastify's reply (Mercurius over HTTP) has `header`; Mercurius's stand-in over a socket has not.
  if (reply?.request && typeof reply.header === 'function') return { request: reply.request, response: reply };
  // A request has headers: graphql-ws's own context (Apollo's `req` over a socket without
  // `ApiKeySubscriptions`) has none, and is no request to read a key from.
  if (gql?.req && typeof (gql.req as { headers?: unknown }).headers === 'object') {
    // Express links the request to its response (`req.res`): Apollo's default context omits `res`.
    return { request: gql.req, response: gql.res ?? (gql.req as { res?: object }).res ?? null };
  }
  return reply?.request ? { request: reply.request, response: null } : undefined;
}

/** `extensions.code` of a refusal, by HTTP status, as Apollo names them. */
const GRAPHQL_CODES: Readonly<Record<number, string>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
};

/** The `extensions` of a GraphQL refusal (see {@link ApiKeyGraphQLError}). */
export interface ApiKeyGraphQLErrorExtensions {
  /** The GraphQL convention's code: `UNAUTHENTICATED` (401), `FORBIDDEN` (403), `BAD_REQUEST` (400), ... */
  readonly code: string;
  /**
   * The stable code of the same refusal's HTTP body: an {@link ApiKeyErrorCode} (`API_KEY_MISSING`,
   * ...), or the rate limiter's (`API_KEY_RATE_LIMITED`, ...); absent for an error without one.
   */
  readonly apiKeyCode?: string;
  /** The HTTP status the same refusal has on an HTTP route. */
  readonly statusCode: number;
  /** Only on 403: the scopes the resolver requires. */
  readonly requiredScopes?: readonly string[];
  /** Only on 403: whether all (`all`) or one (`any`) of `requiredScopes` are needed. */
  readonly scopeMode?: 'all' | 'any';
}

/**
 * A refusal of a GraphQL operation: GraphQL copies `extensions` into the error of the response
 * (`extensions.code` `UNAUTHENTICATED`, `FORBIDDEN`, ... and `extensions.apiKeyCode`), and
 * Mercurius answers `statusCode` as the HTTP status when the response has no data. It is not an
 * `HttpException`, so the Apollo driver does not rewrite it, and it is intrinsic, so Nest does not
 * log it as an unexpected error. The exception the guard refused with is its `cause`.
 */
export class ApiKeyGraphQLError extends IntrinsicException {
  readonly extensions: ApiKeyGraphQLErrorExtensions;
  readonly statusCode: number;

  constructor(refusal: HttpException) {
    super(refusal.message, { cause: refusal });
    this.name = 'ApiKeyGraphQLError';
    const body = refusal.getResponse() as Partial<ApiKeyGraphQLErrorExtensions> & { code?: unknown };
    this.statusCode = refusal.getStatus();
    this.extensions = {
      code: GRAPHQL_CODES[this.statusCode] ?? 'INTERNAL_SERVER_ERROR',
      ...(typeof body === 'object' && typeof body.code === 'string' ? { apiKeyCode: body.code } : {}),
      statusCode: this.statusCode,
      ...(typeof body === 'object' && body.requiredScopes
        ? { requiredScopes: body.requiredScopes, scopeMode: body.scopeMode }
        : {}),
    };
  }
}

/** The error a GraphQL operation is refused with: the refusal in GraphQL's conventions, any other error as is. */
export function graphqlRefusal(error: unknown): unknown {
  return error instanceof HttpException ? new ApiKeyGraphQLError(error) : error;
}
