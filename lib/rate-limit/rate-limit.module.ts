import { Module } from '@nestjs/common';
import { ApiKeyGuardHook } from '../guard/api-key-guard.hook.js';
import { API_KEY_RATE_LIMIT_OPTIONS, ConfigurableApiKeyRateLimitModule } from './rate-limit.module-definition.js';
import { MemoryCounters } from './memory-counters.js';
import { RateLimitCounters } from './rate-limit.counters.js';
import { RedisCounters } from './redis-counters.js';
import { ApiKeyRateLimitHook } from './rate-limit.hook.js';
import type { ApiKeyRateLimitOptions } from './rate-limit-options.interface.js';
import { ResolvedRateLimitOptions } from './rate-limit-options.js';

/**
 * Per-key rate limits and quotas, and a limit on failed authentications per client address,
 * enforced by every {@link ApiKeyGuard} (the module provides its {@link ApiKeyGuardHook}). Provides and
 * exports the counters (token {@link RateLimitCounters}), for health checks.
 * Always global. `forRoot(options)` or `forRootAsync({ imports, inject, useFactory })`;
 * invalid options (an unknown name included) throw {@link ApiKeyConfigurationError} at bootstrap,
 * and so does a `redis` client that is not ready within `redisReadyTimeoutMs` (with
 * `whenUnavailable: 'allow'` the application starts anyway, with a warning, unlimited until it is).
 */
@Module({
  providers: [
    {
      provide: ResolvedRateLimitOptions,
      inject: [API_KEY_RATE_LIMIT_OPTIONS],
      useFactory: (options: ApiKeyRateLimitOptions) => new ResolvedRateLimitOptions(options),
    },
    { provide: RateLimitCounters, inject: [ResolvedRateLimitOptions], useFactory: rateLimitCounters },
    ApiKeyRateLimitHook,
    { provide: ApiKeyGuardHook, useExisting: ApiKeyRateLimitHook },
  ],
  exports: [ResolvedRateLimitOptions, RateLimitCounters, ApiKeyRateLimitHook, ApiKeyGuardHook],
})
export class ApiKeyRateLimitModule extends ConfigurableApiKeyRateLimitModule {}

/** The counters the options ask for: shared in Redis when `redis` is set, else this process's own. */
function rateLimitCounters(options: ResolvedRateLimitOptions): RateLimitCounters {
  return options.redis
    ? new RedisCounters(
        options.redis,
        options.redisKeyPrefix,
        options.timeoutMs,
        options.redisReadyTimeoutMs,
        options.whenUnavailable === 'allow',
      )
    : new MemoryCounters();
}
