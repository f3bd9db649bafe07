export { createApiKeyDocument } from './api-key.swagger.js';
export {
  ApiKeySecuritySchemeName,
  ApiKeyComponentName,
  API_KEY_SCOPES_EXTENSION,
} from './api-key-security.document.js';
export { ApiKeyAuth } from './api-key-auth.decorator.js';
