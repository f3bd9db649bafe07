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
export type { ApiKeyVerificationResult } from './api-key.authenticator.js';
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
export { ApiKeyClock, SystemApiKeyClock } from './api-key.clock.js';
export { ApiKeyFormat, DEFAULT_API_KEY_PREFIX } from './api-key.format.js';
export type { RandomBytesSource } from './api-key.format.js';
export { isApiKeyStore } from './api-key-store.predicate.js';
export { ApiKeyEventSink, ApiKeyEventType, DefaultApiKeyEventSink } from './api-key.events.js';
export type {
  ApiKeyEvent,
  ApiKeyLifecycleEvent,
  ApiKeyRotatedEvent,
  ApiKeyAuthenticatedEvent,
  ApiKeyAuthenticationFailedEvent,
} from './api-key.events.js';
export { ApiKeyUsageTracker } from './api-key.usage-tracker.js';
export { ApiKeyService } from './api-key.service.js';
export type { CreateApiKeyInput, UpdateApiKeyInput, RotateApiKeyOptions, IssuedApiKey, RotatedApiKey } from './api-key.service.js';
export { ApiKeyLifecycleError } from './api-key-lifecycle.error.js';
export type { ApiKeyLifecycleErrorCode } from './api-key-lifecycle.error.js';
export { createStandaloneApiKeyService } from './api-key.standalone.js';
export type { StandaloneApiKeyOptions, StandaloneApiKeyServices } from './api-key.standalone.js';
export { ApiKeyGuardHook } from './api-key-guard.hook.js';
export { clientAddressOf } from './client-address.js';
export { apiKeyTracker } from './api-key.tracker.js';
export type { ApiKeyCacheOptions } from './api-key-module-options.interface.js';
export type { ApiKeyChangeFeed } from './api-key-change-feed.interface.js';
export { CachedApiKeyStore, API_KEY_CACHE_DEFAULTS } from './cached-api-key.store.js';
