import { access } from 'node:fs/promises';
import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import type { ApiKeyStore } from '../storage/api-key.store.js';
import {
  API_KEY_STORE_SCHEMES,
  apiKeyStoreUrlScheme,
  loadApiKeyStore,
  parseApiKeyStoreUrl,
} from '../storage/api-key-store.url.js';
import { SqlApiKeyStore } from '../storage/sql-api-key.store.js';
import { CliUsageError } from './api-key-cli-usage.error.js';

/** A store opened by the CLI, with what it takes to check, migrate and release it. */
export interface OpenedApiKeyStore {
  readonly store: ApiKeyStore;
  /** Checks that the store can serve commands (its schema is current); throws a clear error if not. */
  ready(): Promise<void>;
  /** Applies pending schema migrations and resolves to the versions applied; absent for stores without a schema. */
  migrate?(): Promise<number[]>;
  /** Releases what the CLI opened (a file, a connection pool). */
  close(): Promise<void>;
}

/** How the CLI means to use the store it opens. */
export interface OpenApiKeyStoreOptions {
  /**
   * Whether a database that does not exist yet may be created (a SQLite file). Only `migrate`
   * asks for it: any other command on a mistyped path fails instead of leaving an empty
   * database behind. Default `false`.
   */
  readonly create?: boolean;
}

/**
 * Opens the store a database URL points to (`sqlite:./keys.db`, `postgres://...`). Throws
 * {@link CliUsageError} for a URL it cannot parse (exit code 2); any other failure is a store
 * error (exit code 1).
 */
export type ApiKeyStoreFactory = (url: string, options: OpenApiKeyStoreOptions) => Promise<OpenedApiKeyStore>;

/**
 * The built-in schemes ({@link API_KEY_STORE_SCHEMES}), parsed and loaded as `createApiKeyStore`
 * does, without opening the store: `migrate` may have to run first. A SQLite file is created only
 * when `create` is set.
 */
const openBuiltIn: ApiKeyStoreFactory = async (url, { create }) => {
  let location;
  try {
    location = parseApiKeyStoreUrl(url);
  } catch (error) {
    if (error instanceof ApiKeyConfigurationError)
      throw new CliUsageError(error.message.replace(/^nestjs-api-key: /, ''));
    throw error;
  }
  // Opening a path creates the file: only migrate may, so check first.
  if (location.scheme === 'sqlite' && !create && !(await exists(location.path))) {
    const hint = 'check the path, or create it with `npx nestjs-api-key migrate`';
    throw new Error(`no SQLite database at ${location.path}: ${hint}`);
  }
  const store = await loadApiKeyStore(location);
  if (store instanceof SqlApiKeyStore)
    return { store, ready: () => store.init(), migrate: () => store.migrate(), close: () => store.close() };
  return { store, ready: () => Promise.resolve(), close: () => store.close() };
};

/**
 * The stores the CLI can open, by URL scheme (the part before the first `:`, lower-cased):
 * those of `createApiKeyStore` (`sqlite:<file>`, `postgres://…`/`postgresql://…`, and `memory:`,
 * a store that lives as long as the command), and those added with
 * {@link registerApiKeyStoreFactory}.
 */
const factories = new Map<string, ApiKeyStoreFactory>(API_KEY_STORE_SCHEMES.map((scheme) => [scheme, openBuiltIn]));

/** Makes the CLI open URLs of `scheme` (without the colon, e.g. `'mysql'`) with `factory`. */
export function registerApiKeyStoreFactory(scheme: string, factory: ApiKeyStoreFactory): void {
  factories.set(scheme.toLowerCase(), factory);
}

/** The URL schemes the CLI can open. */
export function apiKeyStoreSchemes(): string[] {
  return [...factories.keys()].sort();
}

/**
 * Opens the store behind `url`; rejects with {@link CliUsageError} naming the known schemes
 * when none matches.
 */
export function openApiKeyStore(url: string, options: OpenApiKeyStoreOptions = {}): Promise<OpenedApiKeyStore> {
  const scheme = apiKeyStoreUrlScheme(url);
  const factory = scheme === undefined ? undefined : factories.get(scheme);
  if (!factory) {
    const known = apiKeyStoreSchemes()
      .map((s) => `${s}:`)
      .join(', ');
    const message = `no store for database URL scheme "${scheme ?? ''}"; known schemes: ${known}`;
    return Promise.reject(new CliUsageError(message));
  }
  return factory(url, { create: options.create === true });
}

/** Whether `path` exists; failures other than a missing file or directory (permissions) are thrown. */
async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw error;
  }
}
