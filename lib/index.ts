export type {
  ApiKeyExpiryWarningsOptions,
  ApiKeyModuleOptions,
  ApiKeySourcesOptions,
  StaticApiKey,
} from './api-key-module-options.interface.js';
export type { ApiKeyPrincipal } from './api-key-principal.interface.js';
export type { ApiKeyRecord } from './storage/api-key-record.interface.js';
export type {
  ApiKeyExpiryNotice,
  ApiKeyFailureReason,
  ApiKeyVerification,
} from './verification/api-key-verification.interface.js';
export type { ApiKeySource, PresentedApiKey } from './guard/api-key.credentials.js';
export type { RequestWithApiKey } from './guard/api-key.request.js';
export type { ScopeRequirement } from './guard/api-key.scopes.js';
export type { ApiKeyModuleExtras } from './api-key.module-definition.js';
export { ApiKeyModule } from './api-key.module.js';
export { API_KEY_MODULE_OPTIONS } from './api-key.module-definition.js';
export { ResolvedApiKeyOptions } from './resolved-api-key.options.js';
export { ApiKeyConfigurationError } from './api-key-configuration.error.js';
export { ApiKeyGuard } from './guard/api-key.guard.js';
export { ApiKeyOr } from './guard/api-key-or.guard.js';
export type { ApiKeyOrGuard } from './guard/api-key-or.guard.js';
export { ApiKeyAuthenticator } from './verification/api-key.authenticator.js';
export { ApiKeyHasher } from './keys/api-key.hasher.js';
export { ApiKeyRepository } from './storage/api-key.repository.js';
export { ApiKeyStore, toApiKeyRecord } from './storage/api-key.store.js';
export type { StoredApiKey, StoredApiKeySecret, ApiKeyPatch, ApiKeyListQuery } from './storage/api-key.store.js';
export { InMemoryApiKeyStore } from './storage/in-memory-api-key.store.js';
export { RequireScopes, RequireAnyScope } from './guard/require-scopes.decorator.js';
export { Public } from './guard/public.decorator.js';
export { OptionalApiKey } from './guard/optional-api-key.decorator.js';
export { ApiKey } from './guard/api-key.decorator.js';
export { satisfiesScopes } from './guard/api-key.scopes.js';
export {
  ApiKeyErrorCode,
  ApiKeyMissingException,
  ApiKeyInvalidException,
  ApiKeyConflictException,
  ApiKeyInsufficientScopeException,
  ApiKeyRestrictedException,
  ApiKeyStoreUnavailableException,
} from './api-key.exceptions.js';
export type { ApiKeyErrorBody, ApiKeyHttpException } from './api-key.exceptions.js';
export { ApiKeyGraphQLError } from './guard/contexts/graphql.js';
export type { ApiKeyGraphQLErrorExtensions } from './guard/contexts/graphql.js';
export { ApiKeySubscriptions, ApiKeySubscriptionCloseCode } from './guard/contexts/graphql-subscriptions.js';
export type { ApiKeySubscriptionOptions } from './guard/contexts/graphql-subscriptions.js';
export { ApiKeyClock, SystemApiKeyClock } from './verification/api-key.clock.js';
export { ApiKeyFormat, DEFAULT_API_KEY_PREFIX } from './keys/api-key.format.js';
export type { RandomBytesSource } from './keys/api-key.format.js';
export { ApiKeyEventSink, ApiKeyEventType } from './api-key.events.js';
export type {
  ApiKeyEvent,
  ApiKeyLifecycleEvent,
  ApiKeyRotatedEvent,
  ApiKeyExpiringEvent,
  ApiKeyAuthenticatedEvent,
  ApiKeyAuthenticationFailedEvent,
  ApiKeyLeakedEvent,
  ApiKeyLeakAction,
  ApiKeyRestrictedEvent,
} from './api-key.events.js';
export { ApiKeyLastUsedRecorder } from './verification/api-key-last-used.recorder.js';
export { ApiKeyService } from './management/api-key.service.js';
export type {
  CreateApiKeyInput,
  UpdateApiKeyInput,
  RotateApiKeyOptions,
  IssuedApiKey,
  RotatedApiKey,
} from './management/api-key.service.js';
export { ApiKeyLifecycleError } from './api-key-lifecycle.error.js';
export type { ApiKeyLifecycleErrorCode } from './api-key-lifecycle.error.js';
export { createStandaloneApiKeyService } from './management/api-key.standalone.js';
export type { StandaloneApiKeyOptions, StandaloneApiKeyServices } from './management/api-key.standalone.js';
export { ApiKeyGuardHook } from './guard/api-key-guard.hook.js';
export { rememberWebSocketHandshake } from './guard/contexts/ws.js';
export type { WebSocketHandshake } from './guard/contexts/ws.js';
export { ApiKeyWebSockets } from './guard/contexts/ws-connections.js';
export type { ApiKeyConnectError, ApiKeyWebSocketOptions } from './guard/contexts/ws-connections.js';
export { clientAddressOf, clientIpOf } from './guard/client-address.js';
export { ApiKeyRestrictions } from './guard/api-key.restrictions.js';
export type { ApiKeyRestrictionReason } from './guard/api-key.restrictions.js';
export { apiKeyTracker } from './guard/api-key.tracker.js';
export type { ApiKeyCacheOptions, ApiKeyLifetimeOptions } from './api-key-module-options.interface.js';
export type { ApiKeyChangeFeed } from './storage/api-key-change-feed.interface.js';
export { CachedApiKeyStore } from './storage/cached-api-key.store.js';
export { createApiKeyStore } from './storage/api-key-store.url.js';
export type { ClosableApiKeyStore, CreateApiKeyStoreOptions } from './storage/api-key-store.url.js';
