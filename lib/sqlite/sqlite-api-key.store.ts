import Database from 'better-sqlite3';
import type { ApiKeyRecord } from '../api-key-record.interface.js';
import { type ApiKeyListQuery, type ApiKeyPatch, type StoredApiKey, type StoredApiKeySecret } from '../api-key.store.js';
import {
  assertSchemaCurrent,
  initialised,
  keyColumns,
  patchAssignments,
  quoteTables,
  rowToKey,
  rowToRecord,
  SqlApiKeyStore,
  type ApiKeyTableNames,
  type KeyRow,
} from '../sql-store.shared.js';
import { SQLITE_MIGRATIONS } from './sqlite.migrations.js';
import { listLimit } from '../list-query.js';

/** The part of a better-sqlite3 `Database` the store uses (so its types need no `@types/better-sqlite3`). */
export interface SqliteDatabase {
  prepare(sql: string): { get(...params: unknown[]): unknown; all(...params: unknown[]): unknown[]; run(...params: unknown[]): { changes: number } };
  exec(sql: string): unknown;
  close(): unknown;
  readonly open: boolean;
  readonly inTransaction: boolean;
}

/** Options of {@link SqliteApiKeyStore}. */
export interface SqliteApiKeyStoreOptions {
  /**
   * A database file path (created if missing), or an open better-sqlite3 `Database` the
   * application owns: the store then never closes it.
   */
  database: string | SqliteDatabase;
  /** Table names. Default `api_keys`, `api_key_secrets`, `api_key_migrations`. */
  tables?: ApiKeyTableNames;
  /** Apply pending migrations when the store starts. Default `false`: the store checks the schema and refuses to start if it is behind. */
  migrate?: boolean;
}

/**
 * An {@link ApiKeyStore} in a SQLite file (better-sqlite3): the embedded default, no server.
 * Each method is one transaction (`BEGIN IMMEDIATE`, so several processes on one file are
 * serialised); rotations check the key's version inside it, so of two concurrent rotations one
 * wins. A path it opens it closes on shutdown; a `Database` it was given it never closes.
 */
export class SqliteApiKeyStore extends SqlApiKeyStore {
  private readonly db: SqliteDatabase;
  private readonly owned: boolean;
  private readonly statements = new Map<string, ReturnType<SqliteDatabase['prepare']>>();

  /** Opens (or adopts) the database; validates table names. Call {@link init} (or let Nest do it) before use. */
  constructor(options: SqliteApiKeyStoreOptions) {
    super(SQLITE_MIGRATIONS, quoteTables(options.tables), options.migrate);
    this.owned = typeof options.database === 'string';
    if (typeof options.database === 'string') {
      const db = new Database(options.database);
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      this.db = db;
    } else {
      this.db = options.database;
    }
  }

  /** Closes the database if the store opened it; idempotent. */
  async close(): Promise<void> {
    if (this.owned && this.db.open) this.db.close();
  }

  /** Applies the pending migrations in one transaction; resolves to the versions applied. */
  async migrate(): Promise<number[]> {
    return this.transaction(() => {
      this.db.exec(`CREATE TABLE IF NOT EXISTS ${this.t.migrations} (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
      const current = this.currentVersion();
      const pending = SQLITE_MIGRATIONS.filter((migration) => migration.version > current);
      for (const migration of pending) {
        for (const statement of migration.up(this.t)) this.db.exec(statement);
        this.db.prepare(`INSERT INTO ${this.t.migrations} (version, name, applied_at) VALUES (?, ?, ?)`).run(migration.version, migration.name, Date.now());
      }
      assertSchemaCurrent(this.currentVersion(), SQLITE_MIGRATIONS, this.t.label);
      return pending.map((migration) => migration.version);
    });
  }

  /** @inheritdoc */
  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    const row = this.statement(
      `SELECT ${keyColumns('k.')}, s.hash AS secret_hash, s.created_at AS secret_created_at, s.expires_at AS secret_expires_at
       FROM ${this.t.secrets} s JOIN ${this.t.keys} k ON k.id = s.key_id WHERE s.hash = ?`,
    ).get(hash) as KeyRow | undefined;
    return row ? rowToRecord(row) : null;
  }

  /** @inheritdoc */
  async insert(key: StoredApiKey, secret: StoredApiKeySecret): Promise<void> {
    this.transaction(() => {
      this.statement(
        `INSERT INTO ${this.t.keys} (id, name, scopes, owner_id, metadata, created_at, updated_at, expires_at, revoked_at, disabled, last_used_at, version)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        key.id, key.name, JSON.stringify(key.scopes), key.ownerId, JSON.stringify(key.metadata), ms(key.createdAt), ms(key.updatedAt),
        ms(key.expiresAt), ms(key.revokedAt), key.disabled ? 1 : 0, ms(key.lastUsedAt), key.version,
      );
      this.insertSecret(secret);
    });
  }

  /** @inheritdoc */
  async findById(id: string): Promise<StoredApiKey | null> {
    const row = this.statement(`SELECT ${keyColumns('k.')} FROM ${this.t.keys} k WHERE k.id = ?`).get(id) as KeyRow | undefined;
    return row ? rowToKey(row) : null;
  }

  /** @inheritdoc */
  async list(query: ApiKeyListQuery = {}): Promise<StoredApiKey[]> {
    const rows = this.statement(
      `SELECT ${keyColumns('k.')} FROM ${this.t.keys} k WHERE (@owner IS NULL OR k.owner_id = @owner) AND (@after IS NULL OR k.id > @after) ORDER BY k.id LIMIT @limit`,
    ).all({ owner: query.ownerId ?? null, after: query.after ?? null, limit: listLimit(query) }) as KeyRow[];
    // Array.from, not rows.map: the driver's array may come from another realm (Jest's VM contexts).
    return Array.from(rows, rowToKey);
  }

  /** @inheritdoc */
  async update(id: string, expectedVersion: number, patch: ApiKeyPatch): Promise<StoredApiKey | null> {
    const { set, values } = patchAssignments(patch, () => '?', encode);
    const row = this
      .statement(`UPDATE ${this.t.keys} SET ${set}, version = version + 1 WHERE id = ? AND version = ? RETURNING ${keyColumns()}`)
      .get(...values, id, expectedVersion) as KeyRow | undefined;
    return row ? rowToKey(row) : null;
  }

  /** @inheritdoc */
  async rotate(id: string, expectedVersion: number, secret: StoredApiKeySecret, previousSecretsExpireAt: Date): Promise<StoredApiKey | null> {
    return this.transaction(() => {
      const row = this.statement(
        `UPDATE ${this.t.keys} SET version = version + 1, updated_at = ? WHERE id = ? AND version = ? RETURNING ${keyColumns()}`,
      ).get(ms(secret.createdAt), id, expectedVersion) as KeyRow | undefined;
      if (!row) return null;
      const cutoff = ms(previousSecretsExpireAt);
      this.statement(`UPDATE ${this.t.secrets} SET expires_at = ? WHERE key_id = ? AND (expires_at IS NULL OR expires_at > ?)`).run(cutoff, id, cutoff);
      this.insertSecret(secret);
      return rowToKey(row);
    });
  }

  /** @inheritdoc */
  async touch(lastUsed: ReadonlyMap<string, Date>): Promise<void> {
    if (lastUsed.size === 0) return;
    const touch = this.statement(`UPDATE ${this.t.keys} SET last_used_at = @at WHERE id = @id AND (last_used_at IS NULL OR last_used_at < @at)`);
    this.transaction(() => {
      for (const [id, at] of lastUsed) touch.run({ id, at: ms(at) });
    });
  }

  private insertSecret(secret: StoredApiKeySecret): void {
    this.statement(`INSERT INTO ${this.t.secrets} (hash, key_id, created_at, expires_at) VALUES (?, ?, ?, ?)`).run(
      secret.hash, secret.keyId, ms(secret.createdAt), ms(secret.expiresAt),
    );
  }

  protected async schemaVersion(): Promise<number> {
    return this.currentVersion();
  }

  private currentVersion(): number {
    const exists = this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(this.t.migrations.slice(1, -1));
    if (!exists) return 0;
    return (this.db.prepare(`SELECT coalesce(max(version), 0) AS v FROM ${this.t.migrations}`).get() as { v: number }).v;
  }

  /** Runs `work` in a `BEGIN IMMEDIATE` transaction (the write lock is taken first, so no upgrade deadlock). */
  private transaction<T>(work: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
  }

  private statement(sql: string): ReturnType<SqliteDatabase['prepare']> {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }
}

function ms(date: Date | null): number | null {
  return date === null ? null : date.getTime();
}

function encode(column: string, value: unknown): unknown {
  if (value instanceof Date) return value.getTime();
  if (value === null || typeof value === 'string') return value;
  if (column === 'disabled') return value ? 1 : 0;
  return JSON.stringify(value);
}

/** Creates a SQLite store and initialises it (migrating when `migrate: true`), for use outside Nest (CLI, scripts). Close it with `close()`. */
export async function createSqliteApiKeyStore(options: SqliteApiKeyStoreOptions): Promise<SqliteApiKeyStore> {
  return initialised(new SqliteApiKeyStore(options));
}
