export { runCli, CliExitCode } from './api-key.cli.js';
export type { CliContext } from './api-key.cli.js';
export { registerApiKeyStoreFactory, openApiKeyStore, apiKeyStoreSchemes } from './api-key-store.factories.js';
export type { ApiKeyStoreFactory, OpenedApiKeyStore } from './api-key-store.factories.js';
