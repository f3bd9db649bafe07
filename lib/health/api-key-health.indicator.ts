import { Injectable, Optional } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { ApiKeyRepository } from '../storage/api-key.repository.js';
import { CachedApiKeyStore } from '../storage/cached-api-key.store.js';
import { timerDelay } from '../option-checks.js';
import { RateLimitCounters } from '../rate-limit/rate-limit.counters.js';

/** Settings of one {@link ApiKeyHealthIndicator} check. */
export interface ApiKeyHealthCheckSettings {
  /**
   * How long the check may take, in ms, before it reports `down`. Default 1000, as terminus's own
   * pings. Not a positive integer: the check rejects with `ApiKeyConfigurationError` (terminus: 500).
   */
  timeout?: number;
}

const DEFAULT_TIMEOUT_MS = 1000;

/**
 * Health indicators for `@nestjs/terminus`: the key store, its change feed and the rate-limit
 * store, each reported under its own key, so an orchestrator or a dashboard tells them apart.
 * No check reads, hashes or writes a key, and no result carries one: details hold a status
 * message at most.
 *
 * Provide it beside `TerminusModule` (with `ApiKeyModule` global, or imported there):
 * ```ts
 * @Controller('health')
 * export class HealthController {
 *   constructor(private readonly health: HealthCheckService, private readonly apiKeys: ApiKeyHealthIndicator) {}
 *
 *   @Get() @Public() @HealthCheck()
 *   check() {
 *     return this.health.check([() => this.apiKeys.checkStore(), () => this.apiKeys.checkChangeFeed()]);
 *   }
 * }
 * ```
 */
@Injectable()
export class ApiKeyHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly store: ApiKeyRepository,
    @Optional() private readonly counters?: RateLimitCounters,
  ) {}

  /**
   * `up` when the key store answers its own health check ({@link ApiKeyRepository.checkHealth}:
   * a trivial query, no key read) within the timeout; `down`, with the reason as `message`, when
   * it fails, times out or the store has no `checkHealth`.
   */
  async checkStore<const Key extends string = 'api-key-store'>(
    key: Key = 'api-key-store' as Key,
    settings: ApiKeyHealthCheckSettings = {},
  ): Promise<HealthIndicatorResult<Key>> {
    const store = this.store;
    if (typeof store.checkHealth !== 'function') {
      const message = 'the key store has no checkHealth(): it cannot be checked without reading a key';
      return this.indicators.check(key).down({ message });
    }
    return this.attempt(key, settings, 'checkStore', () => store.checkHealth!());
  }

  /**
   * Whether changes made on other instances reach this instance's cache: `up` while the store's
   * change feed (PostgreSQL's `LISTEN`) is listening, `down` while it is not (its connection was
   * lost and is not back yet: changes made elsewhere meanwhile are not heard). Also `up`, with a
   * `message` saying why, when the store has no change feed or no cache is configured (nothing
   * then depends on one). Synchronous: it reads the feed's state and queries nothing.
   */
  checkChangeFeed<const Key extends string = 'api-key-change-feed'>(
    key: Key = 'api-key-change-feed' as Key,
  ): HealthIndicatorResult<Key> {
    const session = this.indicators.check(key);
    if (!(this.store instanceof CachedApiKeyStore))
      return session.up({ message: 'no cache: nothing uses the change feed' });
    const feed = this.store.changeFeed;
    if (!feed) return session.up({ message: 'the key store has no change feed' });
    return feed.isListening() ? session.up() : session.down({ message: 'not listening for changes: reconnecting' });
  }

  /**
   * `up` when the rate-limit counters can count now (Redis: the client is ready and answers
   * `PING` within the timeout; memory: always); `down`, with the reason as `message`, otherwise.
   * `up` with a `message` when `ApiKeyRateLimitModule` is not imported.
   */
  async checkRateLimit<const Key extends string = 'api-key-rate-limit'>(
    key: Key = 'api-key-rate-limit' as Key,
    settings: ApiKeyHealthCheckSettings = {},
  ): Promise<HealthIndicatorResult<Key>> {
    const counters = this.counters;
    if (!counters) return this.indicators.check(key).up({ message: 'rate limiting is not configured' });
    return this.attempt(key, settings, 'checkRateLimit', () => counters.checkHealth());
  }

  /** `up` when `check` resolves within the timeout, else `down` with the reason. */
  private async attempt<Key extends string>(
    key: Key,
    settings: ApiKeyHealthCheckSettings,
    method: string,
    check: () => Promise<void>,
  ): Promise<HealthIndicatorResult<Key>> {
    const ms = timerDelay(settings.timeout, `${method} timeout`, DEFAULT_TIMEOUT_MS);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    });
    try {
      await Promise.race([new Promise<void>((resolve) => resolve(check())), timeout]);
      return this.indicators.check(key).up();
    } catch (error) {
      return this.indicators.check(key).down({ message: (error as Error)?.message ?? String(error) });
    } finally {
      clearTimeout(timer);
    }
  }
}
