import { Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import { loadOptionalPackage } from '../optional-package.js';
import { FixedTimeout } from '../verification/fixed-timeout.js';
import type { CounterState, RateLimitCounters } from './rate-limit.counters.js';

/** Creates the sentinel (KEYS[1]) with the value ARGV[1] unless it exists, and returns its value: one atomic step. */
const SENTINEL_SCRIPT = "redis.call('SET', KEYS[1], ARGV[1], 'NX') return redis.call('GET', KEYS[1])";

/**
 * Counters in Redis on rate-limiter-flexible, atomic across instances (a Lua script per call),
 * one limiter per bucket. Every call fails (rejects) after `timeoutMs`, and at once while Redis
 * is not connected. At startup (`onModuleInit`) they wait for the client to be ready, so the
 * first request is counted rather than refused; a client still not ready by then stops the
 * application from starting, unless requests may pass unlimited while Redis is unavailable
 * (`whenUnavailable: 'allow'`): then the application starts with a warning, and the counters
 * count once the client connects.
 *
 * Counters are as durable as the Redis server's configuration: a server without persistence that
 * restarts comes back empty, and every budget restarts. To make that visible, each connection
 * (the first and every reconnection, never a request) reads a sentinel key, `<redisKeyPrefix>sentinel`,
 * which has no expiry and is created by the first instance to look. When it has vanished or changed
 * since the last look, the counters were lost with it, and a warning says so.
 */
export class RedisCounters implements RateLimitCounters, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('ApiKeyRateLimit');
  private readonly limiters = new Map<string, RateLimiterRedis>();
  private readonly timeout: FixedTimeout;
  private readonly sentinelKey: string;
  /** The sentinel's value at the last look; `undefined` until a look succeeds. */
  private sentinel: string | undefined;
  private readonly onReady = (): void => void this.checkSentinel();
  private readonly limiterClass: typeof RateLimiterRedis;

  /**
   * @param redis the application's client
   * @param keyPrefix prefix of every key the counters write
   * @param timeoutMs longest wait for one call
   * @param readyTimeoutMs longest wait at startup for the client to be ready
   * @param startUnavailable whether the application may start while Redis is unreachable (the
   *   `'allow'` failure mode), rather than fail
   * @throws ApiKeyConfigurationError when `rate-limiter-flexible` is not installed
   */
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keyPrefix: string,
    timeoutMs: number,
    private readonly readyTimeoutMs: number,
    private readonly startUnavailable: boolean,
  ) {
    this.limiterClass = loadOptionalPackage<typeof import('rate-limiter-flexible')>(
      'rate-limiter-flexible',
      "ApiKeyRateLimitModule's redis option",
    ).RateLimiterRedis;
    this.timeout = new FixedTimeout(timeoutMs, () => new Error(`rate limit store timed out after ${timeoutMs} ms`));
    this.sentinelKey = `${keyPrefix}sentinel`;
    redis.on('ready', this.onReady);
    if (redis.status === 'ready') this.onReady();
  }

  async add(bucket: string, seconds: number, key: string, points: number): Promise<CounterState> {
    return stateOf(await this.call(this.limiter(bucket, seconds).consume(key, points, { customDuration: seconds })));
  }

  async refund(bucket: string, seconds: number, key: string, points: number): Promise<void> {
    await this.call(this.limiter(bucket, seconds).reward(key, points));
  }

  /** Resolves when the client is ready and Redis answers a PING within `timeoutMs`. */
  async checkHealth(): Promise<void> {
    const status = this.redis.status;
    if (status !== 'ready') throw new Error(`rate limit store (Redis) is not ready: client status "${status}"`);
    try {
      await this.call(this.redis.ping());
    } catch (error) {
      const reason = (error as Error)?.message ?? String(error);
      throw new Error(`rate limit store (Redis) did not answer PING: ${reason}`, { cause: error });
    }
  }

  /**
   * Resolves once the client is ready, connecting it when it was created with `lazyConnect` and
   * not connected yet. Rejects with {@link ApiKeyConfigurationError}, naming Redis, its address
   * and the client's last error, when it has been closed, or is not ready within `readyTimeoutMs`
   * (then, with `startUnavailable`, warns instead and resolves): the application does not start.
   */
  onModuleInit(): Promise<void> {
    const redis = this.redis;
    if (redis.status === 'ready') return Promise.resolve();
    if (redis.status === 'end') return Promise.reject(this.notReady('the client is closed (quit or disconnect)'));
    return new Promise((resolve, reject) => {
      let lastError = '';
      const onError = (error: Error): void => {
        lastError = `; last error: ${error.message}`;
      };
      const onEnd = (): void => settle(this.notReady(`the client closed its connection for good${lastError}`));
      const settle = (error?: Error): void => {
        clearTimeout(timer);
        redis.off('ready', settle).off('error', onError).off('end', onEnd);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => {
        const error = this.notReady(`it was not ready within ${this.readyTimeoutMs} ms${lastError}`);
        if (!this.startUnavailable) return settle(error);
        this.logger.warn(
          `${error.message}. Starting without rate limits (whenUnavailable: 'allow'): requests pass ` +
            'unlimited until the client connects.',
        );
        settle();
      }, this.readyTimeoutMs);
      redis.on('ready', settle).on('error', onError).on('end', onEnd);
      // A lazyConnect client connects on its first command, which the counters never send while it is not ready.
      if (redis.status === 'wait') redis.connect().catch(() => undefined);
    });
  }

  /** Stops watching the client, which belongs to the application and outlives the module. */
  onModuleDestroy(): void {
    this.redis.off('ready', this.onReady);
  }

  private limiter(bucket: string, seconds: number): RateLimiterRedis {
    let limiter = this.limiters.get(bucket);
    if (!limiter) {
      limiter = new this.limiterClass({
        keyPrefix: `${this.keyPrefix}${bucket}`,
        points: Number.MAX_SAFE_INTEGER,
        duration: seconds,
        storeClient: this.redis,
        rejectIfRedisNotReady: true,
      });
      this.limiters.set(bucket, limiter);
    }
    return limiter;
  }

  private notReady(reason: string): ApiKeyConfigurationError {
    return new ApiKeyConfigurationError(
      `rate limit store (${redisName(this.redis)}) is not usable at startup: ${reason}. ` +
        'Check that Redis runs there and that the client is configured for it (raise redisReadyTimeoutMs ' +
        'for a slow start)',
    );
  }

  private call<T>(operation: Promise<T>): Promise<T> {
    return this.timeout.race(operation);
  }

  private async checkSentinel(): Promise<void> {
    let value: string;
    try {
      value = String(await this.call(this.redis.eval(SENTINEL_SCRIPT, 1, this.sentinelKey, randomUUID())));
    } catch {
      return; // the connection failed again: the next 'ready' looks again, and the request path reports the failure
    }
    if (this.sentinel !== undefined && value !== this.sentinel) {
      this.logger.warn(
        `Rate limit counters were lost: on reconnecting, the key "${this.sentinelKey}" was gone from Redis ` +
          '(a restart without persistence, a failover to an empty replica, a flush or an eviction). Every budget ' +
          'restarts: keys may spend their rate limits and quotas again in the current window and period. ' +
          'Configure Redis persistence (appendonly yes) to keep the counters across restarts.',
      );
    }
    this.sentinel = value;
  }
}

/** Which Redis the client connects to, for a message: `Redis at host:port` (or its socket path), `Redis Cluster`. */
function redisName(redis: Redis | Cluster): string {
  if ((redis as Cluster).isCluster) return 'Redis Cluster';
  const { host, port, path } = (redis as Redis).options;
  return `Redis at ${path || `${host}:${port}`}`;
}

function stateOf(res: RateLimiterRes): CounterState {
  return { consumed: res.consumedPoints, msBeforeNext: Math.max(0, res.msBeforeNext) };
}
