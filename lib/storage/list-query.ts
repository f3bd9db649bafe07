import type { ApiKeyListQuery } from './api-key.store.js';

/** Most keys one `list` call returns, and its default page size. */
const MAX_LIST_LIMIT = 1000;

/** The page size of a list query: its limit, capped at {@link MAX_LIST_LIMIT}. */
export function listLimit(query: ApiKeyListQuery): number {
  const limit = query.limit ?? MAX_LIST_LIMIT;
  return Number.isSafeInteger(limit) && limit > 0 ? Math.min(limit, MAX_LIST_LIMIT) : MAX_LIST_LIMIT;
}

/**
 * The order of key ids in a list: byte-wise in UTF-8, as the SQL stores sort them (PostgreSQL's
 * `COLLATE "C"`, SQLite's `BINARY`). JavaScript's `<` compares UTF-16 units, which puts `😀`
 * before `！`.
 */
export function compareIds(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

/**
 * A UTF-16 unit's rank in UTF-8 byte order: surrogates (U+D800–DFFF, which encode code points
 * above U+FFFF) sort after U+E000–FFFF, without allocating the bytes.
 */
function utf8Rank(unit: number): number {
  return unit < 0xd800 ? unit : unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}
