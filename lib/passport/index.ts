export { ApiKeyStrategy, ApiKeyPassportStrategy, API_KEY_STRATEGY } from './api-key.strategy.js';
