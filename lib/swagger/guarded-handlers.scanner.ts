import type { CanActivate, INestApplicationContext, Type } from '@nestjs/common';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import { ApiKeyGuard } from '../guard/api-key.guard.js';
import type { ScopeRequirement } from '../guard/api-key.scopes.js';
import { OptionalApiKeyMetadata } from '../guard/optional-api-key.decorator.js';
import { PublicMetadata } from '../guard/public.decorator.js';
import { ScopeRequirementMetadata } from '../guard/require-scopes.decorator.js';
import { ApiKeyAuthMetadata } from './api-key-auth.decorator.js';

/** `@UseGuards` metadata key of `@nestjs/common` (stable since Nest 5, not exported from its root). */
const GUARDS_METADATA = '__guards__';
/** Route path metadata key of `@nestjs/common`: present on every route handler. */
const PATH_METADATA = 'path';

/** A controller method and whether `ApiKeyGuard` protects it. */
export interface RouteHandler {
  /** The controller class the method is reached through (a subclass may inherit the method). */
  readonly controller: Type;
  /** The method's name on the controller. */
  readonly name: string;
  /** The method itself: where `@nestjs/swagger` reads an operation's metadata. */
  readonly handler: Function;
  /** Whether the guard protects it. */
  readonly guarded: boolean;
  /** The route's scope requirement (the handler's, else its controller's), if guarded and any. */
  readonly scopes: ScopeRequirement | undefined;
  /** Whether a guarded route admits callers without a key (`@OptionalApiKey()`). */
  readonly optional: boolean;
  /** Schemes a guarded route accepts instead of a key (`@ApiKeyAuth({ or })`). */
  readonly or: readonly string[];
}

/** The parts of Nest's internal `ApplicationConfig` read here (the same object `@nestjs/swagger` reads). */
interface GlobalGuards {
  getGlobalGuards(): CanActivate[];
  getGlobalRequestGuards(): { metatype?: unknown }[];
}

/**
 * Every method of every controller of `app`, each saying whether {@link ApiKeyGuard} (or a
 * subclass) protects it, with the same rules as the guard: `@UseGuards` on the handler or its
 * controller, or a global guard (`APP_GUARD` or `app.useGlobalGuards`), or marked
 * `@ApiKeyAuth()`, minus `@Public()` handlers and controllers; and whether the key is optional
 * (`@OptionalApiKey()`) or one of several ways in (`@ApiKeyAuth({ or })`).
 */
export function scanRouteHandlers(app: INestApplicationContext): RouteHandler[] {
  const reflector = new Reflector();
  const globallyGuarded = hasGlobalApiKeyGuard(app);
  const scanner = new MetadataScanner();
  const handlers: RouteHandler[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as Type | null;
      if (!controller?.prototype) continue;
      for (const name of scanner.getAllMethodNames(controller.prototype)) {
        const handler = controller.prototype[name] as Function;
        if (!Reflect.hasMetadata(PATH_METADATA, handler)) continue; // not a route
        const targets = [handler, controller];
        const marked = reflector.getAllAndOverride(ApiKeyAuthMetadata, targets);
        const guarded =
          reflector.getAllAndOverride(PublicMetadata, targets) !== true &&
          (globallyGuarded ||
            marked !== undefined ||
            targets.some((target) => usesApiKeyGuard(reflector.get<unknown[]>(GUARDS_METADATA, target))));
        const scopes = guarded ? reflector.getAllAndOverride(ScopeRequirementMetadata, targets) : undefined;
        const optional = guarded && reflector.getAllAndOverride(OptionalApiKeyMetadata, targets) === true;
        handlers.push({ controller, name, handler, guarded, scopes, optional, or: guarded ? (marked?.or ?? []) : [] });
      }
    }
  }
  return handlers;
}

function hasGlobalApiKeyGuard(app: INestApplicationContext): boolean {
  const config = (app as unknown as { config?: Partial<GlobalGuards> }).config;
  if (typeof config?.getGlobalGuards !== 'function' || typeof config.getGlobalRequestGuards !== 'function') {
    throw new Error(
      'nestjs-api-key/swagger: pass the INestApplication (from NestFactory.create or createNestApplication)',
    );
  }
  return (
    usesApiKeyGuard(config.getGlobalGuards()) ||
    usesApiKeyGuard(config.getGlobalRequestGuards().map((wrapper) => wrapper.metatype))
  );
}

/** Whether a list of guards (classes or instances) holds {@link ApiKeyGuard} or a subclass. */
function usesApiKeyGuard(guards: readonly unknown[] | undefined): boolean {
  return (guards ?? []).some(
    (guard) =>
      guard instanceof ApiKeyGuard ||
      (typeof guard === 'function' && (guard === ApiKeyGuard || guard.prototype instanceof ApiKeyGuard)),
  );
}
