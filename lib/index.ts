export type { ApiKeyModuleOptions, ApiKeySourcesOptions, StaticApiKey } from './api-key-module-options.interface.js';
export type { ApiKeyPrincipal } from './api-key-principal.interface.js';
export type { ApiKeyRecord } from './api-key-record.interface.js';
export type { ApiKeyFailureReason, ApiKeyVerification } from './api-key-verification.interface.js';
export type { ApiKeySource, PresentedApiKey } from './api-key.credentials.js';
export type { RequestWithApiKey } from './api-key.request.js';
export type { ScopeRequirement } from './api-key.scopes.js';
export type { ApiKeyModuleExtras } from './api-key.module-definition.js';
export { ApiKeyModule } from './api-key.module.js';
export { API_KEY_MODULE_OPTIONS } from './api-key.module-definition.js';
export { ResolvedApiKeyOptions } from './api-key-options.js';
export { ApiKeyConfigurationError } from './api-key-configuration.error.js';
export { ApiKeyGuard } from './api-key.guard.js';
export { ApiKeyAuthenticator } from './api-key.authenticator.js';
export { ApiKeyHasher } from './api-key.hasher.js';
export { ApiKeyRepository } from './api-key.repository.js';
export { ApiKeyStore, toApiKeyRecord } from './api-key.store.js';
export type { StoredApiKey, StoredApiKeySecret, ApiKeyPatch, ApiKeyListQuery } from './api-key.store.js';
export { InMemoryApiKeyRepository } from './in-memory-api-key.repository.js';
export { RequireScopes, RequireAnyScope } from './require-scopes.decorator.js';
export { Public } from './public.decorator.js';
export { ApiKey } from './api-key.decorator.js';
export { grantsScope, satisfiesScopes } from './api-key.scopes.js';
export {
  ApiKeyErrorCode,
  ApiKeyMissingException,
  ApiKeyInvalidException,
  ApiKeyConflictException,
  ApiKeyInsufficientScopeException,
  ApiKeyStoreUnavailableException,
} from './api-key.exceptions.js';
export type { ApiKeyErrorBody, ApiKeyHttpException } from './api-key.exceptions.js';
export type { ApiKeyCacheOptions } from './api-key-module-options.interface.js';
export type { ApiKeyChangeFeed } from './api-key-change-feed.interface.js';
export { CachedApiKeyStore, API_KEY_CACHE_DEFAULTS } from './cached-api-key.store.js';
