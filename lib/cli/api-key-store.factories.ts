import type { ApiKeyStore } from '../api-key.store.js';
import { InMemoryApiKeyRepository } from '../in-memory-api-key.repository.js';

/** A store opened by the CLI, with what it takes to release it (close a connection pool). */
export interface OpenedApiKeyStore {
  readonly store: ApiKeyStore;
  close(): Promise<void>;
}

/** Opens the store a database URL points to (`sqlite:./keys.db`, `postgres://...`). */
export type ApiKeyStoreFactory = (url: string) => Promise<OpenedApiKeyStore>;

/**
 * The stores the CLI can open, by URL scheme (the part before the first `:`, lower-cased).
 * Store integrations add themselves with {@link registerApiKeyStoreFactory}.
 *
 * Built in: `memory:`, a new in-memory store that lives as long as the command (for trying the
 * CLI out, and for tests; keys created there vanish when the command exits).
 */
const factories = new Map<string, ApiKeyStoreFactory>([
  ['memory', () => Promise.resolve({ store: new InMemoryApiKeyRepository(), close: () => Promise.resolve() })],
]);

/** Makes the CLI open URLs of `scheme` (without the colon, e.g. `'sqlite'`) with `factory`. */
export function registerApiKeyStoreFactory(scheme: string, factory: ApiKeyStoreFactory): void {
  factories.set(scheme.toLowerCase(), factory);
}

/** The URL schemes the CLI can open. */
export function apiKeyStoreSchemes(): string[] {
  return [...factories.keys()].sort();
}

/** Opens the store behind `url`; rejects naming the known schemes when none matches. */
export function openApiKeyStore(url: string): Promise<OpenedApiKeyStore> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  const factory = scheme === undefined ? undefined : factories.get(scheme);
  if (!factory) {
    return Promise.reject(new Error(`no store for database URL scheme "${scheme ?? ''}"; known schemes: ${apiKeyStoreSchemes().map((s) => `${s}:`).join(', ')}`));
  }
  return factory(url);
}
