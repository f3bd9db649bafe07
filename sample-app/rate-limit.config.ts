import { Logger } from '@nestjs/common';
import { registerAs } from '@nestjs/config';
import type { Redis } from 'ioredis';
import type { ApiKeyRateLimitOptions } from 'nestjs-api-key/rate-limit';

/**
 * Rate limits per plan: a key's plan is its metadata's `plan` (see api-key.config.ts). Keys
 * without a plan get the default. Counters live in memory unless `REDIS_URL` is set, then in
 * Redis, shared by every instance of the app.
 */
export const rateLimitConfig = registerAs('rateLimit', (): ApiKeyRateLimitOptions => ({
  limit: { points: 30, durationMs: 60_000 },
  plans: {
    free: { limit: { points: 60, durationMs: 60_000 }, quota: { points: 1000, period: 'day' } },
    pro: { limit: { points: 100, durationMs: 60_000 }, quota: { points: 100_000, period: 'month' } },
  },
  perAddress: { points: 20, durationMs: 60_000 },
}));

/**
 * An ioredis client for `REDIS_URL`, or `undefined` to count in memory. ioredis is imported
 * only when needed: an app that does not use Redis need not install it. The rate-limit module
 * waits for the client to connect at startup (up to `redisReadyTimeoutMs`).
 */
export async function redisFromEnvironment(url = process.env.REDIS_URL): Promise<Redis | undefined> {
  if (!url) return undefined;
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  // While Redis is down the rate limiter answers 503 and ioredis reconnects; log, don't crash.
  redis.on('error', (error: Error) => new Logger('Redis').warn(error.message));
  return redis;
}
