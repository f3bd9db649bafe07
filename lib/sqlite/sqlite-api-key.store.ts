import type { ApiKeyRecord } from '../storage/api-key-record.interface.js';
import type { ApiKeyListQuery, ApiKeyPatch, StoredApiKey, StoredApiKeySecret } from '../storage/api-key.store.js';
import { optionNames, rejectUnknownOptions, timerDelay } from '../option-checks.js';
import {
  assertSchemaCurrent,
  initialised,
  jsonOrNull,
  keyColumns,
  patchAssignments,
  quoteTables,
  rowToKey,
  rowToRecord,
  SqlApiKeyStore,
  type ApiKeyTableNames,
  type KeyRow,
} from '../storage/sql-api-key.store.js';
import { SqliteConnection, type SqliteWriteStep } from './sqlite.connection.js';
import { SQLITE_MIGRATIONS } from './sqlite.migrations.js';
import { compareIds, listLimit } from '../storage/list-query.js';

/** Options of {@link SqliteApiKeyStore}. */
export interface SqliteApiKeyStoreOptions {
  /** The database file (created if missing, with its directory; opened in WAL mode), or `:memory:`. */
  database: string;
  /** Table names. Default `api_keys`, `api_key_secrets`, `api_key_migrations`. */
  tables?: ApiKeyTableNames;
  /**
   * Apply pending migrations when the store starts. Default `false`: the store checks the schema and refuses to start
   * if it is behind.
   */
  migrate?: boolean;
  /**
   * An operation not finished within this many ms rejects (a lookup answers 503, a write fails
   * with `store_failed`): the file locked by another process for longer, or a disk that stopped
   * answering. Default 5000; at most 2^31 − 1.
   */
  timeoutMs?: number;
}

const SQLITE_OPTIONS = optionNames<SqliteApiKeyStoreOptions>({
  database: true,
  tables: true,
  migrate: true,
  timeoutMs: true,
});

/**
 * An {@link ApiKeyStore} in a SQLite file (better-sqlite3): the embedded default, no server.
 *
 * The database is opened and used in a worker thread of its own, so a lock held by another
 * process (the CLI, a second instance) or a disk that stops answering never holds the
 * application's event loop: such an operation rejects after `timeoutMs` while everything else
 * goes on. Each write is one transaction (`BEGIN IMMEDIATE`, so several processes on one file are
 * serialised) that resolves only once its `COMMIT` succeeded; rotations check the key's version
 * inside it, so of two concurrent rotations one wins. If the file is deleted or replaced while
 * the store is open, every operation fails (fail closed) and the store logs why.
 */
export class SqliteApiKeyStore extends SqlApiKeyStore {
  private readonly connection: SqliteConnection;

  /**
   * Validates the options; the database is opened by the first operation ({@link init}, which
   * Nest calls at startup).
   * @throws ApiKeyConfigurationError on invalid options or when `better-sqlite3` is not installed
   */
  constructor(options: SqliteApiKeyStoreOptions) {
    rejectUnknownOptions(options, SQLITE_OPTIONS, '');
    super(SQLITE_MIGRATIONS, quoteTables(options.tables), options.migrate);
    this.connection = new SqliteConnection(options.database, timerDelay(options.timeoutMs, 'timeoutMs', 5000));
  }

  /** Closes the database; operations still waiting reject. Idempotent. */
  close(): Promise<void> {
    return this.connection.close();
  }

  /** Applies the pending migrations in one transaction; resolves to the versions applied. */
  async migrate(): Promise<number[]> {
    // Another process may migrate at the same time: a few tries, each reading the version afresh.
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.schemaVersion();
      const pending = SQLITE_MIGRATIONS.filter((migration) => migration.version > current);
      if (pending.length === 0) return [];
      const steps: SqliteWriteStep[] = [
        {
          sql: `CREATE TABLE IF NOT EXISTS ${this.t.migrations}
            (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
          params: [],
        },
        // Another process may have migrated since the version was read: then start again.
        {
          sql: `SELECT 1 AS unchanged WHERE (SELECT coalesce(max(version), 0) FROM ${this.t.migrations}) = ?`,
          params: [current],
          requireRow: true,
        },
      ];
      for (const migration of pending) {
        for (const statement of migration.up(this.t)) steps.push({ sql: statement, params: [] });
        steps.push({
          sql: `INSERT INTO ${this.t.migrations} (version, name, applied_at) VALUES (?, ?, ?)`,
          params: [migration.version, migration.name, Date.now()],
        });
      }
      if ((await this.connection.write(steps)).applied) {
        assertSchemaCurrent(await this.schemaVersion(), SQLITE_MIGRATIONS, this.t.label);
        return pending.map((migration) => migration.version);
      }
    }
    throw new Error(`the ${this.t.label} schema version changed during each of three migration attempts`);
  }

  /** @inheritdoc */
  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    const [row] = (await this.connection.read(
      `SELECT ${keyColumns('k.')},
       s.hash AS secret_hash, s.created_at AS secret_created_at, s.expires_at AS secret_expires_at
       FROM ${this.t.secrets} s JOIN ${this.t.keys} k ON k.id = s.key_id WHERE s.hash = ?`,
      [hash],
    )) as KeyRow[];
    return row ? rowToRecord(row) : null;
  }

  /** @inheritdoc */
  async insert(key: StoredApiKey, secret: StoredApiKeySecret): Promise<void> {
    await this.connection.write([this.insertKey(key), this.insertSecret(secret)]);
  }

  /**
   * @inheritdoc In one transaction (`BEGIN IMMEDIATE`: one writer at a time, across processes
   * too), which the count rolls back when the owner is at the limit.
   */
  override async insertWithinOwnerLimit(
    key: StoredApiKey,
    secret: StoredApiKeySecret,
    maxActive: number,
    now: Date,
  ): Promise<boolean> {
    const { applied } = await this.connection.write([
      {
        sql: `SELECT 1 AS under WHERE ? IS NULL OR (SELECT count(*) FROM ${this.t.keys}
          WHERE owner_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)) < ?`,
        params: [key.ownerId, key.ownerId, ms(now), maxActive],
        requireRow: true,
      },
      this.insertKey(key),
      this.insertSecret(secret),
    ]);
    return applied;
  }

  /** @inheritdoc One statement. */
  override async revokeOwner(ownerId: string, at: Date): Promise<string[]> {
    const { rows } = await this.connection.write([
      {
        sql: `UPDATE ${this.t.keys} SET revoked_at = ?, updated_at = ?, version = version + 1
          WHERE owner_id = ? AND revoked_at IS NULL RETURNING id`,
        params: [ms(at), ms(at), ownerId],
      },
    ]);
    return Array.from(rows[0] as Array<{ id: string }>, (row) => row.id).sort(compareIds);
  }

  private insertKey(key: StoredApiKey): SqliteWriteStep {
    return {
      sql: `INSERT INTO ${this.t.keys}
         (id, name, scopes, owner_id, metadata, created_at, updated_at,
          expires_at, revoked_at, disabled, last_used_at, version, allowed_networks, allowed_origins)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      params: [
        key.id,
        key.name,
        JSON.stringify(key.scopes),
        key.ownerId,
        JSON.stringify(key.metadata),
        ms(key.createdAt),
        ms(key.updatedAt),
        ms(key.expiresAt),
        ms(key.revokedAt),
        key.disabled ? 1 : 0,
        ms(key.lastUsedAt),
        key.version,
        jsonOrNull(key.allowedNetworks),
        jsonOrNull(key.allowedOrigins),
      ],
    };
  }

  /** @inheritdoc */
  async findById(id: string): Promise<StoredApiKey | null> {
    const [row] = (await this.connection.read(`SELECT ${keyColumns('k.')} FROM ${this.t.keys} k WHERE k.id = ?`, [
      id,
    ])) as KeyRow[];
    return row ? rowToKey(row) : null;
  }

  /** @inheritdoc */
  async list(query: ApiKeyListQuery = {}): Promise<StoredApiKey[]> {
    const rows = (await this.connection.read(
      `SELECT ${keyColumns('k.')} FROM ${this.t.keys} k
       WHERE (@owner IS NULL OR k.owner_id = @owner) AND (@after IS NULL OR k.id > @after)
       ORDER BY k.id LIMIT @limit`,
      [{ owner: query.ownerId ?? null, after: query.after ?? null, limit: listLimit(query) }],
    )) as KeyRow[];
    // Array.from, not rows.map: the rows come from the worker in the main realm, not Jest's VM context.
    return Array.from(rows, rowToKey);
  }

  /** @inheritdoc */
  async update(id: string, expectedVersion: number, patch: ApiKeyPatch): Promise<StoredApiKey | null> {
    const { set, values } = patchAssignments(patch, () => '?', encode);
    const { rows, applied } = await this.connection.write([
      {
        sql: `UPDATE ${this.t.keys} SET ${set}, version = version + 1 WHERE id = ? AND version = ?
          RETURNING ${keyColumns()}`,
        params: [...values, id, expectedVersion],
        requireRow: true,
      },
    ]);
    return applied ? rowToKey(rows[0]![0] as KeyRow) : null;
  }

  /** @inheritdoc */
  async rotate(
    id: string,
    expectedVersion: number,
    secret: StoredApiKeySecret,
    previousSecretsExpireAt: Date,
    expiresAt?: Date | null,
  ): Promise<StoredApiKey | null> {
    const cutoff = ms(previousSecretsExpireAt);
    const renew = expiresAt === undefined ? '' : ', expires_at = ?';
    const { rows, applied } = await this.connection.write([
      {
        sql: `UPDATE ${this.t.keys} SET version = version + 1, updated_at = ?${renew} WHERE id = ? AND version = ?
          RETURNING ${keyColumns()}`,
        params: [ms(secret.createdAt), ...(expiresAt === undefined ? [] : [ms(expiresAt)]), id, expectedVersion],
        requireRow: true,
      },
      {
        sql: `UPDATE ${this.t.secrets} SET expires_at = ? WHERE key_id = ? AND (expires_at IS NULL OR expires_at > ?)`,
        params: [cutoff, id, cutoff],
      },
      this.insertSecret(secret),
    ]);
    return applied ? rowToKey(rows[0]![0] as KeyRow) : null;
  }

  /** @inheritdoc */
  async touch(lastUsed: ReadonlyMap<string, Date>): Promise<void> {
    if (lastUsed.size === 0) return;
    const sql = `UPDATE ${this.t.keys} SET last_used_at = @at
      WHERE id = @id AND (last_used_at IS NULL OR last_used_at < @at)`;
    await this.connection.write(Array.from(lastUsed, ([id, at]) => ({ sql, params: [{ id, at: ms(at) }] })));
  }

  /** Resolves when the database answers a trivial query in time from the file the store opened; never reads a key. */
  override checkHealth(): Promise<void> {
    return this.connection.check();
  }

  private insertSecret(secret: StoredApiKeySecret): SqliteWriteStep {
    return {
      sql: `INSERT INTO ${this.t.secrets} (hash, key_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
      params: [secret.hash, secret.keyId, ms(secret.createdAt), ms(secret.expiresAt)],
    };
  }

  protected async schemaVersion(): Promise<number> {
    const [exists] = await this.connection.read(
      `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE`,
      [this.t.migrations.slice(1, -1)],
    );
    if (!exists) return 0;
    const [row] = (await this.connection.read(
      `SELECT coalesce(max(version), 0) AS v FROM ${this.t.migrations}`,
    )) as Array<{ v: number }>;
    return row!.v;
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

/**
 * Creates a SQLite store and initialises it (migrating when `migrate: true`), for use outside Nest (CLI, scripts).
 * Close it with `close()`.
 */
export async function createSqliteApiKeyStore(options: SqliteApiKeyStoreOptions): Promise<SqliteApiKeyStore> {
  return initialised(new SqliteApiKeyStore(options));
}
