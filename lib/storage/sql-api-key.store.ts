import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import type { ApiKeyRecord } from './api-key-record.interface.js';
import { ApiKeyStore, toApiKeyRecord, type ApiKeyPatch, type StoredApiKey } from './api-key.store.js';
import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { optionNames, rejectUnknownOptions } from '../option-checks.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Names of the tables a SQL store uses. Each must be a plain identifier (letters, digits, `_`). */
export interface ApiKeyTableNames {
  /** One row per key (identity, scopes, state, version). Default `'api_keys'`. */
  keys?: string;
  /** One row per secret, looked up by its unique hash. Default `'api_key_secrets'`. */
  secrets?: string;
  /** Applied schema versions. Default `'api_key_migrations'`. */
  migrations?: string;
}

const TABLE_OPTIONS = optionNames<ApiKeyTableNames>({ keys: true, secrets: true, migrations: true });

/** Validated table names, each already quoted for SQL (`"schema"."table"`). */
export interface QuotedTables {
  readonly keys: string;
  readonly secrets: string;
  readonly migrations: string;
  /** Unquoted `schema.keys` (or `keys`): names the store in errors, locks and channels. */
  readonly label: string;
  /** Quoted name for an index on one of the tables (`"<table>_<suffix>"`, without schema). */
  index(table: 'keys' | 'secrets', suffix: string): string;
}

/** One versioned schema change; `up` returns its statements for the given tables. */
export interface SqlMigration {
  readonly version: number;
  readonly name: string;
  up(tables: QuotedTables): readonly string[];
}

/** Validates an identifier (table, schema, channel) and returns it. */
function identifier(value: unknown, field: string): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new ApiKeyConfigurationError(
      `${field} must be an identifier of 1 to 63 letters, digits or underscores, not starting with a digit`,
    );
  }
  return value;
}

/** Validates and quotes the table names, optionally inside a schema. */
export function quoteTables(names: ApiKeyTableNames = {}, schema?: string): QuotedTables {
  rejectUnknownOptions(names, TABLE_OPTIONS, 'tables');
  const prefix = schema === undefined ? '' : `"${identifier(schema, 'schema')}".`;
  const keys = identifier(names.keys ?? 'api_keys', 'tables.keys');
  const secrets = identifier(names.secrets ?? 'api_key_secrets', 'tables.secrets');
  const migrations = identifier(names.migrations ?? 'api_key_migrations', 'tables.migrations');
  if (new Set([keys, secrets, migrations]).size !== 3)
    throw new ApiKeyConfigurationError('tables.keys, tables.secrets and tables.migrations must differ');
  return {
    keys: `${prefix}"${keys}"`,
    secrets: `${prefix}"${secrets}"`,
    migrations: `${prefix}"${migrations}"`,
    label: schema === undefined ? keys : `${schema}.${keys}`,
    index: (table, suffix) => `"${table === 'keys' ? keys : secrets}_${suffix}"`,
  };
}

/**
 * Checks the applied schema version against the latest migration: throws a clear error when the
 * database is behind (migrations not run) or ahead (written by a newer version of this package).
 */
export function assertSchemaCurrent(applied: number, migrations: readonly SqlMigration[], label: string): void {
  const latest = migrations[migrations.length - 1]!.version;
  if (applied > latest) {
    throw new ApiKeyConfigurationError(
      `the ${label} tables are at schema version ${applied}, ` +
        `newer than this package supports (${latest}): upgrade nestjs-api-key`,
    );
  }
  if (applied < latest) {
    throw new ApiKeyConfigurationError(
      `the ${label} tables are at schema version ${applied}, this package needs ${latest}: ` +
        "run `npx nestjs-api-key migrate`, call the store's migrate(), or pass `migrate: true`",
    );
  }
}

/**
 * What the SQL stores share: a schema check (or migration, when opted in) once at startup, and
 * closing what the store opened at shutdown.
 */
export abstract class SqlApiKeyStore extends ApiKeyStore implements OnModuleInit, OnApplicationShutdown {
  private ready?: Promise<void>;

  /**
   * @param migrations the dialect's schema versions
   * @param tables the validated table names
   * @param autoMigrate apply pending migrations at startup instead of refusing to start
   */
  protected constructor(
    private readonly migrations: readonly SqlMigration[],
    protected readonly t: QuotedTables,
    private readonly autoMigrate: boolean | undefined,
  ) {
    super();
  }

  /**
   * Migrates (when `migrate: true`) or checks the schema, once. Nest calls it at startup. When it
   * fails the store closes (its connections would otherwise keep the process alive: Nest runs no
   * shutdown hook after a failed bootstrap) and stays unusable.
   */
  init(): Promise<void> {
    this.ready ??= (async () => {
      try {
        if (this.autoMigrate) await this.migrate();
        else assertSchemaCurrent(await this.schemaVersion(), this.migrations, this.t.label);
      } catch (error) {
        await this.close();
        throw error;
      }
    })();
    return this.ready;
  }

  /** @internal Nest lifecycle hook. */
  onModuleInit(): Promise<void> {
    return this.init();
  }

  /** @internal Nest lifecycle hook. */
  onApplicationShutdown(): Promise<void> {
    return this.close();
  }

  /** Applies the pending migrations in one transaction; resolves to the versions applied. */
  abstract migrate(): Promise<number[]>;

  /** Releases what the store opened (never what it was given); idempotent. */
  abstract close(): Promise<void>;

  /** The highest applied schema version, 0 before the first migration. */
  protected abstract schemaVersion(): Promise<number>;
}

/** Initialises a new store (for use outside Nest: CLI, scripts), closing it if that fails. */
export async function initialised<S extends SqlApiKeyStore>(store: S): Promise<S> {
  await store.init();
  return store;
}

const KEY_COLUMN_NAMES = [
  'id',
  'name',
  'scopes',
  'owner_id',
  'metadata',
  'created_at',
  'updated_at',
  'expires_at',
  'revoked_at',
  'disabled',
  'last_used_at',
  'version',
  'allowed_networks',
  'allowed_origins',
];

/** The key columns every select returns, for {@link rowToKey}, optionally qualified (`k.`). */
export function keyColumns(qualifier = ''): string {
  return KEY_COLUMN_NAMES.map((column) => qualifier + column).join(', ');
}

/**
 * A row of the keys table as either driver returns it (SQLite: numbers and JSON text; PostgreSQL: Dates, booleans and
 * parsed JSON).
 */
export type KeyRow = Record<string, unknown>;

/** Maps a keys row (as selected with {@link keyColumns}) to a {@link StoredApiKey}. */
export function rowToKey(row: KeyRow): StoredApiKey {
  return {
    id: row.id as string,
    name: row.name as string,
    scopes: parseJson<string[]>(row.scopes),
    ownerId: (row.owner_id as string | null) ?? null,
    metadata: parseJson<Record<string, unknown>>(row.metadata),
    createdAt: toDate(row.created_at)!,
    updatedAt: toDate(row.updated_at)!,
    expiresAt: toDate(row.expires_at),
    revokedAt: toDate(row.revoked_at),
    disabled: Boolean(row.disabled),
    lastUsedAt: toDate(row.last_used_at),
    version: Number(row.version),
    allowedNetworks: parseJson<string[] | null>(row.allowed_networks ?? null),
    allowedOrigins: parseJson<string[] | null>(row.allowed_origins ?? null),
  };
}

/**
 * Maps a keys row joined with its secret (`secret_hash`, `secret_created_at`, `secret_expires_at`) to the lookup
 * record.
 */
export function rowToRecord(row: KeyRow): ApiKeyRecord {
  const key = rowToKey(row);
  return toApiKeyRecord(key, {
    hash: row.secret_hash as string,
    keyId: key.id,
    createdAt: toDate(row.secret_created_at)!,
    expiresAt: toDate(row.secret_expires_at),
  });
}

/**
 * The `SET` assignments of a patch, as `column = <placeholder>` pairs and their values, from a
 * fixed list of columns (never from caller text). `encode` converts a value for the driver.
 */
export function patchAssignments(
  patch: ApiKeyPatch,
  placeholder: (index: number) => string,
  encode: (column: string, value: unknown) => unknown,
): { set: string; values: unknown[] } {
  const columns: Array<[string, unknown]> = [['updated_at', patch.updatedAt]];
  if (patch.name !== undefined) columns.push(['name', patch.name]);
  if (patch.scopes !== undefined) columns.push(['scopes', patch.scopes]);
  if (patch.metadata !== undefined) columns.push(['metadata', patch.metadata]);
  if (patch.expiresAt !== undefined) columns.push(['expires_at', patch.expiresAt]);
  if (patch.revokedAt !== undefined) columns.push(['revoked_at', patch.revokedAt]);
  if (patch.disabled !== undefined) columns.push(['disabled', patch.disabled]);
  if (patch.allowedNetworks !== undefined) columns.push(['allowed_networks', patch.allowedNetworks]);
  if (patch.allowedOrigins !== undefined) columns.push(['allowed_origins', patch.allowedOrigins]);
  return {
    set: columns.map(([column], index) => `${column} = ${placeholder(index)}`).join(', '),
    values: columns.map(([column, value]) => encode(column, value)),
  };
}

/** A list column's value: its JSON text, or `null` for none (absent or `null`). */
export function jsonOrNull(list: readonly string[] | null | undefined): string | null {
  return list === undefined || list === null ? null : JSON.stringify(list);
}

function parseJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/**
 * A time column as a `Date`: pg's own `Date`, SQLite's ms number, or the text of a timestamp
 * (`2026-12-01 23:34:53.123+00`) from a pool whose type parsers hand timestamps back as text.
 */
function toDate(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value;
  return typeof value === 'string' && !/^-?\d+$/.test(value) ? new Date(value) : new Date(Number(value));
}
