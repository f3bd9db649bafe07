export { ApiKeyHealthIndicator } from './api-key-health.indicator.js';
export type { ApiKeyHealthCheckSettings } from './api-key-health.indicator.js';
