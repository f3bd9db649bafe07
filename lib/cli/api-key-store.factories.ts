import { access } from 'node:fs/promises';
import type { ApiKeyStore } from '../storage/api-key.store.js';
import { InMemoryApiKeyStore } from '../storage/in-memory-api-key.store.js';
import type { SqlApiKeyStore } from '../storage/sql-api-key.store.js';
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

const sqlStore = (store: SqlApiKeyStore): OpenedApiKeyStore => ({
  store,
  ready: () => store.init(),
  migrate: () => store.migrate(),
  close: () => store.close(),
});

const openPostgres: ApiKeyStoreFactory = async (url) => {
  // Loaded only for this scheme, so the CLI needs `pg` only when it talks to PostgreSQL.
  const { PostgresApiKeyStore } = await import('../postgres/index.js');
  return sqlStore(new PostgresApiKeyStore({ connection: url }));
};

/**
 * The stores the CLI can open, by URL scheme (the part before the first `:`, lower-cased).
 * Store integrations add themselves with {@link registerApiKeyStoreFactory}. Built in:
 * - `sqlite:<file path>` (also `sqlite://<path>`): a SQLite file (needs `better-sqlite3`);
 * - `postgres://…` or `postgresql://…`: a PostgreSQL database (needs `pg`);
 * - `memory:`: a new in-memory store that lives as long as the command (for trying the CLI
 *   out, and for tests; keys created there vanish when the command exits).
 */
const factories = new Map<string, ApiKeyStoreFactory>([
  [
    'memory',
    () =>
      Promise.resolve({
        store: new InMemoryApiKeyStore(),
        ready: () => Promise.resolve(),
        close: () => Promise.resolve(),
      }),
  ],
  [
    'sqlite',
    async (url, { create }) => {
      const path = url.slice('sqlite:'.length).replace(/^\/\//, '');
      if (path === '') throw new CliUsageError('a sqlite: URL needs a file path, like sqlite:./data/api-keys.db');
      // Opening a path creates the file: only migrate may, so check first.
      if (!create && !(await exists(path))) {
        const hint = 'check the path, or create it with `npx nestjs-api-key migrate`';
        throw new Error(`no SQLite database at ${path}: ${hint}`);
      }
      const { SqliteApiKeyStore } = await import('../sqlite/index.js');
      return sqlStore(new SqliteApiKeyStore({ database: path }));
    },
  ],
  ['postgres', openPostgres],
  ['postgresql', openPostgres],
]);

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
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
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
