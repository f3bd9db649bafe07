import type { Cluster, Redis } from 'ioredis';
import { RateLimiterRedis, type RateLimiterRes } from 'rate-limiter-flexible';
import { FixedTimeout } from '../fixed-timeout.js';
import type { CounterState, RateLimitCounters } from './rate-limit.counters.js';

/**
 * Counters in Redis on rate-limiter-flexible, atomic across instances (a Lua script per call),
 * one limiter per bucket. Every call fails (rejects) after `timeoutMs`, and at once while Redis
 * is not connected.
 */
export class RedisCounters implements RateLimitCounters {
  private readonly limiters = new Map<string, RateLimiterRedis>();
  private readonly timeout: FixedTimeout;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keyPrefix: string,
    timeoutMs: number,
  ) {
    this.timeout = new FixedTimeout(timeoutMs, () => new Error(`rate limit store timed out after ${timeoutMs} ms`));
  }

  async add(bucket: string, duration: number, key: string, points: number): Promise<CounterState> {
    return stateOf(await this.call(this.limiter(bucket, duration).consume(key, points, { customDuration: duration })));
  }

  async read(bucket: string, duration: number, key: string): Promise<CounterState | null> {
    const res = await this.call(this.limiter(bucket, duration).get(key));
    return res ? stateOf(res) : null;
  }

  async refund(bucket: string, duration: number, key: string, points: number): Promise<void> {
    await this.call(this.limiter(bucket, duration).reward(key, points));
  }

  private limiter(bucket: string, duration: number): RateLimiterRedis {
    let limiter = this.limiters.get(bucket);
    if (!limiter) {
      limiter = new RateLimiterRedis({
        keyPrefix: `${this.keyPrefix}${bucket}`,
        points: Number.MAX_SAFE_INTEGER,
        duration,
        storeClient: this.redis,
        rejectIfRedisNotReady: true,
      });
      this.limiters.set(bucket, limiter);
    }
    return limiter;
  }

  private call<T>(operation: Promise<T>): Promise<T> {
    return this.timeout.race(operation);
  }
}

function stateOf(res: RateLimiterRes): CounterState {
  return { consumed: res.consumedPoints, msBeforeNext: Math.max(0, res.msBeforeNext) };
}
