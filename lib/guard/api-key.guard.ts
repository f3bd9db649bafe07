import { Injectable, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { ServerResponse } from 'node:http';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import { ApiKeyAuthenticator } from '../verification/api-key.authenticator.js';
import type { ApiKeyExpiryNotice } from '../verification/api-key-verification.interface.js';
import { ApiKeyGuardHook } from './api-key-guard.hook.js';
import { readPresentedKey, type PresentedApiKey } from './api-key.credentials.js';
import {
  ApiKeyInsufficientScopeException,
  ApiKeyInvalidException,
  ApiKeyMissingException,
  ApiKeyRestrictedException,
  withoutStackTrace,
  type ApiKeyHttpException,
} from '../api-key.exceptions.js';
import { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import { attachAnonymous, attachPrincipal, principalOf, rawRequestOf } from './api-key.request.js';
import { satisfiesScopes, type ScopeRequirement } from './api-key.scopes.js';
import { OptionalApiKeyMetadata } from './optional-api-key.decorator.js';
import { graphqlRequestResponse } from './contexts/graphql.js';
import { awaitsRecheck } from './contexts/graphql-subscriptions.js';
import { PublicMetadata } from './public.decorator.js';
import { transportRefusal } from './contexts/refusal.js';
import { rpcRequest } from './contexts/rpc.js';
import { admittedPrincipal, wsRequest } from './contexts/ws.js';
import { clientIpOf } from './client-address.js';
import { restrictionsOf } from '../storage/verified-api-key.js';
import type { ApiKeyRestrictionReason } from './api-key.restrictions.js';
import { ScopeRequirementMetadata } from './require-scopes.decorator.js';

/**
 * Authenticates requests by API key and enforces `@RequireScopes`/`@RequireAnyScope`, on HTTP
 * routes and GraphQL resolvers (the key of the operation's HTTP request, or of its subscription's
 * connection).
 *
 * Use it with `@UseGuards(ApiKeyGuard)` or register it globally
 * (`{ provide: APP_GUARD, useClass: ApiKeyGuard }`) and mark open routes `@Public()`.
 * Every step is a protected method, so a subclass can adapt one (for instance
 * {@link getRequestResponse} for another context, or {@link throwRefusal} for another error body)
 * without copying the rest.
 *
 * Outcomes: 401 (missing or invalid key, with `WWW-Authenticate`), 400 (more than one key),
 * 403 (a key used from outside its allowed networks or origins, or a missing scope), 503 (key
 * store failure). It throws rather than returning `false`, and
 * it denies any execution context it cannot read a request from. On an `@OptionalApiKey()` route
 * a request without a key is admitted as anonymous (`request.apiKey` is `null`); a presented key
 * meets the same outcomes as anywhere. For routes that take a key or another login, see
 * `ApiKeyOr(AuthGuard('jwt'))`: a request without a key goes to the other login's guard.
 *
 * On WebSocket gateways (the key from the connection's handshake) and microservice handlers
 * (the key from NATS or RabbitMQ headers, gRPC metadata) it refuses with a `WsException` or an
 * `RpcException` carrying the same error body (see docs/websockets.md and docs/microservices.md);
 * on GraphQL resolvers (the key of the operation's HTTP request, or of its subscription's
 * connection) with an `ApiKeyGraphQLError` (`extensions.code` `UNAUTHENTICATED`, `FORBIDDEN`, ...;
 * see docs/graphql.md).
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  /** The 401s, built once: they carry nothing of a request, so every refusal throws the same one. */
  private readonly missing: ApiKeyMissingException;
  private readonly invalid: ApiKeyInvalidException;
  /** The 403s of a restricted key, built once for the same reason. */
  private readonly restricted: Readonly<Record<ApiKeyRestrictionReason, ApiKeyRestrictedException>>;
  /**
   * The route metadata, read once per handler and controller class (it is static): reading it
   * through the reflector on every request costs about 5 % of a Fastify request (bench/).
   */
  private readonly routes = new WeakMap<object, WeakMap<object, RouteMetadata>>();

  constructor(
    protected readonly reflector: Reflector,
    protected readonly options: ResolvedApiKeyOptions,
    protected readonly authenticator: ApiKeyAuthenticator,
    protected readonly adapterHost: HttpAdapterHost,
    @Optional() protected readonly hook?: ApiKeyGuardHook,
  ) {
    this.missing = withoutStackTrace(() => new ApiKeyMissingException(challengeFor(options, false)));
    this.invalid = withoutStackTrace(() => new ApiKeyInvalidException(challengeFor(options, true)));
    this.restricted = withoutStackTrace(() => ({
      network: new ApiKeyRestrictedException('network'),
      origin: new ApiKeyRestrictedException('origin'),
    }));
  }

  /** Runs the steps below in order; see the class description for the outcomes. */
  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.isPublic(context)) return true;
    const http = this.getRequestResponse(context);
    if (!http) return false;
    const { request, response } = http;
    try {
      const remembered = this.getRememberedPrincipal(request);
      if (remembered) {
        // A second pass (a global guard plus `@UseGuards`): the first one attached it and ran the hook.
        this.authorize(remembered, this.getScopeRequirement(context));
      } else {
        const principal = await this.authenticateFirstPass(context, request, response);
        this.authorize(principal, this.getScopeRequirement(context));
        this.attachPrincipal(request, principal);
        await this.hook?.authorized(context, principal, response);
      }
    } catch (error) {
      if (error !== this.missing) return this.refuse(error, context, response);
      try {
        await this.admitWithoutKey(context, request, response, this.missing);
      } catch (refusal) {
        return this.refuse(refusal, context, response);
      }
    }
    if (response) this.setHeader(response, 'Cache-Control', 'no-store');
    return true;
  }

  /**
   * Decides a request that presents no key: on an `@OptionalApiKey()` route it is admitted as
   * anonymous ({@link attachAnonymous}); elsewhere it is refused with `missing` (401). Returning
   * admits the request, throwing refuses it (the error goes through {@link throwRefusal}).
   *
   * @param _response the response the guard sets its headers on (`null` for a message)
   * @param missing the guard's 401 for a request without a key
   */
  protected async admitWithoutKey(
    context: ExecutionContext,
    request: object,
    _response: object | null,
    missing: ApiKeyMissingException,
  ): Promise<void> {
    if (!this.isOptional(context)) throw missing;
    this.attachAnonymous(request);
  }

  /** Sets the refusal's headers and throws it, in its transport's error class where it has one. */
  private async refuse(error: unknown, context: ExecutionContext, response: object | null): Promise<never> {
    if (response) this.setRefusalHeaders(response, error);
    // A message without a response (WebSocket, RPC, a GraphQL subscription) and any GraphQL
    // operation are refused in their transport's error class.
    if (!response || context.getType<string>() === 'graphql') {
      return this.throwRefusal(await transportRefusal(error, context), context);
    }
    return this.throwRefusal(error, context);
  }

  /** Whether the handler or its controller is marked `@Public()`. */
  protected isPublic(context: ExecutionContext): boolean {
    return this.routeMetadata(context).isPublic;
  }

  /**
   * Whether the handler or its controller is marked `@OptionalApiKey()`: a request without a key
   * is admitted as anonymous.
   */
  protected isOptional(context: ExecutionContext): boolean {
    return this.routeMetadata(context).isOptional;
  }

  /**
   * The request and response objects, or `undefined` for a context this guard cannot handle.
   * A WebSocket or RPC message, or a GraphQL subscription, has no response (`null`): its request
   * holds the headers of the connection's handshake or of the message's transport metadata.
   */
  protected getRequestResponse(context: ExecutionContext): { request: object; response: object | null } | undefined {
    switch (context.getType<string>()) {
      case 'http': {
        const http = context.switchToHttp();
        return { request: http.getRequest<object>(), response: http.getResponse<object>() };
      }
      case 'ws':
        return { request: wsRequest(context, this.options), response: null };
      case 'rpc':
        return { request: rpcRequest(context, this.options), response: null };
      case 'graphql':
        return graphqlRequestResponse(context);
      default:
        return undefined;
    }
  }

  /**
   * The principal an earlier pass of a guard of this module attached to the request, if any, while
   * it is still valid: a GraphQL subscription's connection keeps the principal it was admitted
   * with, and a subscription that starts once that key has expired, or while a change to it awaits
   * its re-check, is verified afresh (and refused when the key is no longer valid or the store fails).
   */
  protected getRememberedPrincipal(request: object): ApiKeyPrincipal | undefined {
    const principal = principalOf(request);
    // `stillValid` also checks that this module's authenticator gave it out.
    return principal && this.authenticator.stillValid(principal) && !awaitsRecheck(request) ? principal : undefined;
  }

  /**
   * Reads and verifies the request's key, through the {@link ApiKeyGuardHook} when one is
   * provided. `response` (`null` for a message) receives the expiry warnings of a key that stops
   * working soon.
   */
  protected authenticateFirstPass(
    context: ExecutionContext,
    request: object,
    response: object | null = null,
  ): Promise<ApiKeyPrincipal> {
    if (!this.hook) return this.authenticateRequest(request, response);
    return this.hook.authenticate(context, () => this.authenticateRequest(request, response), request);
  }

  /**
   * Reads and verifies the request's key and checks its restrictions; throws 400, 401, 403 or 503
   * as it fails. A restricted key is refused here, before a rate limit counts the request.
   * A message of a WebSocket connection `ApiKeyWebSockets` admitted reuses the connection's
   * principal while it is still valid and no change to its key awaits a re-check.
   */
  protected async authenticateRequest(request: object, response: object | null = null): Promise<ApiKeyPrincipal> {
    const admitted = admittedPrincipal(request);
    if (admitted && this.authenticator.stillValid(admitted)) return admitted;
    const presented = this.readKey(request);
    if (!presented) throw this.missing;
    const principal = await this.authenticate(presented, response);
    this.enforceRestrictions(request, principal);
    return principal;
  }

  /** The one key the request presents, or `null`; throws 400 when it presents more than one. */
  protected readKey(request: object): PresentedApiKey | null {
    return readPresentedKey(rawRequestOf(request), this.options);
  }

  /**
   * Verifies the key; throws 401 when it is not valid and 503 when the store fails. A key that
   * stops working soon gets its warnings on `response` (see {@link setExpiryWarnings}).
   */
  protected async authenticate(presented: PresentedApiKey, response: object | null = null): Promise<ApiKeyPrincipal> {
    const verification = await this.authenticator.verify(presented.value);
    if (!verification.valid) throw this.invalid;
    if (verification.expiry !== undefined && response) this.setExpiryWarnings(response, verification.expiry);
    return verification.principal;
  }

  /**
   * Tells the client when its key stops working: `Deprecation` (RFC 9745, a structured-field
   * date: `@` and epoch seconds) and `Sunset` (RFC 8594, an HTTP-date), both the instant the key
   * stops working, and `Link` with `rel="deprecation"` and `rel="sunset"` when
   * `expiryWarnings.link` is set. They stay on the response whatever the outcome (a 403 or 429
   * that follows still says the key is ending).
   */
  protected setExpiryWarnings(response: object, expiry: ApiKeyExpiryNotice): void {
    this.setHeader(response, 'Deprecation', `@${Math.floor(expiry.stopsAt / 1000)}`);
    this.setHeader(response, 'Sunset', new Date(expiry.stopsAt).toUTCString());
    const link = this.options.expiryWarnings?.link;
    if (link) this.setHeader(response, 'Link', link);
  }

  /**
   * Throws 403 (`API_KEY_RESTRICTED`) when the key may not be used from the request's client
   * address (as the platform resolves it, honouring only its trusted-proxy setting) or with its
   * `Origin`. A key without restrictions costs one property read here.
   */
  protected enforceRestrictions(request: object, principal: ApiKeyPrincipal): void {
    if (restrictionsOf(principal) === undefined) return;
    const origin = rawRequestOf(request).headers?.origin as string | undefined; // Node keeps one
    const reason = this.authenticator.checkRestrictions(principal, clientIpOf(request), origin);
    if (reason !== undefined) throw this.restricted[reason];
  }

  /** The route's scope requirement: the handler's if it has one, else the controller's. */
  protected getScopeRequirement(context: ExecutionContext): ScopeRequirement | undefined {
    return this.routeMetadata(context).requirement;
  }

  private routeMetadata(context: ExecutionContext): RouteMetadata {
    const handler = context.getHandler();
    const type = context.getClass();
    let byClass = this.routes.get(handler);
    if (!byClass) this.routes.set(handler, (byClass = new WeakMap()));
    let metadata = byClass.get(type);
    if (!metadata) {
      const targets = [handler, type];
      metadata = {
        isPublic: this.reflector.getAllAndOverride(PublicMetadata, targets) === true,
        isOptional: this.reflector.getAllAndOverride(OptionalApiKeyMetadata, targets) === true,
        requirement: this.reflector.getAllAndOverride(ScopeRequirementMetadata, targets),
      };
      byClass.set(type, metadata);
    }
    return metadata;
  }

  /** Throws 403 when the principal does not satisfy the requirement. */
  protected authorize(principal: ApiKeyPrincipal, requirement: ScopeRequirement | undefined): void {
    if (requirement && !satisfiesScopes(principal.scopes, requirement)) {
      throw new ApiKeyInsufficientScopeException(requirement.scopes, requirement.mode);
    }
  }

  /**
   * Puts the principal on the request, where `@ApiKey()` finds it (`request.apiKey`) and where a
   * second guard pass over the request finds it authenticated, and on `request[userProperty]` when
   * that option is set. Runs only once the route's scopes are satisfied: a refused request carries
   * no principal.
   */
  protected attachPrincipal(request: object, principal: ApiKeyPrincipal): void {
    attachPrincipal(request, principal, this.options.userProperty);
  }

  /**
   * Marks a request admitted without a key on an `@OptionalApiKey()` route: `request.apiKey` is
   * `null`, so `@ApiKey()` tells it from a `@Public()` route's `undefined`. `request[userProperty]`
   * is left alone (another login's guard may have set it).
   */
  protected attachAnonymous(request: object): void {
    attachAnonymous(request);
  }

  /**
   * Throws the refusal: every 400, 401, 403 and 503 of the steps above, and any error the
   * {@link ApiKeyGuardHook} throws (a 429), passes through here. Override it to reshape the
   * answer (another body, another exception class), as `handleRequest` in `@nestjs/passport`.
   * The refusal's headers (`WWW-Authenticate`, `Retry-After`, ...) are already set on the
   * response when it is called. It must throw: a guard that returned `false` would answer a
   * plain 403 for every refusal.
   *
   * @param error what the failing step threw (an {@link ApiKeyHttpException} for the guard's own refusals;
   *   on a WebSocket or RPC message, the `WsException` or `RpcException` carrying its body;
   *   in GraphQL, the `ApiKeyGraphQLError`)
   * @param _context the execution context of the refused request
   */
  protected throwRefusal(error: unknown, _context: ExecutionContext): never {
    throw error;
  }

  /** Sets the headers a refusal carries (its `headers` record, as {@link ApiKeyHttpException} has). */
  private setRefusalHeaders(response: object, error: unknown): void {
    const headers = (error as Partial<ApiKeyHttpException> | undefined)?.headers;
    if (headers) for (const [name, value] of Object.entries(headers)) this.setHeader(response, name, value);
  }

  /**
   * Sets a response header: on Node's own response object (Express's) directly, otherwise
   * through the platform's adapter (Fastify's reply keeps its own headers).
   */
  protected setHeader(response: object, name: string, value: string): void {
    if (response instanceof ServerResponse) response.setHeader(name, value);
    else this.adapterHost.httpAdapter.setHeader(response, name, value);
  }
}

interface RouteMetadata {
  readonly isPublic: boolean;
  readonly isOptional: boolean;
  readonly requirement: ScopeRequirement | undefined;
}

/** The `WWW-Authenticate` value of a 401: for a missing key, or (`invalid`) for a key that is not valid. */
export function challengeFor(options: ResolvedApiKeyOptions, invalid: boolean): string {
  const realm = `realm="${options.realm}"`;
  const challenges: string[] = [];
  if (options.header || options.cookie || options.query) challenges.push(`ApiKey ${realm}`);
  if (options.bearer) challenges.push(invalid ? `Bearer ${realm}, error="invalid_token"` : `Bearer ${realm}`);
  return challenges.join(', ');
}
