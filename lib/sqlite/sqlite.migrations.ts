import type { SqlMigration } from '../storage/sql-api-key.store.js';

/**
 * Schema versions of the SQLite store, applied in order by {@link SqliteApiKeyStore.migrate}.
 * Times are integer milliseconds since the epoch; scopes and metadata are JSON text.
 * Never edit a shipped migration: append a new version.
 */
export const SQLITE_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    name: 'create keys and secrets',
    up: (t) => [
      `CREATE TABLE ${t.keys} (
        id TEXT NOT NULL PRIMARY KEY,
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        owner_id TEXT,
        metadata TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER,
        disabled INTEGER NOT NULL DEFAULT 0,
        last_used_at INTEGER,
        version INTEGER NOT NULL
      )`,
      `CREATE INDEX ${t.index('keys', 'owner_id')} ON ${t.keys} (owner_id, id)`,
      `CREATE TABLE ${t.secrets} (
        hash TEXT NOT NULL PRIMARY KEY,
        key_id TEXT NOT NULL REFERENCES ${t.keys} (id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER
      )`,
      `CREATE INDEX ${t.index('secrets', 'key_id')} ON ${t.secrets} (key_id)`,
    ],
  },
  {
    version: 2,
    name: 'per-key restrictions',
    // JSON arrays of text, NULL for none: every key written before stays unrestricted.
    up: (t) => [
      `ALTER TABLE ${t.keys} ADD COLUMN allowed_networks TEXT`,
      `ALTER TABLE ${t.keys} ADD COLUMN allowed_origins TEXT`,
    ],
  },
];
