import { Injectable, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { ServerResponse } from 'node:http';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import { ApiKeyAuthenticator } from '../verification/api-key.authenticator.js';
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
import { attachPrincipal, rawRequestOf, rememberedPrincipal } from './api-key.request.js';
import { satisfiesScopes, type ScopeRequirement } from './api-key.scopes.js';
import { PublicMetadata } from './public.decorator.js';
import { clientIpOf } from './client-address.js';
import { restrictionsOf } from '../storage/verified-api-key.js';
import type { ApiKeyRestrictionReason } from './api-key.restrictions.js';
import { ScopeRequirementMetadata } from './require-scopes.decorator.js';

/**
 * Authenticates HTTP requests by API key and enforces `@RequireScopes`/`@RequireAnyScope`.
 *
 * Use it with `@UseGuards(ApiKeyGuard)` or register it globally
 * (`{ provide: APP_GUARD, useClass: ApiKeyGuard }`) and mark open routes `@Public()`.
 * Every step is a protected method, so a subclass can adapt one (for instance
 * {@link getRequestResponse} for GraphQL, or {@link throwRefusal} for another error body)
 * without copying the rest.
 *
 * Outcomes: 401 (missing or invalid key, with `WWW-Authenticate`), 400 (more than one key),
 * 403 (a key used from outside its allowed networks or origins, or a missing scope), 503 (key
 * store failure). It throws rather than returning `false`, and
 * it denies any execution context it cannot read a request from.
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
        const principal = await this.authenticateFirstPass(context, request);
        this.authorize(principal, this.getScopeRequirement(context));
        this.attachPrincipal(request, principal);
        await this.hook?.authorized(context, principal, response);
      }
      this.setHeader(response, 'Cache-Control', 'no-store');
      return true;
    } catch (error) {
      this.setRefusalHeaders(response, error);
      return this.throwRefusal(error, context);
    }
  }

  /** Whether the handler or its controller is marked `@Public()`. */
  protected isPublic(context: ExecutionContext): boolean {
    return this.routeMetadata(context).isPublic;
  }

  /** The request and response objects, or `undefined` for a context this guard cannot handle. */
  protected getRequestResponse(context: ExecutionContext): { request: object; response: object } | undefined {
    if (context.getType() !== 'http') return undefined;
    const http = context.switchToHttp();
    return { request: http.getRequest<object>(), response: http.getResponse<object>() };
  }

  /** The principal an earlier pass of a guard of this module attached to the request, if any. */
  protected getRememberedPrincipal(request: object): ApiKeyPrincipal | undefined {
    return rememberedPrincipal(request, this.authenticator);
  }

  /** Reads and verifies the request's key, through the {@link ApiKeyGuardHook} when one is provided. */
  protected authenticateFirstPass(context: ExecutionContext, request: object): Promise<ApiKeyPrincipal> {
    if (!this.hook) return this.authenticateRequest(request);
    return this.hook.authenticate(context, () => this.authenticateRequest(request), request);
  }

  /**
   * Reads and verifies the request's key and checks its restrictions; throws 400, 401, 403 or 503
   * as it fails. A restricted key is refused here, before a rate limit counts the request.
   */
  protected async authenticateRequest(request: object): Promise<ApiKeyPrincipal> {
    const presented = this.readKey(request);
    if (!presented) throw this.missing;
    const principal = await this.authenticate(presented);
    this.enforceRestrictions(request, principal);
    return principal;
  }

  /** The one key the request presents, or `null`; throws 400 when it presents more than one. */
  protected readKey(request: object): PresentedApiKey | null {
    return readPresentedKey(rawRequestOf(request), this.options);
  }

  /** Verifies the key; throws 401 when it is not valid and 503 when the store fails. */
  protected async authenticate(presented: PresentedApiKey): Promise<ApiKeyPrincipal> {
    const verification = await this.authenticator.verify(presented.value);
    if (!verification.valid) throw this.invalid;
    return verification.principal;
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
   * Throws the refusal: every 400, 401, 403 and 503 of the steps above, and any error the
   * {@link ApiKeyGuardHook} throws (a 429), passes through here. Override it to reshape the
   * answer (another body, another exception class), as `handleRequest` in `@nestjs/passport`.
   * The refusal's headers (`WWW-Authenticate`, `Retry-After`, ...) are already set on the
   * response when it is called. It must throw: a guard that returned `false` would answer a
   * plain 403 for every refusal.
   *
   * @param error what the failing step threw (an {@link ApiKeyHttpException} for the guard's own refusals)
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
  readonly requirement: ScopeRequirement | undefined;
}

function challengeFor(options: ResolvedApiKeyOptions, invalid: boolean): string {
  const realm = `realm="${options.realm}"`;
  const challenges: string[] = [];
  if (options.header || options.cookie || options.query) challenges.push(`ApiKey ${realm}`);
  if (options.bearer) challenges.push(invalid ? `Bearer ${realm}, error="invalid_token"` : `Bearer ${realm}`);
  return challenges.join(', ');
}
