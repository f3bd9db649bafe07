import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';
import type { ResolvedRateLimitOptions } from './rate-limit-options.js';

/** A counter's state after an operation. */
export interface CounterState {
  /** Points consumed in the current window, this request's included. */
  readonly consumed: number;
  /** Milliseconds until the window ends and the counter restarts. */
  readonly msBeforeNext: number;
}

/**
 * Windowed counters on rate-limiter-flexible (Redis, atomic across instances, or memory), one
 * limiter per bucket and window length. The limiters count without a ceiling; the caller
 * compares the count with its own limit, so a key whose limit changes keeps its count.
 * With Redis, every call fails (rejects) after `timeoutMs`, and at once while Redis is not connected.
 */
export class RateLimitCounters {
  private readonly limiters = new Map<string, RateLimiterAbstract>();

  constructor(private readonly options: ResolvedRateLimitOptions) {}

  /** Adds `points` to `key`'s counter in `bucket`; a new counter lives `duration` seconds. */
  async add(bucket: string, duration: number, key: string, points: number): Promise<CounterState> {
    return stateOf(await this.call(this.limiter(bucket, duration).consume(key, points, { customDuration: duration })));
  }

  /** The counter's state, or `null` when it does not exist (nothing counted in the window). */
  async read(bucket: string, duration: number, key: string): Promise<CounterState | null> {
    const res = await this.call(this.limiter(bucket, duration).get(key));
    return res ? stateOf(res) : null;
  }

  /** Takes `points` back from `key`'s counter (a request another limit refused). */
  async refund(bucket: string, duration: number, key: string, points: number): Promise<void> {
    await this.call(this.limiter(bucket, duration).reward(key, points));
  }

  private limiter(bucket: string, duration: number): RateLimiterAbstract {
    let limiter = this.limiters.get(bucket);
    if (!limiter) {
      const settings = { keyPrefix: `${this.options.keyPrefix}${bucket}`, points: Number.MAX_SAFE_INTEGER, duration };
      const redis = this.options.redis;
      limiter = redis ? new RateLimiterRedis({ ...settings, storeClient: redis, rejectIfRedisNotReady: true }) : new RateLimiterMemory(settings);
      this.limiters.set(bucket, limiter);
    }
    return limiter;
  }

  private async call<T>(operation: Promise<T>): Promise<T> {
    if (!this.options.redis) return operation; // memory answers at once: no timer needed
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`rate limit store timed out after ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
    });
    try {
      return await Promise.race([operation, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function stateOf(res: RateLimiterRes): CounterState {
  return { consumed: res.consumedPoints, msBeforeNext: Math.max(0, res.msBeforeNext) };
}
