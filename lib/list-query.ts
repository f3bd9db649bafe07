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
  return a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b));
}
