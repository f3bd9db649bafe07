export { ApiKeyRateLimitModule } from './rate-limit.module.js';
export { API_KEY_RATE_LIMIT_OPTIONS } from './rate-limit.module-definition.js';
export { ApiKeyRateLimitHook } from './rate-limit.hook.js';
export { RateLimitCounters } from './rate-limit.counters.js';
export type { CounterState } from './rate-limit.counters.js';
export { ResolvedRateLimitOptions } from './rate-limit-options.js';
export type { ResolvedRateLimitPlan } from './rate-limit-options.js';
export type {
  ApiKeyRateLimitOptions,
  QuotaPeriod,
  QuotaSettings,
  RateLimitCountBy,
  RateLimitPlan,
  RateLimitStoreFailureMode,
  RateLimitWindow,
} from './rate-limit-options.interface.js';
export { RateLimit, RateLimitCost, SkipRateLimit } from './rate-limit.decorator.js';
export type { RouteRateLimit } from './rate-limit.decorator.js';
export {
  ApiKeyRateLimitErrorCode,
  ApiKeyRateLimitedException,
  ApiKeyRateLimitUnavailableException,
} from './rate-limit.exceptions.js';
export type { ApiKeyRateLimitedBody } from './rate-limit.exceptions.js';
export type { RateLimitPolicyState } from './rate-limit.headers.js';
