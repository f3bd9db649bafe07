export { SqliteApiKeyStore, createSqliteApiKeyStore } from './sqlite-api-key.store.js';
export type { SqliteApiKeyStoreOptions } from './sqlite-api-key.store.js';
export { SQLITE_MIGRATIONS } from './sqlite.migrations.js';
export type { ApiKeyTableNames, SqlMigration, QuotedTables } from '../storage/sql-api-key.store.js';
export { SqlApiKeyStore } from '../storage/sql-api-key.store.js';
