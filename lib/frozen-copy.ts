/**
 * A copy of `value` with every plain object and array in it copied and frozen, so nothing that
 * holds the copy can change what another holder reads; other values (dates, class instances) as
 * they are. For metadata and scopes that principals and stored keys share between requests.
 */
export function frozenCopy<T>(value: T): T {
  if (Array.isArray(value)) return Object.freeze(value.map(frozenCopy)) as T;
  if (typeof value !== 'object' || value === null) return value;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  return Object.freeze(Object.fromEntries(Object.entries(value).map(([key, item]) => [key, frozenCopy(item)]))) as T;
}
