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
