export { SqliteApiKeyStore, createSqliteApiKeyStore } from './sqlite-api-key.store.js';
export type { SqliteApiKeyStoreOptions } from './sqlite-api-key.store.js';
export { SQLITE_MIGRATIONS } from './sqlite.migrations.js';
export type { ApiKeyTableNames, SqlMigration, QuotedTables } from '../sql-store.shared.js';
export { SqlApiKeyStore } from '../sql-store.shared.js';
