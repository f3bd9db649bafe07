export { PostgresApiKeyStore, createPostgresApiKeyStore } from './postgres-api-key.store.js';
export type {
  PostgresApiKeyStoreOptions,
  PostgresPool,
  PostgresPoolConfig,
  PostgresClient,
  PostgresQueryResult,
} from './postgres-api-key.store.js';
export { POSTGRES_MIGRATIONS } from './postgres.migrations.js';
export type { ApiKeyTableNames, SqlMigration, QuotedTables } from '../storage/sql-api-key.store.js';
export { SqlApiKeyStore } from '../storage/sql-api-key.store.js';
