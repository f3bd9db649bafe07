import { Injectable, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { ServerResponse } from 'node:http';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import type { ApiKeyVerification } from '../verification/api-key-verification.interface.js';
import { ApiKeyAuthenticator } from '../verification/api-key.authenticator.js';
import { ApiKeyGuardHook } from './api-key-guard.hook.js';
import { readPresentedKey, type PresentedApiKey } from './api-key.credentials.js';
import {
  ApiKeyInsufficientScopeException,
  ApiKeyInvalidException,
  ApiKeyMissingException,
  withoutStackTrace,
  type ApiKeyHttpException,
} from '../api-key.exceptions.js';
import { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import { attachPrincipal, rawRequestOf, rememberedPrincipal } from './api-key.request.js';
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
  /** The 401s, built once: they carry nothing of a request, so every refusal throws the same one. */
  private readonly missing: ApiKeyMissingException;
  private readonly invalid: ApiKeyInvalidException;
  private readonly routes = new WeakMap<object, RouteMetadata>();

  constructor(
    protected readonly reflector: Reflector,
    protected readonly options: ResolvedApiKeyOptions,
    protected readonly authenticator: ApiKeyAuthenticator,
    protected readonly adapterHost: HttpAdapterHost,
    @Optional() protected readonly hook?: ApiKeyGuardHook,
  ) {
    this.missing = withoutStackTrace(() => new ApiKeyMissingException(challengeFor(options, false)));
    this.invalid = withoutStackTrace(() => new ApiKeyInvalidException(challengeFor(options, true)));
  }

  /**
   * Runs the steps below in order; see the class description for the outcomes. Answers at once
   * (without a promise) when the key is decided without waiting for storage.
   */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (this.isPublic(context)) return true;
    const http = this.getRequestResponse(context);
    if (!http) return false;
    try {
      const remembered = rememberedPrincipal(http.request, this.authenticator);
      if (remembered) return this.admit(context, http.response, remembered, false);
      const principal = this.authenticateFirstPass(context, http.request);
      const admitted = principal instanceof Promise ? principal.then((p) => this.admit(context, http.response, p, true)) : this.admit(context, http.response, principal, true);
      return admitted instanceof Promise ? admitted.catch((error: unknown) => this.refuse(http.response, error)) : admitted;
    } catch (error) {
      return this.refuse(http.response, error);
    }
  }

  /** Whether the handler or its controller is marked `@Public()`. */
  protected isPublic(context: ExecutionContext): boolean {
    return this.routeMetadata(context).isPublic;
  }

  /** The request and response objects, or `undefined` for a context this guard cannot handle. */
  protected getRequestResponse(context: ExecutionContext): { request: object; response: object } | undefined {
    if (context.getType() !== 'http') return undefined;
    // What switchToHttp() reads, without the accessor closures it builds on every call.
    return { request: context.getArgByIndex(0), response: context.getArgByIndex(1) };
  }

  /** Authenticates a request on the guard's first pass over it, through the {@link ApiKeyGuardHook} when one is provided. */
  protected authenticateFirstPass(context: ExecutionContext, request: object): MaybePromise<ApiKeyPrincipal> {
    return this.hook ? this.hook.authenticate(context, async () => this.authenticateRequest(request), request) : this.authenticateRequest(request);
  }

  /** Reads, verifies and attaches the request's key; throws 400, 401 or 503 as it fails. */
  protected authenticateRequest(request: object): MaybePromise<ApiKeyPrincipal> {
    const presented = this.readKey(request);
    if (!presented) throw this.missing;
    const principal = this.authenticate(presented);
    if (principal instanceof Promise) {
      return principal.then((verified) => {
        this.attachPrincipal(request, verified);
        return verified;
      });
    }
    this.attachPrincipal(request, principal);
    return principal;
  }

  /** The one key the request presents, or `null`; throws 400 when it presents more than one. */
  protected readKey(request: object): PresentedApiKey | null {
    return readPresentedKey(rawRequestOf(request), this.options);
  }

  /** Verifies the key; throws 401 when it is not valid and 503 when the store fails. */
  protected authenticate(presented: PresentedApiKey): MaybePromise<ApiKeyPrincipal> {
    const result = this.authenticator.verifyInline(presented.value);
    return result instanceof Promise ? result.then((verification) => this.acceptedPrincipal(verification)) : this.acceptedPrincipal(result);
  }

  /** The principal of a valid verification; throws the 401 otherwise. */
  private acceptedPrincipal(verification: ApiKeyVerification): ApiKeyPrincipal {
    if (!verification.valid) throw this.invalid;
    return verification.principal;
  }

  /** Checks the route's scopes, runs the hook's `authorized` on a first pass and marks the response uncacheable. */
  private admit(context: ExecutionContext, response: object, principal: ApiKeyPrincipal, firstPass: boolean): MaybePromise<boolean> {
    this.authorize(principal, this.getScopeRequirement(context));
    if (firstPass && this.hook) return this.hook.authorized(context, principal, response).then(() => this.admitted(response));
    return this.admitted(response);
  }

  private admitted(response: object): true {
    this.setHeader(response, 'Cache-Control', 'no-store');
    return true;
  }

  /** Sets the headers an HTTP exception carries (`WWW-Authenticate`, ...) and rethrows it. */
  private refuse(response: object, error: unknown): never {
    const headers = (error as Partial<ApiKeyHttpException>)?.headers;
    if (headers) for (const name in headers) this.setHeader(response, name, headers[name]!);
    throw error;
  }

  /** The route's scope requirement: the handler's if it has one, else the controller's. */
  protected getScopeRequirement(context: ExecutionContext): ScopeRequirement | undefined {
    return this.routeMetadata(context).requirement;
  }

  /** The route's decorator metadata, read once per handler and controller (it is static). */
  private routeMetadata(context: ExecutionContext): RouteMetadata {
    const handler = context.getHandler();
    const type = context.getClass();
    const first = this.routes.get(handler);
    if (first?.type === type) return first;
    // A handler inherited by several controllers: one entry per controller class.
    if (first) {
      let other = first.others.get(type);
      if (!other) first.others.set(type, (other = this.readRouteMetadata(handler, type)));
      return other;
    }
    const metadata = this.readRouteMetadata(handler, type);
    this.routes.set(handler, metadata);
    return metadata;
  }

  private readRouteMetadata(handler: object, type: object): RouteMetadata {
    const targets = [handler, type] as Parameters<Reflector['getAllAndOverride']>[1];
    return {
      type,
      isPublic: this.reflector.getAllAndOverride(PublicMetadata, targets) === true,
      requirement: this.reflector.getAllAndOverride(ScopeRequirementMetadata, targets),
      others: new WeakMap(),
    };
  }

  /** Throws 403 when the principal does not satisfy the requirement. */
  protected authorize(principal: ApiKeyPrincipal, requirement: ScopeRequirement | undefined): void {
    if (requirement && !satisfiesScopes(principal.scopes, requirement)) {
      throw new ApiKeyInsufficientScopeException(requirement.scopes, requirement.mode);
    }
  }

  /**
   * Puts the principal on the request, where `@ApiKey()` finds it (`request.apiKey`) and where a
   * second guard pass over the request finds it authenticated.
   */
  protected attachPrincipal(request: object, principal: ApiKeyPrincipal): void {
    attachPrincipal(request, principal);
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

type MaybePromise<T> = T | Promise<T>;

interface RouteMetadata {
  /** The controller class the metadata was read for. */
  readonly type: object;
  readonly isPublic: boolean;
  readonly requirement: ScopeRequirement | undefined;
  /** The same handler's metadata under other controller classes. */
  readonly others: WeakMap<object, RouteMetadata>;
}

function challengeFor(options: ResolvedApiKeyOptions, invalid: boolean): string {
  const realm = `realm="${options.realm}"`;
  const challenges: string[] = [];
  if (options.header || options.cookie || options.query) challenges.push(`ApiKey ${realm}`);
  if (options.bearer) challenges.push(invalid ? `Bearer ${realm}, error="invalid_token"` : `Bearer ${realm}`);
  return challenges.join(', ');
}
