import type { CanActivate, INestApplicationContext, Type } from '@nestjs/common';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import { ApiKeyOrGuard } from '../guard/api-key-or.guard.js';
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
  /** Whether a guarded route admits callers without a key (`@OptionalApiKey()`, unless `ApiKeyOr(...)` guards it). */
  readonly optional: boolean;
  /** Schemes a guarded route accepts instead of a key (`@ApiKeyAuth({ or })`). */
  readonly or: readonly string[];
  /** Whether `ApiKeyOr(...)` guards the route and no `@ApiKeyAuth()` names the schemes of its other guards. */
  readonly unnamedAlternatives: boolean;
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
 * (`@OptionalApiKey()`) or one of several ways in (`@ApiKeyAuth({ or })`, `ApiKeyOr(...)`).
 */
export function scanRouteHandlers(app: INestApplicationContext): RouteHandler[] {
  const reflector = new Reflector();
  const globalGuards = globalGuardsOf(app);
  const globallyGuarded = usesGuard(globalGuards, ApiKeyGuard);
  const globallyOr = usesGuard(globalGuards, ApiKeyOrGuard);
  const globallyKeyOnly = usesKeyOnlyGuard(globalGuards);
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
        const routeGuards = targets.flatMap(
          (target) => reflector.get<unknown[] | undefined>(GUARDS_METADATA, target) ?? [],
        );
        const guarded =
          reflector.getAllAndOverride(PublicMetadata, targets) !== true &&
          (globallyGuarded || marked !== undefined || usesGuard(routeGuards, ApiKeyGuard));
        const scopes = guarded ? reflector.getAllAndOverride(ScopeRequirementMetadata, targets) : undefined;
        const optionalKey = reflector.getAllAndOverride(OptionalApiKeyMetadata, targets) === true;
        // An `ApiKeyGuard` that is not `ApiKeyOr(...)` refuses callers without a key, whatever else
        // runs, unless the key is optional: no alternative then gets in.
        const keyOnly = guarded && !optionalKey && (globallyKeyOnly || usesKeyOnlyGuard(routeGuards));
        const orGuarded = guarded && !keyOnly && (globallyOr || usesGuard(routeGuards, ApiKeyOrGuard));
        // `ApiKeyOr(...)` admits no caller without a key or another login, `@OptionalApiKey()` or not.
        const optional = guarded && !orGuarded && optionalKey;
        const unnamedAlternatives = orGuarded && marked === undefined;
        handlers.push({
          controller,
          name,
          handler,
          guarded,
          scopes,
          optional,
          or: guarded && !keyOnly ? (marked?.or ?? []) : [],
          unnamedAlternatives,
        });
      }
    }
  }
  return handlers;
}

/** The global guards of `app` (`APP_GUARD` or `app.useGlobalGuards`), as instances or classes. */
function globalGuardsOf(app: INestApplicationContext): unknown[] {
  const config = (app as unknown as { config?: Partial<GlobalGuards> }).config;
  if (typeof config?.getGlobalGuards !== 'function' || typeof config.getGlobalRequestGuards !== 'function') {
    throw new Error(
      'nestjs-api-key/swagger: pass the INestApplication (from NestFactory.create or createNestApplication)',
    );
  }
  return [...config.getGlobalGuards(), ...config.getGlobalRequestGuards().map((wrapper) => wrapper.metatype)];
}

/** Whether a list of guards holds an {@link ApiKeyGuard} (or a subclass) that is not `ApiKeyOr(...)`. */
function usesKeyOnlyGuard(guards: readonly unknown[]): boolean {
  return guards.some((guard) => usesGuard([guard], ApiKeyGuard) && !usesGuard([guard], ApiKeyOrGuard));
}

/** Whether a list of guards (classes or instances) holds `base` or a subclass. */
function usesGuard(guards: readonly unknown[], base: abstract new (...args: never[]) => unknown): boolean {
  return guards.some(
    (guard) =>
      guard instanceof base || (typeof guard === 'function' && (guard === base || guard.prototype instanceof base)),
  );
}
