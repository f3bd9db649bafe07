import type { SqlMigration } from '../storage/sql-api-key.store.js';

/**
 * Schema versions of the PostgreSQL store, applied in order by {@link PostgresApiKeyStore.migrate}.
 * Ids sort byte-wise (`COLLATE "C"`), the same in every locale, for keyset pagination.
 * Never edit a shipped migration: append a new version.
 */
export const POSTGRES_MIGRATIONS: readonly SqlMigration[] = [
  {
    version: 1,
    name: 'create keys and secrets',
    up: (t) => [
      `CREATE TABLE ${t.keys} (
        id text COLLATE "C" NOT NULL PRIMARY KEY,
        name text NOT NULL,
        scopes jsonb NOT NULL,
        owner_id text,
        metadata jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        expires_at timestamptz,
        revoked_at timestamptz,
        disabled boolean NOT NULL DEFAULT false,
        last_used_at timestamptz,
        version integer NOT NULL
      )`,
      `CREATE INDEX ${t.index('keys', 'owner_id')} ON ${t.keys} (owner_id, id)`,
      `CREATE TABLE ${t.secrets} (
        hash text NOT NULL PRIMARY KEY,
        key_id text COLLATE "C" NOT NULL REFERENCES ${t.keys} (id),
        created_at timestamptz NOT NULL,
        expires_at timestamptz
      )`,
      `CREATE INDEX ${t.index('secrets', 'key_id')} ON ${t.secrets} (key_id)`,
    ],
  },
  {
    version: 2,
    name: 'per-key restrictions',
    // JSON arrays of text, NULL for none: every key written before stays unrestricted.
    up: (t) => [
      `ALTER TABLE ${t.keys} ADD COLUMN allowed_networks jsonb`,
      `ALTER TABLE ${t.keys} ADD COLUMN allowed_origins jsonb`,
    ],
  },
];
