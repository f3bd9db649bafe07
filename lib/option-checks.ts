import { ApiKeyConfigurationError } from './api-key-configuration.error.js';

/** The longest delay Node's timers wait (2^31 − 1 ms, about 24.8 days); Node fires a longer one after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `value` when it is a positive safe integer, `fallback` when it is undefined and a fallback is
 * given; throws {@link ApiKeyConfigurationError} naming `field` otherwise.
 */
export function positiveInteger(value: unknown, field: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (!Number.isSafeInteger(value) || (value as number) <= 0) {
    throw new ApiKeyConfigurationError(`${field} must be a positive integer, got ${kindOf(value)}`);
  }
  return value as number;
}

/** A timer's delay in ms: {@link positiveInteger}, and at most 2^31 − 1 (Node fires a longer timer at once). */
export function timerDelay(value: unknown, field: string, fallback: number): number {
  const ms = positiveInteger(value, field, fallback);
  if (ms > MAX_TIMER_MS)
    throw new ApiKeyConfigurationError(
      `${field} must be at most ${MAX_TIMER_MS} ms (about 24.8 days, the longest a timer waits)`,
    );
  return ms;
}

/** What an invalid option value is, for an error message (never the value itself: it may be a secret). */
export function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/**
 * Throws {@link ApiKeyConfigurationError} when `value` (an options object) holds a property whose
 * name is not in `known`, naming it by `path` and suggesting the closest known name, so a typo
 * (`peper`, `cache: { ttl }`) stops the application instead of being ignored. `undefined` and
 * non-objects pass: their own checks report them.
 */
export function rejectUnknownOptions(value: unknown, known: readonly string[], path: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
  for (const name of Object.keys(value)) {
    if (known.includes(name)) continue;
    const where = path === '' ? name : `${path}.${name}`;
    const nearest = closestName(name, known);
    const hint = nearest === undefined ? `known options: ${known.join(', ')}` : `did you mean "${nearest}"?`;
    throw new ApiKeyConfigurationError(`unknown option "${where}": ${hint}`);
  }
}

/**
 * The option names of `T`, for {@link rejectUnknownOptions}, from a `{ name: true, ... }` literal
 * that the compiler holds to `T`: a name missing from it or not in `T` is a type error, so the
 * list cannot drift from the interface.
 */
export function optionNames<T extends object>(names: { readonly [K in keyof T]-?: true }): readonly string[] {
  return Object.freeze(Object.keys(names));
}

/** The name in `known` nearest to `name` (case-insensitive edit distance at most a third of its length), if any. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.ceil(name.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    const prefixMatch = candidate.toLowerCase().startsWith(name.toLowerCase()) && name.length >= 3;
    const score = prefixMatch ? Math.min(distance, 1) : distance;
    if (score < bestDistance) [best, bestDistance] = [candidate, score];
  }
  return best;
}

/** Levenshtein distance between `a` and `b`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length];
}
