import type { CanActivate, INestApplicationContext, Type } from '@nestjs/common';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import { ApiKeyGuard } from '../guard/api-key.guard.js';
import type { ScopeRequirement } from '../guard/api-key.scopes.js';
import { PublicMetadata } from '../guard/public.decorator.js';
import { ScopeRequirementMetadata } from '../guard/require-scopes.decorator.js';
import { ApiKeyAuthMetadata } from './api-key-auth.decorator.js';

/** `@UseGuards` metadata key of `@nestjs/common` (stable since Nest 5, not exported from its root). */
const GUARDS_METADATA = '__guards__';

/** What the document must say about one guarded handler. */
export interface GuardedHandler {
  /** The route's scope requirement (the handler's, else its controller's), if any. */
  readonly scopes: ScopeRequirement | undefined;
}

/** The parts of Nest's internal `ApplicationConfig` read here (the same object `@nestjs/swagger` reads). */
interface GlobalGuards {
  getGlobalGuards(): CanActivate[];
  getGlobalRequestGuards(): { metatype?: unknown }[];
}

/**
 * Finds every controller handler of `app` that {@link ApiKeyGuard} (or a subclass) protects,
 * with the same rules as the guard: `@UseGuards` on the handler or its controller, or a global
 * guard (`APP_GUARD` or `app.useGlobalGuards`), or marked `@ApiKeyAuth()`, minus `@Public()`
 * handlers and controllers.
 *
 * Throws when one handler function is shared by controllers that need different documentation
 * (an inherited method, guarded in one subclass and public in another): the document could not
 * tell those operations apart.
 */
export function findGuardedHandlers(app: INestApplicationContext): Map<Function, GuardedHandler> {
  const reflector = new Reflector();
  const globallyGuarded = hasGlobalApiKeyGuard(app);
  const found = new Map<Function, GuardedHandler | null>();
  const scanner = new MetadataScanner();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as Type | null;
      if (!controller?.prototype) continue;
      for (const name of scanner.getAllMethodNames(controller.prototype)) {
        const handler = controller.prototype[name] as Function;
        const targets = [handler, controller];
        const guarded =
          reflector.getAllAndOverride(PublicMetadata, targets) !== true &&
          (globallyGuarded ||
            reflector.getAllAndOverride(ApiKeyAuthMetadata, targets) === true ||
            targets.some((target) => usesApiKeyGuard(reflector.get<unknown[]>(GUARDS_METADATA, target))));
        const entry = guarded ? { scopes: reflector.getAllAndOverride(ScopeRequirementMetadata, targets) } : null;
        if (found.has(handler) && !sameEntry(found.get(handler)!, entry)) {
          throw new Error(
            `nestjs-api-key/swagger: ${controller.name}.${name} ` +
              'is inherited by controllers that guard it differently; ' +
              'override it in each controller (calling super) so each has its own handler',
          );
        }
        found.set(handler, entry);
      }
    }
  }
  return new Map([...found].filter((pair): pair is [Function, GuardedHandler] => pair[1] !== null));
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

function sameEntry(a: GuardedHandler | null, b: GuardedHandler | null): boolean {
  return a === b || (a !== null && b !== null && JSON.stringify(a.scopes) === JSON.stringify(b.scopes));
}
