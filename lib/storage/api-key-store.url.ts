import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import { escapeForLog } from '../log-escape.js';
import { kindOf, rejectUnknownOptions } from '../option-checks.js';
import type { ApiKeyStore } from './api-key.store.js';
import { InMemoryApiKeyStore } from './in-memory-api-key.store.js';
import { SqlApiKeyStore, type ApiKeyTableNames } from './sql-api-key.store.js';

/** Options of {@link createApiKeyStore}, passed to the store the URL names. */
export interface CreateApiKeyStoreOptions {
  /**
   * SQL stores: apply pending migrations when the store opens. Default `false`: the store checks
   * the schema and refuses to start if it is behind (run `npx nestjs-api-key migrate`).
   */
  migrate?: boolean;
  /** SQL stores: table names. Default `api_keys`, `api_key_secrets`, `api_key_migrations`. */
  tables?: ApiKeyTableNames;
}

/** A store {@link createApiKeyStore} returns: the {@link ApiKeyStore} contract, and `close()` for use outside Nest. */
export type ClosableApiKeyStore = ApiKeyStore & {
  /** Releases what the store opened (a file, a connection pool); idempotent. Nest calls it on shutdown. */
  close(): Promise<void>;
};

/** Where a store URL points, once parsed. */
export type ApiKeyStoreLocation =
  | { readonly scheme: 'memory' }
  | { readonly scheme: 'sqlite'; readonly path: string }
  | { readonly scheme: 'postgres'; readonly url: string };

/** The URL schemes {@link createApiKeyStore} knows, without the colon. */
export const API_KEY_STORE_SCHEMES: readonly string[] = ['memory', 'postgres', 'postgresql', 'sqlite'];

const EXAMPLES = 'sqlite:./data/api-keys.db, postgres://user:password@host:5432/database or memory:';

/** The scheme of `url` (the part before the first `:`, lower-cased), if it has one. */
export function apiKeyStoreUrlScheme(url: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
}

/**
 * Parses a store URL. Messages name the scheme at most, never the rest of the URL: it may hold a
 * password.
 * @throws ApiKeyConfigurationError for a value that is not a string, an unknown scheme, a
 * `sqlite:` URL without a path, a `postgres:` URL without `//` or one that cannot be parsed
 */
export function parseApiKeyStoreUrl(url: unknown): ApiKeyStoreLocation {
  if (typeof url !== 'string' || url.trim() === '')
    throw new ApiKeyConfigurationError(
      `a store URL is needed (${EXAMPLES}), got ${typeof url === 'string' ? 'an empty string' : kindOf(url)}`,
    );
  const scheme = apiKeyStoreUrlScheme(url);
  const rest = scheme === undefined ? '' : url.slice(scheme.length + 1);
  switch (scheme) {
    case 'memory':
      if (rest !== '' && rest !== '//')
        throw new ApiKeyConfigurationError('a memory: URL takes nothing after "memory:"');
      return { scheme: 'memory' };
    case 'sqlite': {
      const path = rest.replace(/^\/\//, '');
      if (path.trim() === '')
        throw new ApiKeyConfigurationError('a sqlite: URL needs a file path, like sqlite:./data/api-keys.db');
      return { scheme: 'sqlite', path };
    }
    case 'postgres':
    case 'postgresql':
      if (!rest.startsWith('//') || rest === '//' || !URL.canParse(url))
        throw new ApiKeyConfigurationError(
          `a ${scheme}: URL looks like ${scheme}://user:password@host:5432/database ` +
            '(percent-encode reserved characters in the user and password)',
        );
      return { scheme: 'postgres', url };
    default: {
      const got = scheme === undefined ? 'a value without a scheme' : `"${escapeForLog(scheme, 40)}:"`;
      throw new ApiKeyConfigurationError(`unknown store URL scheme: ${got}; use ${EXAMPLES}`);
    }
  }
}

/**
 * A new store at `location`, not yet opened: it opens on `init()` (Nest calls it at startup).
 * Loads the SQLite or PostgreSQL entry point only for its scheme, so each needs its driver only
 * when used.
 * @throws ApiKeyConfigurationError on invalid options or when the driver is not installed
 */
export async function loadApiKeyStore(
  location: ApiKeyStoreLocation,
  options: CreateApiKeyStoreOptions = {},
): Promise<ClosableApiKeyStore> {
  const { migrate, tables } = options;
  switch (location.scheme) {
    case 'memory':
      return new InMemoryApiKeyStore();
    case 'sqlite': {
      const { SqliteApiKeyStore } = await import('../sqlite/index.js');
      return new SqliteApiKeyStore({ database: location.path, migrate, tables });
    }
    case 'postgres': {
      const { PostgresApiKeyStore } = await import('../postgres/index.js');
      return new PostgresApiKeyStore({ connection: location.url, migrate, tables });
    }
  }
}

/**
 * Opens the key store a URL names, loading only the driver it needs:
 * - `sqlite:<file>` (also `sqlite://<file>`; `sqlite:///abs/path.db` is absolute): a
 *   `SqliteApiKeyStore` (needs `better-sqlite3`). The file and its directory are created
 *   if missing;
 * - `postgres://…` or `postgresql://…`: a `PostgresApiKeyStore` on that connection URL
 *   (needs `pg`; `?options=-c%20search_path%3Dmyschema` picks a schema);
 * - `memory:`: a new {@link InMemoryApiKeyStore} (its keys vanish when the process exits).
 *
 * The CLI reads the same URLs from `--database` or `DATABASE_URL`. The store is opened and its
 * schema checked (or migrated, with `migrate: true`) before the promise resolves. In a module:
 * `ApiKeyModule.forRootAsync({ inject: [ConfigService], useFactory: async (config: ConfigService) =>
 * ({ repository: await createApiKeyStore(config.get('DATABASE_URL')) }) })`: Nest closes the
 * store on application shutdown. Outside Nest, call `close()`.
 *
 * @param url the store URL, e.g. `process.env.DATABASE_URL`; `undefined` (a variable not set) is
 * refused like any invalid URL
 * @param options passed to the store: `migrate`, `tables` (ignored by `memory:`)
 * @throws ApiKeyConfigurationError for a missing or malformed URL, an unknown scheme or option
 * (the message never repeats the URL, which may hold a password), or a driver not installed; the
 * store's own error when it cannot be opened or its schema is behind
 */
export async function createApiKeyStore(
  url: string | undefined,
  options: CreateApiKeyStoreOptions = {},
): Promise<ClosableApiKeyStore> {
  rejectUnknownOptions(options, ['migrate', 'tables'], 'createApiKeyStore');
  const store = await loadApiKeyStore(parseApiKeyStoreUrl(url), options);
  if (store instanceof SqlApiKeyStore) await store.init();
  return store;
}
