import { applyDecorators } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ScopeRequirement } from './api-key.scopes.js';

/** Metadata written by {@link RequireScopes} and {@link RequireAnyScope}; read by the guard. */
export const ScopeRequirementMetadata = Reflector.createDecorator<ScopeRequirement>({
  key: 'nestjs-api-key:scopes',
});

function requirement(mode: ScopeRequirement['mode'], scopes: readonly string[], decorator: string): ScopeRequirement {
  if (scopes.length === 0 || scopes.some((scope) => typeof scope !== 'string' || scope.trim() === '')) {
    throw new TypeError(`@${decorator}() needs at least one non-empty scope`);
  }
  return Object.freeze({ mode, scopes: Object.freeze([...scopes]) });
}

/**
 * The key must hold every one of `scopes`. On a controller it applies to each handler; on a
 * handler it replaces the controller's requirement (method metadata wins, it is not merged).
 *
 * @example `@RequireScopes('orders:read', 'orders:write')`
 */
export function RequireScopes(...scopes: string[]): MethodDecorator & ClassDecorator {
  return applyDecorators(ScopeRequirementMetadata(requirement('all', scopes, 'RequireScopes')));
}

/**
 * The key must hold at least one of `scopes`. Same placement rules as {@link RequireScopes}.
 *
 * @example `@RequireAnyScope('reports:read', 'admin')`
 */
export function RequireAnyScope(...scopes: string[]): MethodDecorator & ClassDecorator {
  return applyDecorators(ScopeRequirementMetadata(requirement('any', scopes, 'RequireAnyScope')));
}
