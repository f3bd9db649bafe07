import {
  ForbiddenException,
  HttpException,
  Inject,
  Injectable,
  mixin,
  type CanActivate,
  type ExecutionContext,
  type Type,
} from '@nestjs/common';
import { ContextIdFactory, ModuleRef } from '@nestjs/core';
import { isObservable, lastValueFrom } from 'rxjs';
import type { ApiKeyMissingException } from '../api-key.exceptions.js';
import { ApiKeyGuard } from './api-key.guard.js';

/**
 * The guard {@link ApiKeyOr} builds: {@link ApiKeyGuard} for a request that presents a key, and
 * the other guards, in order, for a request that presents none.
 */
export class ApiKeyOrGuard extends ApiKeyGuard {
  /** The guards a request without a key may pass instead, in the order they are tried (set by {@link ApiKeyOr}). */
  declare protected readonly alternatives: readonly Type<CanActivate>[];

  @Inject(ModuleRef) private readonly moduleRef!: ModuleRef;
  /**
   * The one instance of each other guard, resolved when a request without a key first needs it;
   * `undefined` for a guard that depends on a request-scoped provider, built for each request.
   */
  private readonly shared = new Map<Type<CanActivate>, Promise<CanActivate | undefined>>();

  /**
   * Tries the other guards in order: the first that admits the request wins (`request.apiKey` is
   * then `null`). When none does, the last one's refusal is the answer (a guard that returns
   * `false` counts as Nest's 403 `Forbidden resource`), with `Cache-Control: no-store` and, on a
   * 401 whose response has no `WWW-Authenticate` yet, the key's challenge.
   * `@OptionalApiKey()` does not apply: a request without a key must pass one of the guards.
   */
  protected override async admitWithoutKey(
    context: ExecutionContext,
    request: object,
    response: object | null,
    missing: ApiKeyMissingException,
  ): Promise<void> {
    let refusal: unknown;
    for (const type of this.alternatives) {
      try {
        if (await admits(await this.guardFor(type, request), context)) {
          this.attachAnonymous(request);
          return;
        }
        refusal = new ForbiddenException('Forbidden resource');
      } catch (error) {
        refusal = error;
      }
    }
    if (response) {
      this.setHeader(response, 'Cache-Control', 'no-store');
      if (refusal instanceof HttpException && refusal.getStatus() === 401 && !hasHeader(response, 'WWW-Authenticate')) {
        this.setHeader(response, 'WWW-Authenticate', missing.headers['WWW-Authenticate']!);
      }
    }
    throw refusal;
  }

  /**
   * The instance of another guard for this request: the route's module's provider when the guard
   * is registered as one, else an instance built once there through dependency injection (as Nest
   * builds a guard named in `@UseGuards`); a guard that depends on a request-scoped provider is
   * built for each request, with the request as Nest's `REQUEST`.
   */
  private async guardFor(type: Type<CanActivate>, request: object): Promise<CanActivate> {
    let shared = this.shared.get(type);
    if (!shared) this.shared.set(type, (shared = this.sharedInstanceOf(type)));
    const instance = await shared;
    if (instance) return instance;
    const contextId = ContextIdFactory.getByRequest(request);
    this.moduleRef.registerRequestByContextId(request, contextId);
    return this.moduleRef.create(type, contextId);
  }

  /** The guard's one instance, or `undefined` when it cannot have one (a request-scoped dependency). */
  private async sharedInstanceOf(type: Type<CanActivate>): Promise<CanActivate | undefined> {
    try {
      return this.moduleRef.get(type, { strict: true });
    } catch {
      // Not a provider of the route's module (or a scoped one): built below.
    }
    try {
      return await this.moduleRef.create(type);
    } catch {
      // Nest builds a guard with a request-scoped dependency only for a request; any other failure
      // to build it shows there, on each request without a key.
      return undefined;
    }
  }
}

/**
 * A guard for routes that take an API key or another login, the other login's guard given as
 * in `@UseGuards`: `@UseGuards(ApiKeyOr(AuthGuard('jwt')))`.
 *
 * A request that presents a key is decided by the key alone, as {@link ApiKeyGuard} decides
 * (the same steps, headers, events, restrictions, `@RequireScopes` and rate limits of
 * `nestjs-api-key/rate-limit`): a key that is not valid is refused with 401 and
 * `WWW-Authenticate` whatever other credentials the request carries, two keys with 400, a store
 * failure with 503. A request without a key goes to `guards` in order: the first that admits it
 * wins, and `@ApiKey()` is then `null`; when none does, the last one's refusal is the answer.
 * Scopes apply to key callers only (the other login's permissions are its own guards' job).
 * `@Public()` wins; `@OptionalApiKey()` does not apply (a request without a key must pass one of
 * `guards`). In the OpenAPI document, name the other guards' schemes with
 * `@ApiKeyAuth({ or: ['jwt'] })` of `nestjs-api-key/swagger`.
 *
 * The guards are resolved through the module that uses the returned guard: its provider when one
 * is registered, else built there once through dependency injection; one that depends on a
 * request-scoped provider is built for each request without a key, as Nest builds such a guard.
 *
 * @param guards the guards a request without a key may pass instead, tried in this order
 * @returns a guard class, for `@UseGuards`, `APP_GUARD`, or to extend (every step of
 *   {@link ApiKeyGuard} is a protected method)
 * @throws TypeError when no guard class is given
 */
export function ApiKeyOr(...guards: Type<CanActivate>[]): Type<ApiKeyOrGuard> {
  if (guards.length === 0 || guards.some((guard) => typeof guard !== 'function')) {
    throw new TypeError("ApiKeyOr takes one or more guard classes: ApiKeyOr(AuthGuard('jwt'))");
  }
  @Injectable()
  class ApiKeyOrMixinGuard extends ApiKeyOrGuard {
    protected override readonly alternatives = Object.freeze([...guards]);
  }
  return mixin(ApiKeyOrMixinGuard);
}

/** Whether a guard admits the request, whatever form its answer takes (a value, a promise, an observable). */
async function admits(guard: CanActivate, context: ExecutionContext): Promise<boolean> {
  const answer = guard.canActivate(context);
  return isObservable(answer) ? lastValueFrom(answer) : answer;
}

/** Whether a response (Node's, Express's, or Fastify's reply) already has a header. */
function hasHeader(response: object, name: string): boolean {
  return (response as { hasHeader?(name: string): boolean }).hasHeader?.(name) === true;
}
