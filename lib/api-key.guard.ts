import { Injectable, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import type { ApiKeyPrincipal } from './api-key-principal.interface.js';
import { ApiKeyAuthenticator } from './api-key.authenticator.js';
import { ApiKeyGuardHook } from './api-key-guard.hook.js';
import { readPresentedKey, type PresentedApiKey } from './api-key.credentials.js';
import {
  ApiKeyInsufficientScopeException,
  ApiKeyInvalidException,
  ApiKeyMissingException,
  withoutStackTrace,
  type ApiKeyHttpException,
} from './api-key.exceptions.js';
import { ResolvedApiKeyOptions } from './api-key-options.js';
import { rawRequestOf, rememberedPrincipal, rememberPrincipal, type RequestWithApiKey } from './api-key.request.js';
import { satisfiesScopes, type ScopeRequirement } from './api-key.scopes.js';
import { PublicMetadata } from './public.decorator.js';
import { ScopeRequirementMetadata } from './require-scopes.decorator.js';

/**
 * Authenticates HTTP requests by API key and enforces `@RequireScopes`/`@RequireAnyScope`.
 *
 * Use it with `@UseGuards(ApiKeyGuard)` or register it globally
 * (`{ provide: APP_GUARD, useClass: ApiKeyGuard }`) and mark open routes `@Public()`.
 * Every step is a protected method, so a subclass can adapt one (for instance
 * {@link getRequestResponse} for GraphQL) without copying the rest.
 *
 * Outcomes: 401 (missing or invalid key, with `WWW-Authenticate`), 400 (more than one key),
 * 403 (missing scope), 503 (key store failure). It throws rather than returning `false`, and
 * it denies any execution context it cannot read a request from.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly missingChallenge: string;
  private readonly invalidChallenge: string;
  private readonly routes = new WeakMap<object, WeakMap<object, RouteMetadata>>();

  constructor(
    protected readonly reflector: Reflector,
    protected readonly options: ResolvedApiKeyOptions,
    protected readonly authenticator: ApiKeyAuthenticator,
    protected readonly adapterHost: HttpAdapterHost,
    @Optional() protected readonly hook?: ApiKeyGuardHook,
  ) {
    this.missingChallenge = challengeFor(options, false);
    this.invalidChallenge = challengeFor(options, true);
  }

  /** Runs the steps below in order; see the class description for the outcomes. */
  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.isPublic(context)) return true;
    const http = this.getRequestResponse(context);
    if (!http) return false;
    try {
      const remembered = rememberedPrincipal(http.request);
      const principal = remembered ?? (await this.authenticateFirstPass(context, http.request));
      this.authorize(principal, this.getScopeRequirement(context));
      if (!remembered) await this.hook?.authorized(context, principal);
      this.setHeader(http.response, 'Cache-Control', 'no-store');
      return true;
    } catch (error) {
      const headers = (error as Partial<ApiKeyHttpException>)?.headers;
      if (headers) for (const [name, value] of Object.entries(headers)) this.setHeader(http.response, name, value);
      throw error;
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
    return { request: http.getRequest(), response: http.getResponse() };
  }

  /** Authenticates a request on the guard's first pass over it, through the {@link ApiKeyGuardHook} when one is provided. */
  protected authenticateFirstPass(context: ExecutionContext, request: object): Promise<ApiKeyPrincipal> {
    const authenticate = () => this.authenticateRequest(request);
    return this.hook ? this.hook.authenticate(context, authenticate) : authenticate();
  }

  /** Reads, verifies and attaches the request's key; throws 400, 401 or 503 as it fails. */
  protected async authenticateRequest(request: object): Promise<ApiKeyPrincipal> {
    const presented = this.readKey(request);
    if (!presented) throw withoutStackTrace(() => new ApiKeyMissingException(this.missingChallenge));
    const principal = await this.authenticate(presented);
    this.attachPrincipal(request, principal);
    return principal;
  }

  /** The one key the request presents, or `null`; throws 400 when it presents more than one. */
  protected readKey(request: object): PresentedApiKey | null {
    return readPresentedKey(rawRequestOf(request), this.options);
  }

  /** Verifies the key; throws 401 when it is not valid and 503 when the store fails. */
  protected async authenticate(presented: PresentedApiKey): Promise<ApiKeyPrincipal> {
    const result = await this.authenticator.verify(presented.value);
    if (!result.valid) throw withoutStackTrace(() => new ApiKeyInvalidException(this.invalidChallenge));
    return result.principal;
  }

  /** The route's scope requirement: the handler's if it has one, else the controller's. */
  protected getScopeRequirement(context: ExecutionContext): ScopeRequirement | undefined {
    return this.routeMetadata(context).requirement;
  }

  /** The route's decorator metadata, read once per handler and controller (it is static). */
  private routeMetadata(context: ExecutionContext): RouteMetadata {
    const handler = context.getHandler();
    const type = context.getClass();
    let byClass = this.routes.get(handler);
    if (!byClass) this.routes.set(handler, (byClass = new WeakMap()));
    let metadata = byClass.get(type);
    if (!metadata) {
      metadata = {
        isPublic: this.reflector.getAllAndOverride(PublicMetadata, [handler, type]) === true,
        requirement: this.reflector.getAllAndOverride(ScopeRequirementMetadata, [handler, type]),
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

  /** Puts the principal on the request, where `@ApiKey()` finds it (`request.apiKey`). */
  protected attachPrincipal(request: object, principal: ApiKeyPrincipal): void {
    (request as RequestWithApiKey).apiKey = principal;
    rememberPrincipal(request, principal);
  }

  /** Sets a response header through the platform's adapter (Express or Fastify). */
  protected setHeader(response: object, name: string, value: string): void {
    this.adapterHost.httpAdapter.setHeader(response, name, value);
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
