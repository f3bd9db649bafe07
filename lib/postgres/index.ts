export { PostgresApiKeyStore, createPostgresApiKeyStore } from './postgres-api-key.store.js';
export type { PostgresApiKeyStoreOptions, PostgresPool, PostgresPoolConfig, PostgresClient, PostgresQueryResult } from './postgres-api-key.store.js';
export { POSTGRES_MIGRATIONS } from './postgres.migrations.js';
export type { ApiKeyTableNames, SqlMigration, QuotedTables } from '../sql-store.shared.js';
export { SqlApiKeyStore } from '../sql-store.shared.js';
