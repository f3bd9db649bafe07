import { afterAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { Socket } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { ApiKeyConfigurationError } from 'nestjs-api-key';
import { createPostgresApiKeyStore, PostgresApiKeyStore, POSTGRES_MIGRATIONS } from 'nestjs-api-key/postgres';
import { createSqliteApiKeyStore, SqliteApiKeyStore, SQLITE_MIGRATIONS } from 'nestjs-api-key/sqlite';
import { dropSchema, POSTGRES_URL, tempDir, uniqueSchema } from '../support/databases.js';

const dir = tempDir();
const schemas: string[] = [];
afterAll(async () => {
  dir.remove();
  for (const schema of schemas) await dropSchema(schema);
});
const newSchema = () => {
  const schema = uniqueSchema();
  schemas.push(schema);
  return schema;
};
const LATEST = 2;

/** The default table names, quoted as a migration's `up` takes them. */
const TABLES = {
  keys: '"api_keys"',
  secrets: '"api_key_secrets"',
  migrations: '"api_key_migrations"',
  label: 'api_keys',
  index: (table: 'keys' | 'secrets', suffix: string) =>
    `"${table === 'keys' ? 'api_keys' : 'api_key_secrets'}_${suffix}"`,
};
const T0 = Date.UTC(2026, 0, 1);
/** A key as the schema of version 1 held it: every column of that version set. */
const V1_KEY = {
  id: 'old1',
  name: 'written before restrictions',
  scopes: ['orders:read'],
  owner: 'team-1',
  metadata: { plan: 'pro' },
  expires: T0 + 86_400_000,
  lastUsed: T0 + 5,
};
/** What the store reads of {@link V1_KEY} after the migration: unrestricted, nothing lost. */
const V1_KEY_READ = {
  id: 'old1',
  name: 'written before restrictions',
  scopes: ['orders:read'],
  ownerId: 'team-1',
  metadata: { plan: 'pro' },
  createdAt: new Date(T0),
  updatedAt: new Date(T0 + 1),
  expiresAt: new Date(T0 + 86_400_000),
  revokedAt: null,
  disabled: false,
  lastUsedAt: new Date(T0 + 5),
  version: 3,
  allowedNetworks: null,
  allowedOrigins: null,
};

describe('SQLite migrations', () => {
  it('finds a migrations table whatever the case of its name, as SQLite does (migrate() looped for ever)', async () => {
    const path = join(dir.path, 'case.db');
    const first = await createSqliteApiKeyStore({
      database: path,
      migrate: true,
      tables: { migrations: 'api_key_migrations' },
    });
    await first.close();
    const store = await createSqliteApiKeyStore({
      database: path,
      migrate: true,
      tables: { migrations: 'API_KEY_MIGRATIONS' },
    });
    expect(await store.migrate()).toEqual([]);
    await store.close();
  });

  it('refuses to start on an unmigrated database, naming the command to run', async () => {
    const attempt = createSqliteApiKeyStore({ database: join(dir.path, 'empty.db') });
    await expect(attempt).rejects.toThrow(ApiKeyConfigurationError);
    await expect(createSqliteApiKeyStore({ database: join(dir.path, 'empty.db') })).rejects.toThrow(
      'the api_keys tables are at schema version 0, this package needs 2: run `npx nestjs-api-key migrate`',
    );
  });

  it('migrate() applies every version once, is idempotent, and creates the unique hash and lookup indexes', async () => {
    const path = join(dir.path, 'migrated.db');
    const store = new SqliteApiKeyStore({
      database: path,
      tables: { keys: 'my_keys', secrets: 'my_secrets', migrations: 'my_versions' },
    });
    expect(await store.migrate()).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
    expect(await store.migrate()).toEqual([]);
    await store.init();
    await store.close();
    const db = new Database(path, { readonly: true });
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all();
    expect(tables).toEqual([{ name: 'my_keys' }, { name: 'my_secrets' }, { name: 'my_versions' }]);
    const secretIndexes = db.prepare(`SELECT name, "unique" FROM pragma_index_list('my_secrets') ORDER BY name`).all();
    expect(secretIndexes).toEqual([
      { name: 'my_secrets_key_id', unique: 0 },
      { name: 'sqlite_autoindex_my_secrets_1', unique: 1 },
    ]);
    const plan = db
      .prepare(`EXPLAIN QUERY PLAN SELECT * FROM my_secrets s JOIN my_keys k ON k.id = s.key_id WHERE s.hash = ?`)
      .all('h') as Array<{ detail: string }>;
    expect(plan.map((step) => step.detail).join('\n')).not.toMatch(/SCAN/);
    db.close();
  });

  it('migrates a database of schema version 1 with keys in it: nothing lost, old keys unrestricted', async () => {
    const path = join(dir.path, 'v1.db');
    const db = new Database(path);
    for (const statement of SQLITE_MIGRATIONS[0]!.up(TABLES)) db.exec(statement);
    db.exec(
      'CREATE TABLE api_key_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    db.prepare(`INSERT INTO api_key_migrations VALUES (1, 'create keys and secrets', 0)`).run();
    db.prepare(`INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, ?, 3)`).run(
      V1_KEY.id,
      V1_KEY.name,
      JSON.stringify(V1_KEY.scopes),
      V1_KEY.owner,
      JSON.stringify(V1_KEY.metadata),
      T0,
      T0 + 1,
      V1_KEY.expires,
      V1_KEY.lastUsed,
    );
    db.prepare(`INSERT INTO api_key_secrets VALUES ('hash-1', 'old1', ?, NULL)`).run(T0);
    db.close();
    await expect(createSqliteApiKeyStore({ database: path })).rejects.toThrow(
      'at schema version 1, this package needs 2',
    );
    const store = new SqliteApiKeyStore({ database: path });
    expect(await store.migrate()).toEqual([2]);
    await store.init();
    expect(await store.findById('old1')).toEqual(V1_KEY_READ);
    expect(await store.findByHash('hash-1')).toMatchObject({ id: 'old1', allowedNetworks: null, allowedOrigins: null });
    const restricted = await store.update('old1', 3, { allowedNetworks: ['10.0.0.0/8'], updatedAt: new Date(T0 + 2) });
    expect(restricted?.allowedNetworks).toEqual(['10.0.0.0/8']);
    await store.close();
  });

  it('refuses a database written by a newer version of the package', async () => {
    const path = join(dir.path, 'newer.db');
    const store = await createSqliteApiKeyStore({ database: path, migrate: true });
    await store.close();
    const db = new Database(path);
    db.prepare(`INSERT INTO api_key_migrations (version, name, applied_at) VALUES (99, 'future', 0)`).run();
    db.close();
    await expect(createSqliteApiKeyStore({ database: path })).rejects.toThrow(
      `schema version 99, newer than this package supports (${LATEST})`,
    );
  });

  it('validates table names before touching the database', () => {
    expect(() => new SqliteApiKeyStore({ database: ':memory:', tables: { keys: 'keys; DROP TABLE users' } })).toThrow(
      'tables.keys must be an identifier of 1 to 63 letters, digits or underscores',
    );
    expect(() => new SqliteApiKeyStore({ database: ':memory:', tables: { keys: 'same', secrets: 'same' } })).toThrow(
      'must differ',
    );
  });
});

describe('PostgreSQL migrations', () => {
  it('refuses to start on an unmigrated schema, naming the command to run', async () => {
    await expect(createPostgresApiKeyStore({ connection: POSTGRES_URL, schema: newSchema() })).rejects.toThrow(
      /schema version 0, this package needs 2: run `npx nestjs-api-key migrate`/,
    );
  });

  it('instances migrating at once apply each version exactly once, with the unique hash index', async () => {
    const schema = newSchema();
    const stores = [1, 2, 3].map(() => new PostgresApiKeyStore({ connection: POSTGRES_URL, schema }));
    const applied = await Promise.all(stores.map((store) => store.migrate()));
    expect(applied.flat()).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
    await Promise.all(stores.map((store) => store.init()));
    await Promise.all(stores.map((store) => store.close()));
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    const { rows } = await client.query(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'api_key_secrets' ORDER BY indexname`,
      [schema],
    );
    await client.end();
    expect(rows.map((row) => row.indexname)).toEqual(['api_key_secrets_key_id', 'api_key_secrets_pkey']);
    expect(rows[1].indexdef).toMatch(/UNIQUE INDEX .* \(hash\)/);
  });

  it('stores with different table names migrate one new schema at once', async () => {
    const schema = newSchema();
    const stores = ['a', 'b', 'c', 'd'].map(
      (prefix) =>
        new PostgresApiKeyStore({
          connection: POSTGRES_URL,
          schema,
          tables: { keys: `${prefix}_keys`, secrets: `${prefix}_secrets`, migrations: `${prefix}_versions` },
        }),
    );
    try {
      expect(await Promise.all(stores.map((store) => store.migrate()))).toEqual(
        stores.map(() => POSTGRES_MIGRATIONS.map((m) => m.version)),
      );
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('migrates and starts as a role that owns its schema but may not create schemas', async () => {
    const schema = newSchema();
    const role = `${schema}_owner`;
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`CREATE ROLE "${role}" LOGIN`);
    await admin.query(`CREATE SCHEMA "${schema}" AUTHORIZATION "${role}"`);
    try {
      const url = new URL(POSTGRES_URL);
      url.username = role;
      for (let start = 0; start < 2; start++)
        await (await createPostgresApiKeyStore({ connection: url.toString(), schema, migrate: true })).close();
    } finally {
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
      await admin.query(`DROP ROLE "${role}"`);
      await admin.end();
    }
  });

  it('lets its connections go when startup refuses, its change listener included (Nest runs no shutdown hook then)', async () => {
    const schema = newSchema();
    const store = new PostgresApiKeyStore({
      connection: { connectionString: POSTGRES_URL, application_name: schema },
      schema,
    });
    store.watchChanges(() => undefined); // as the cache does, before Nest initialises the store
    await expect(store.init()).rejects.toThrow(/schema version 0/);
    expect(await sessionsNamed(schema)).toBe(0);
  });

  it.each(['connects', 'fails to connect'])(
    'leaves no change listener behind when the last one leaves and another comes while it connects (and then %s late)',
    async (outcome) => {
      const schema = newSchema();
      // The next connection opened connects (or fails) 300 ms late: after the current listener's.
      let delayNext = false;
      const stream = () => {
        const socket = new Socket();
        if (delayNext) {
          delayNext = false;
          const connect = socket.connect.bind(socket) as (...args: unknown[]) => Socket;
          const late =
            outcome === 'connects'
              ? (args: unknown[]) => connect(...args)
              : () => socket.destroy(new Error('connection refused'));
          socket.connect = ((...args: unknown[]) => (
            setTimeout(() => late(args), 300),
            socket
          )) as typeof socket.connect;
        }
        return socket;
      };
      const store = await createPostgresApiKeyStore({
        connection: { connectionString: POSTGRES_URL, application_name: schema, stream },
        schema,
        migrate: true,
      });
      delayNext = true;
      store.watchChanges(() => undefined)();
      store.watchChanges(() => undefined);
      await until(async () => (await sessionsNamed(schema, 'LISTEN%')) === 1);
      await new Promise((resolve) => setTimeout(resolve, 700)); // the late connection is up (or failed, and any retry made) by now
      expect(await sessionsNamed(schema, 'LISTEN%')).toBe(1);
      await store.close();
      expect(await sessionsNamed(schema)).toBe(0);
    },
  );

  it('migrates a schema of version 1 with keys in it: nothing lost, old keys unrestricted', async () => {
    const schema = newSchema();
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA "${schema}"`);
      await client.query(`SET search_path TO "${schema}"`);
      for (const statement of POSTGRES_MIGRATIONS[0]!.up(TABLES)) await client.query(statement);
      await client.query(
        'CREATE TABLE api_key_migrations (version integer NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      await client.query(`INSERT INTO api_key_migrations (version, name) VALUES (1, 'create keys and secrets')`);
      await client.query(`INSERT INTO api_keys VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, false, $9, 3)`, [
        V1_KEY.id,
        V1_KEY.name,
        JSON.stringify(V1_KEY.scopes),
        V1_KEY.owner,
        JSON.stringify(V1_KEY.metadata),
        new Date(T0),
        new Date(T0 + 1),
        new Date(V1_KEY.expires),
        new Date(V1_KEY.lastUsed),
      ]);
      await client.query(`INSERT INTO api_key_secrets VALUES ('hash-1', 'old1', $1, NULL)`, [new Date(T0)]);
    } finally {
      await client.end();
    }
    await expect(createPostgresApiKeyStore({ connection: POSTGRES_URL, schema })).rejects.toThrow(
      'at schema version 1, this package needs 2',
    );
    const store = new PostgresApiKeyStore({ connection: POSTGRES_URL, schema });
    try {
      expect(await store.migrate()).toEqual([2]);
      await store.init();
      expect(await store.findById('old1')).toEqual(V1_KEY_READ);
      expect(await store.findByHash('hash-1')).toMatchObject({
        id: 'old1',
        allowedNetworks: null,
        allowedOrigins: null,
      });
      const restricted = await store.update('old1', 3, {
        allowedOrigins: ['https://a.example'],
        updatedAt: new Date(T0 + 2),
      });
      expect(restricted?.allowedOrigins).toEqual(['https://a.example']);
    } finally {
      await store.close();
    }
  });

  it('refuses a schema written by a newer version of the package', async () => {
    const schema = newSchema();
    const store = await createPostgresApiKeyStore({ connection: POSTGRES_URL, schema, migrate: true });
    await store.close();
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`INSERT INTO "${schema}".api_key_migrations (version, name) VALUES (99, 'future')`);
    await client.end();
    await expect(createPostgresApiKeyStore({ connection: POSTGRES_URL, schema })).rejects.toThrow(
      `schema version 99, newer than this package supports (${LATEST})`,
    );
  });

  it('validates schema, table and channel names', () => {
    expect(() => new PostgresApiKeyStore({ connection: POSTGRES_URL, schema: 'public"; DROP' })).toThrow(
      'schema must be an identifier',
    );
    expect(
      () =>
        new PostgresApiKeyStore({ connection: POSTGRES_URL, schema: 's'.repeat(40), tables: { keys: 'k'.repeat(40) } }),
    ).toThrow('set `channel`');
  });
});

/**
 * Server sessions whose application_name is `name` (and whose last query is like `query`), once
 * that count has settled: a connection being closed leaves pg_stat_activity a moment later.
 */
async function sessionsNamed(name: string, query = '%'): Promise<number> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const count = async () =>
      Number(
        (
          await client.query(
            'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND query LIKE $2',
            [name, query],
          )
        ).rows[0].n,
      );
    let last = await count();
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const now = await count();
      if (now === last) return now;
      last = now;
    }
    return last;
  } finally {
    await client.end();
  }
}

/** Polls `condition` every 20 ms for up to 5 s. */
async function until(condition: () => Promise<boolean>): Promise<void> {
  for (
    const deadline = Date.now() + 5000;
    Date.now() < deadline;
    await new Promise((resolve) => setTimeout(resolve, 20))
  )
    if (await condition()) return;
  throw new Error('condition not met within 5 s');
}
