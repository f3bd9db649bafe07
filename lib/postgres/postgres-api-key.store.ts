import { Logger } from '@nestjs/common';
import type * as pg from 'pg';
import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import { loadOptionalPackage } from '../optional-package.js';
import type { ApiKeyChangeFeed } from '../storage/api-key-change-feed.interface.js';
import type { ApiKeyRecord } from '../storage/api-key-record.interface.js';
import type { ApiKeyListQuery, ApiKeyPatch, StoredApiKey, StoredApiKeySecret } from '../storage/api-key.store.js';
import { FixedTimeout } from '../verification/fixed-timeout.js';
import { escapeForLog } from '../log-escape.js';
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
import { POSTGRES_MIGRATIONS } from './postgres.migrations.js';
import { compareIds, listLimit } from '../storage/list-query.js';
import { optionNames, rejectUnknownOptions } from '../option-checks.js';

/** What the store needs of a query result. */
export interface PostgresQueryResult {
  rows: KeyRow[];
}

/** The part of a `pg` `PoolClient` the store uses (so its types need no `@types/pg`). */
export interface PostgresClient {
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
  release(error?: Error | boolean): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
}

/** The part of a `pg` `Pool` the store uses. */
export interface PostgresPool {
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
  connect(): Promise<PostgresClient>;
  end(): Promise<void>;
  /** The pool's configuration (`pg` keeps it here): the listening connection is opened with it. */
  readonly options?: object;
}

/** A `pg` pool configuration (`new Pool(config)`): `connectionString` or host, user, ... and pool settings. */
export interface PostgresPoolConfig {
  connectionString?: string;
  [option: string]: unknown;
}

/** Options of {@link PostgresApiKeyStore}. */
export interface PostgresApiKeyStoreOptions {
  /**
   * A connection URL (`postgres://user:pass@host/db`), a `pg` pool configuration, or a `pg`
   * `Pool` the application owns (the store then never ends it). A pool the store creates has a
   * 5 s connection timeout and TCP keep-alive, unless the configuration says otherwise.
   */
  connection: string | PostgresPoolConfig | PostgresPool;
  /** Schema holding the tables. Default: the connection's `search_path` (usually `public`). */
  schema?: string;
  /** Table names. Default `api_keys`, `api_key_secrets`, `api_key_migrations`. */
  tables?: ApiKeyTableNames;
  /**
   * Apply pending migrations when the store starts. Default `false`: the store checks the schema and refuses to start
   * if it is behind.
   */
  migrate?: boolean;
  /** `LISTEN/NOTIFY` channel announcing changes to other instances. Default `<schema.>keys-table_changes`. */
  channel?: string;
}

const POSTGRES_OPTIONS = optionNames<PostgresApiKeyStoreOptions>({
  connection: true,
  schema: true,
  tables: true,
  migrate: true,
  channel: true,
});
const NOTIFY_PAYLOAD_MAX = 1000;
const RECONNECT_MAX_DELAY_MS = 5000;
const HEALTH_TIMEOUT_MS = 2000;

/**
 * An {@link ApiKeyStore} in PostgreSQL (`pg`), for deployments with several instances. Each
 * write is one transaction that also sends a `NOTIFY` (delivered on commit), and the store is an
 * {@link ApiKeyChangeFeed}: a cache in front of it on every instance `LISTEN`s on one dedicated
 * connection, reconnecting and re-subscribing after a drop (with backoff, cut short once per
 * outage by the first query the database answers again). A URL or configuration it was given
 * it turns into a pool it ends on shutdown; a `Pool` it was given it never ends.
 */
export class PostgresApiKeyStore extends SqlApiKeyStore implements ApiKeyChangeFeed {
  private readonly logger = new Logger(PostgresApiKeyStore.name);
  private readonly pg: typeof pg;
  private readonly pool: PostgresPool;
  private readonly owned: boolean;
  private readonly listenerConfig: pg.ClientConfig | undefined;
  private readonly channel: string;
  private readonly listeners = new Set<(keyId: string | null) => void>();
  private stopListener?: () => boolean;
  private reconnectTimer?: NodeJS.Timeout;
  private reconnectDelay = 0;
  private retriedEarly = false;
  private listenGeneration = 0;
  private listening = false;
  private closed = false;
  private readonly healthTimeout = new FixedTimeout(
    HEALTH_TIMEOUT_MS,
    () => new Error(`no answer in ${HEALTH_TIMEOUT_MS} ms`),
  );

  /**
   * Creates (or adopts) the pool; validates option names and SQL names. Call {@link init} (or let
   * Nest do it) before use.
   * @throws ApiKeyConfigurationError on invalid options or when `pg` is not installed
   */
  constructor(private readonly options: PostgresApiKeyStoreOptions) {
    rejectUnknownOptions(options, POSTGRES_OPTIONS, '');
    super(POSTGRES_MIGRATIONS, quoteTables(options.tables, options.schema), options.migrate);
    this.pg = loadOptionalPackage('pg', 'PostgresApiKeyStore');
    this.channel = options.channel ?? `${this.t.label}_changes`;
    if (!/^[A-Za-z_][A-Za-z0-9_.]{0,62}$/.test(this.channel)) {
      throw new ApiKeyConfigurationError(
        'channel must be 1 to 63 letters, digits, underscores or dots ' +
          '(set `channel` when schema and table names are long)',
      );
    }
    const { connection } = options;
    this.owned = typeof connection === 'string' || typeof (connection as PostgresPool).connect !== 'function';
    if (!this.owned) {
      this.pool = connection as PostgresPool;
      this.listenerConfig = this.pool.options as pg.ClientConfig | undefined;
    } else {
      const config: pg.PoolConfig = {
        connectionTimeoutMillis: 5000,
        keepAlive: true,
        ...(typeof connection === 'string' ? { connectionString: connection } : (connection as PostgresPoolConfig)),
      };
      this.listenerConfig = config;
      const pool = new this.pg.Pool(config);
      pool.on('error', (error) =>
        this.logger.warn(`Idle PostgreSQL connection failed: ${escapeForLog(error.message)}`),
      );
      this.pool = pool as unknown as PostgresPool;
    }
  }

  /** Stops listening and ends the pool if the store created it; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.stopListening();
    if (this.owned) await this.pool.end();
  }

  /**
   * Applies the pending migrations in one transaction, under an advisory lock so instances
   * starting together migrate once; resolves to the versions applied.
   */
  async migrate(): Promise<number[]> {
    return this.transaction(async (client) => {
      // One lock per schema: stores with other table names in the same schema create it too.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `nestjs-api-key:${this.options.schema ?? this.t.label}`,
      ]);
      // Created only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even
      // when the schema exists, which a role that merely owns its schema does not have.
      const schema = this.options.schema;
      if (
        schema !== undefined &&
        (await client.query('SELECT to_regnamespace($1) IS NULL AS missing', [`"${schema}"`])).rows[0].missing
      ) {
        await client.query(`CREATE SCHEMA "${schema}"`);
      }
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.t.migrations}
         (version integer NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const current = await this.versionIn(client);
      const pending = POSTGRES_MIGRATIONS.filter((migration) => migration.version > current);
      for (const migration of pending) {
        for (const statement of migration.up(this.t)) await client.query(statement);
        await client.query(`INSERT INTO ${this.t.migrations} (version, name) VALUES ($1, $2)`, [
          migration.version,
          migration.name,
        ]);
      }
      assertSchemaCurrent(await this.versionIn(client), POSTGRES_MIGRATIONS, this.t.label);
      return pending.map((migration) => migration.version);
    });
  }

  /** @inheritdoc */
  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    const { rows } = await this.query(
      `SELECT ${keyColumns('k.')},
         s.hash AS secret_hash, s.created_at AS secret_created_at, s.expires_at AS secret_expires_at
       FROM ${this.t.secrets} s JOIN ${this.t.keys} k ON k.id = s.key_id WHERE s.hash = $1`,
      [hash],
    );
    return rows[0] ? rowToRecord(rows[0]) : null;
  }

  /** @inheritdoc */
  async insert(key: StoredApiKey, secret: StoredApiKeySecret): Promise<void> {
    await this.transaction((client) => this.insertIn(client, key, secret));
  }

  /**
   * @inheritdoc In one transaction holding an advisory lock on the owner, so concurrent creates
   * for one owner (on any instance) count one after the other.
   */
  override async insertWithinOwnerLimit(
    key: StoredApiKey,
    secret: StoredApiKeySecret,
    maxActive: number,
    now: Date,
  ): Promise<boolean> {
    if (key.ownerId === null) return this.insert(key, secret).then(() => true);
    const ownerId = key.ownerId;
    return this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`nestjs-api-key:${this.t.label}:${ownerId}`]);
      const { rows } = await client.query(
        `SELECT count(*)::int AS active FROM ${this.t.keys}
         WHERE owner_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`,
        [ownerId, now],
      );
      if (Number(rows[0]!.active) >= maxActive) return false;
      await this.insertIn(client, key, secret);
      return true;
    });
  }

  /** @inheritdoc One statement, and one change notification for all of them (caches forget every key). */
  override async revokeOwner(ownerId: string, at: Date): Promise<string[]> {
    return this.transaction(async (client) => {
      const { rows } = await client.query(
        `UPDATE ${this.t.keys} SET revoked_at = $2, updated_at = $2, version = version + 1
         WHERE owner_id = $1 AND revoked_at IS NULL RETURNING id`,
        [ownerId, at],
      );
      if (rows.length > 0) await client.query('SELECT pg_notify($1, $2)', [this.channel, '']);
      return rows.map((row) => row.id as string).sort(compareIds);
    });
  }

  private async insertIn(client: PostgresClient, key: StoredApiKey, secret: StoredApiKeySecret): Promise<void> {
    await client.query(
      `INSERT INTO ${this.t.keys}
         (id, name, scopes, owner_id, metadata, created_at, updated_at,
          expires_at, revoked_at, disabled, last_used_at, version, allowed_networks, allowed_origins)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        key.id,
        key.name,
        JSON.stringify(key.scopes),
        key.ownerId,
        JSON.stringify(key.metadata),
        key.createdAt,
        key.updatedAt,
        key.expiresAt,
        key.revokedAt,
        key.disabled,
        key.lastUsedAt,
        key.version,
        jsonOrNull(key.allowedNetworks),
        jsonOrNull(key.allowedOrigins),
      ],
    );
    await this.insertSecret(client, secret);
    await this.notify(client, key.id);
  }

  /** @inheritdoc */
  async findById(id: string): Promise<StoredApiKey | null> {
    const { rows } = await this.query(`SELECT ${keyColumns('k.')} FROM ${this.t.keys} k WHERE k.id = $1`, [id]);
    return rows[0] ? rowToKey(rows[0]) : null;
  }

  /** @inheritdoc */
  async list(query: ApiKeyListQuery = {}): Promise<StoredApiKey[]> {
    const { rows } = await this.query(
      `SELECT ${keyColumns('k.')} FROM ${this.t.keys} k
       WHERE ($1::text IS NULL OR k.owner_id = $1) AND ($2::text IS NULL OR k.id > $2) ORDER BY k.id LIMIT $3`,
      [query.ownerId ?? null, query.after ?? null, listLimit(query)],
    );
    return rows.map(rowToKey);
  }

  /** @inheritdoc */
  async update(id: string, expectedVersion: number, patch: ApiKeyPatch): Promise<StoredApiKey | null> {
    const { set, values } = patchAssignments(patch, (index) => `$${index + 4}`, encode);
    const { rows } = await this.query(
      `WITH k AS (UPDATE ${this.t.keys} SET ${set}, version = version + 1 WHERE id = $1 AND version = $2 RETURNING *)
       SELECT ${keyColumns('k.')}, pg_notify($3, ${this.payload('k.id')}) FROM k`,
      [id, expectedVersion, this.channel, ...values],
    );
    return rows[0] ? rowToKey(rows[0]) : null;
  }

  /** @inheritdoc */
  async rotate(
    id: string,
    expectedVersion: number,
    secret: StoredApiKeySecret,
    previousSecretsExpireAt: Date,
    expiresAt?: Date | null,
  ): Promise<StoredApiKey | null> {
    const renew = expiresAt === undefined ? '' : ', expires_at = $4';
    return this.transaction(async (client) => {
      const { rows } = await client.query(
        `UPDATE ${this.t.keys} k SET version = version + 1, updated_at = $3${renew} WHERE id = $1 AND version = $2
         RETURNING ${keyColumns('k.')}`,
        [id, expectedVersion, secret.createdAt, ...(expiresAt === undefined ? [] : [expiresAt])],
      );
      if (!rows[0]) return null;
      await client.query(
        `UPDATE ${this.t.secrets} SET expires_at = $2 WHERE key_id = $1 AND (expires_at IS NULL OR expires_at > $2)`,
        [id, previousSecretsExpireAt],
      );
      await this.insertSecret(client, secret);
      await this.notify(client, id);
      return rowToKey(rows[0]);
    });
  }

  /** @inheritdoc */
  async touch(lastUsed: ReadonlyMap<string, Date>): Promise<void> {
    if (lastUsed.size === 0) return;
    // In id order: instances flushing overlapping batches then lock rows in the same order (in
    // each Map's own order, two of them could deadlock).
    const ids = [...lastUsed.keys()].sort();
    await this.query(
      `UPDATE ${this.t.keys} k SET last_used_at = v.at FROM unnest($1::text[], $2::timestamptz[]) AS v(id, at)
       WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.at)`,
      [ids, ids.map((id) => lastUsed.get(id))],
    );
  }

  /**
   * Resolves when PostgreSQL answers `SELECT 1` through the pool within 2 s; rejects with an
   * `Error` saying why otherwise. Never reads a key.
   */
  override async checkHealth(): Promise<void> {
    try {
      await this.healthTimeout.race(this.query('SELECT 1'));
    } catch (error) {
      const reason = (error as Error)?.message ?? String(error);
      throw new Error(`PostgreSQL did not answer a health check: ${reason}`, { cause: error });
    }
  }

  /** @inheritdoc */
  isListening(): boolean {
    return this.listening;
  }

  /** @inheritdoc */
  watchChanges(listener: (keyId: string | null) => void): () => void {
    if (this.closed) return () => undefined;
    this.listeners.add(listener);
    if (this.listeners.size === 1) void this.listen();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopListening();
    };
  }

  /**
   * Listens on a connection of its own, outside the pool (so an application ending its own pool
   * is never kept waiting by it); through the pool only when the pool's configuration is unknown.
   */
  private async listen(): Promise<void> {
    // A newer listen() or a stopListening() while this one connects makes it stale: it then
    // lets its connection go rather than leave one nobody stops.
    const generation = ++this.listenGeneration;
    let client: Pick<PostgresClient, 'query' | 'on'>;
    let release: () => void;
    try {
      if (this.listenerConfig) {
        const own = new this.pg.Client(this.listenerConfig);
        client = own;
        release = () => void own.end().catch(() => undefined);
        own.on('error', () => undefined);
        await own.connect();
      } else {
        const pooled = await this.pool.connect();
        client = pooled;
        release = () => pooled.release(true);
      }
    } catch (error) {
      if (generation !== this.listenGeneration) return; // a newer listen() or a stop took over
      return this.reconnectLater(error);
    }
    // Checked before this connection becomes the one stopListening() stops: a stale one that
    // took that place would orphan the current one.
    if (this.closed || this.listeners.size === 0 || generation !== this.listenGeneration) return release();
    let released = false;
    const stop = () => {
      if (released) return false;
      released = true;
      if (this.stopListener === stop) {
        this.stopListener = undefined;
        this.listening = false;
      }
      release();
      return true;
    };
    const drop = (error: unknown) => {
      if (stop() && !this.closed && this.listeners.size > 0) this.reconnectLater(error);
    };
    this.stopListener = stop;
    client.on('error', drop);
    client.on('end', () => drop(new Error('connection ended')));
    client.on('notification', (message: { channel: string; payload?: string }) => {
      if (message.channel === this.channel) this.emit(message.payload ? message.payload : null);
    });
    try {
      await client.query(`LISTEN "${this.channel}"`);
    } catch (error) {
      return drop(error);
    }
    if (released) return; // stopped while subscribing
    this.listening = true;
    this.reconnectDelay = 0;
    this.retriedEarly = false;
    // Changes made before this connection listened (while the application started, or while a
    // lost connection was down) were not heard: anything cached until now may be stale.
    this.emit(null);
  }

  private reconnectLater(error: unknown): void {
    if (this.closed || this.listeners.size === 0) return;
    this.reconnectDelay = Math.min(Math.max(this.reconnectDelay * 2, 100), RECONNECT_MAX_DELAY_MS);
    this.logger.warn(
      `Change notifications interrupted (${escapeForLog(String((error as Error)?.message ?? error))}); ` +
        `reconnecting in ${this.reconnectDelay} ms`,
    );
    this.reconnectTimer = setTimeout(() => this.reconnectNow(), this.reconnectDelay);
    this.reconnectTimer.unref();
  }

  private reconnectNow(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    void this.listen();
  }

  private stopListening(): void {
    this.listenGeneration++;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.stopListener?.();
  }

  /**
   * A query through the pool. While the listener waits out its reconnect backoff, the database
   * answering means it is back: the first such answer of an outage makes the listener retry at
   * once (a cache serves nothing from memory until it listens; later attempts keep the backoff,
   * so a listener that cannot connect while the pool can never retries in a loop).
   */
  private async query(text: string, values?: unknown[]): Promise<PostgresQueryResult> {
    const result = await this.pool.query(text, values);
    if (this.reconnectTimer !== undefined && !this.retriedEarly) {
      this.retriedEarly = true;
      this.reconnectNow();
    }
    return result;
  }

  private emit(keyId: string | null): void {
    for (const listener of this.listeners) listener(keyId);
  }

  /** The notification payload for an id expression: the id, or '' (anything changed) when too long for NOTIFY. */
  private payload(idExpression: string): string {
    return `CASE WHEN octet_length(${idExpression}) <= ${NOTIFY_PAYLOAD_MAX} THEN ${idExpression} ELSE '' END`;
  }

  private async notify(client: PostgresClient, id: string): Promise<void> {
    await client.query(`SELECT pg_notify($1, ${this.payload('$2::text')})`, [this.channel, id]);
  }

  private async insertSecret(client: PostgresClient, secret: StoredApiKeySecret): Promise<void> {
    await client.query(`INSERT INTO ${this.t.secrets} (hash, key_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`, [
      secret.hash,
      secret.keyId,
      secret.createdAt,
      secret.expiresAt,
    ]);
  }

  protected schemaVersion(): Promise<number> {
    return this.versionIn(this.pool);
  }

  private async versionIn(db: Pick<PostgresPool, 'query'>): Promise<number> {
    const { rows } = await db.query('SELECT to_regclass($1) IS NOT NULL AS present', [this.t.migrations]);
    if (!rows[0]!.present) return 0;
    const result = await db.query(`SELECT coalesce(max(version), 0) AS v FROM ${this.t.migrations}`);
    return Number(result.rows[0]!.v);
  }

  private async transaction<T>(work: (client: PostgresClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw error;
    } finally {
      client.release(broken);
    }
  }
}

function encode(_column: string, value: unknown): unknown {
  return value === null || typeof value !== 'object' || value instanceof Date ? value : JSON.stringify(value);
}

/**
 * Creates a PostgreSQL store and initialises it (migrating when `migrate: true`), for use outside Nest (CLI, scripts).
 * Close it with `close()`.
 */
export async function createPostgresApiKeyStore(options: PostgresApiKeyStoreOptions): Promise<PostgresApiKeyStore> {
  return initialised(new PostgresApiKeyStore(options));
}
