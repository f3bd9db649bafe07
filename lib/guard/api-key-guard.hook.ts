import type { ExecutionContext } from '@nestjs/common';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';

/**
 * Extension point of {@link ApiKeyGuard}, for integrations that must run at fixed points of
 * authentication whatever the order in which guards are registered (the rate limiter of
 * `nestjs-api-key/rate-limit` is one). Provide it under this class as token, in a global
 * module, and every `ApiKeyGuard` calls it; without one the guard authenticates and admits on its own.
 *
 * Both methods run only on the first guard pass over a request (a second pass, global guard
 * plus `@UseGuards`, reuses the first pass's result), once per `ApiKeyModule` instance: guards of
 * two instances over different stores each verify, and each calls them. An exception they throw
 * is answered as is; when it has a `headers` record (like {@link ApiKeyHttpException}) the guard
 * sets them.
 */
export abstract class ApiKeyGuardHook {
  /**
   * Wraps authentication: call `authenticate` to read and verify the request's key (it throws
   * the guard's 400/401/503) and return its principal. Code before the call runs before
   * authentication, a `catch` sees why it failed. `request` is the request object the guard
   * read the key from (its `getRequestResponse`, so also in a GraphQL or RPC subclass): use it
   * rather than `context.switchToHttp()`.
   */
  abstract authenticate(
    context: ExecutionContext,
    authenticate: () => Promise<ApiKeyPrincipal>,
    request: object,
  ): Promise<ApiKeyPrincipal>;

  /**
   * Runs once the principal has passed the route's scope check, just before the guard admits the
   * request. `response` is the response object the guard sets its headers on, `undefined` when
   * the request has none (a GraphQL subscription over a socket).
   */
  abstract authorized(
    context: ExecutionContext,
    principal: ApiKeyPrincipal,
    response: object | undefined,
  ): Promise<void>;
}
