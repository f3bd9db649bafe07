import { ApiKeyConfigurationError } from './api-key-configuration.error.js';

/** `value` when it is a positive safe integer, `fallback` when it is undefined; throws {@link ApiKeyConfigurationError} naming `field` otherwise. */
export function positiveInteger(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || (value as number) <= 0) {
    throw new ApiKeyConfigurationError(`${field} must be a positive integer, got ${kindOf(value)}`);
  }
  return value as number;
}

/** What an invalid option value is, for an error message (never the value itself: it may be a secret). */
export function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
