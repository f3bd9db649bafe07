/** What a route requires: every scope (`all`) or at least one (`any`). */
export interface ScopeRequirement {
  readonly mode: 'all' | 'any';
  readonly scopes: readonly string[];
}

/**
 * Whether `granted` includes `required`: an exact, case-sensitive match, or a granted scope
 * ending in `:*` whose namespace contains it (`orders:*` grants `orders:read` and
 * `orders:items:read`, not `ordersx:read` nor `orders`). A bare `*` is not a wildcard.
 */
export function grantsScope(granted: readonly string[], required: string): boolean {
  for (const scope of granted) {
    if (scope === required) return true;
    if (
      scope.length > 2 &&
      scope.endsWith(':*') &&
      required.length > scope.length - 1 &&
      required.startsWith(scope.slice(0, -1))
    ) {
      return true;
    }
  }
  return false;
}

/** Whether a key with the `granted` scopes satisfies `requirement`. */
export function satisfiesScopes(granted: readonly string[], requirement: ScopeRequirement): boolean {
  const all = requirement.mode === 'all';
  for (const scope of requirement.scopes) {
    if (grantsScope(granted, scope) !== all) return !all;
  }
  return all;
}
