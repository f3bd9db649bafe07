/**
 * A copy of `value` with every plain object and array in it copied and frozen, so nothing that
 * holds the copy can change what another holder reads; other values (dates, class instances) as
 * they are. For metadata and scopes that principals and stored keys share between requests.
 */
export function frozenCopy<T>(value: T, within: Set<object> = new Set()): T {
  if (typeof value !== 'object' || value === null) return value;
  const array = Array.isArray(value);
  const prototype: unknown = Object.getPrototypeOf(value);
  if (!array && prototype !== Object.prototype && prototype !== null) return value;
  if (within.has(value))
    throw new TypeError('nestjs-api-key: metadata must not contain itself (a cycle cannot be stored)');
  within.add(value); // the objects on the path from the root to this one
  try {
    if (array) return Object.freeze(value.map((item) => frozenCopy(item, within))) as T;
    return Object.freeze(
      Object.fromEntries(Object.entries(value).map(([key, item]) => [key, frozenCopy(item, within)])),
    ) as T;
  } finally {
    within.delete(value);
  }
}
