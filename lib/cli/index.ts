export { runCli, CliExitCode } from './api-key.cli.js';
export type { CliContext } from './api-key.cli.js';
export { CliUsageError } from './api-key-cli-usage.error.js';
export { registerApiKeyStoreFactory, openApiKeyStore, apiKeyStoreSchemes } from './api-key-store.factories.js';
export type { ApiKeyStoreFactory, OpenApiKeyStoreOptions, OpenedApiKeyStore } from './api-key-store.factories.js';
