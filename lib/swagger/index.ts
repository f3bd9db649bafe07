export { withApiKeySecurity, createApiKeyDocument } from './api-key.swagger.js';
export { ApiKeySecuritySchemeName, API_KEY_SCOPES_EXTENSION } from './api-key-security.document.js';
export {
  ApiKeyUnauthorizedError,
  ApiKeyForbiddenError,
  ApiKeyRestrictedError,
  ApiKeyUnavailableError,
  ApiKeyRateLimitedError,
} from './api-key-error.schemas.js';
export { ApiKeyAuth } from './api-key-auth.decorator.js';
export type { ApiKeyAuthOptions } from './api-key-auth.decorator.js';
