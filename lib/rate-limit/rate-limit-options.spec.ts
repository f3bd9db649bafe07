import { describe, expect, it } from '@jest/globals';
import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import type { ApiKeyRateLimitOptions } from './rate-limit-options.interface.js';
import { ResolvedRateLimitOptions } from './rate-limit-options.js';
import { RateLimit, RateLimitCost } from './rate-limit.decorator.js';

const resolve = (options: unknown) => new ResolvedRateLimitOptions(options as ApiKeyRateLimitOptions);

describe('ResolvedRateLimitOptions', () => {
  it('applies defaults: per-address limit on, reject when the store fails, memory store, headers on', () => {
    const options = resolve({ limit: { points: 5, durationMs: 60_000 } });
    expect(options.defaultPlan).toEqual({
      name: 'default',
      limit: { points: 5, durationMs: 60_000 },
      quota: null,
      countBy: 'key',
    });
    expect([
      options.perAddress,
      options.whenUnavailable,
      options.redis,
      options.headers,
      options.timeoutMs,
      options.redisKeyPrefix,
      options.redisReadyTimeoutMs,
    ]).toEqual([{ points: 20, durationMs: 60_000 }, 'reject', null, true, 500, 'api-key-rate-limit:', 10_000]);
  });

  it("fills a plan's omitted fields from the module's and honours false", () => {
    const options = resolve({
      limit: { points: 5, durationMs: 60_000 },
      quota: { points: 100, period: 'month' },
      countBy: 'owner',
      plans: {
        pro: { limit: { points: 50, durationMs: 60_000 } },
        internal: { limit: false, quota: false, countBy: 'key' },
      },
    });
    expect(options.plans.get('pro')).toEqual({
      name: 'pro',
      limit: { points: 50, durationMs: 60_000 },
      quota: { points: 100, period: 'month' },
      countBy: 'owner',
    });
    expect(options.plans.get('internal')).toEqual({ name: 'internal', limit: null, quota: null, countBy: 'key' });
  });

  it.each([
    [undefined, 'must be an object'],
    [{}, '"limit" is required'],
    [{ limit: { points: 0, durationMs: 60_000 } }, 'limit.points must be a positive integer'],
    [{ limit: { points: 5, durationMs: 1.5 } }, 'limit.durationMs must be a positive integer'],
    [
      { limit: { points: 5, durationMs: 1500 } },
      'limit.durationMs must be a whole number of seconds (a multiple of 1000), got 1500',
    ],
    [{ limit: false, redisKeyPrefix: '' }, '"redisKeyPrefix" must be a non-empty string'],
    [{ limit: false, redisReadyTimeoutMs: -1 }, 'redisReadyTimeoutMs must be a positive integer'],
    [
      { limit: false, quota: { points: 5, period: 'week' } },
      "quota must be { points, period: 'hour' | 'day' | 'month' }",
    ],
    [{ limit: false, plans: { 'bad name': {} } }, 'a plan name must match'],
    [{ limit: false, redis: 'redis://localhost' }, '"redis" must be an ioredis client'],
    [{ limit: false, whenUnavailable: 'open' }, '"whenUnavailable" must be "reject" or "allow"'],
    [{ limit: false, planOf: 'plan' }, '"planOf" must be a function'],
    [{ limit: false, timeoutMs: 0 }, 'timeoutMs must be a positive integer'],
    [{ limit: false, headers: 'false' }, '"headers" must be a boolean'],
    [{ limit: false, timeoutMs: 2 ** 31 }, 'timeoutMs must be at most 2147483647 ms'],
  ])('refuses %j at bootstrap', (options, message) => {
    expect(() => resolve(options)).toThrow(ApiKeyConfigurationError);
    expect(() => resolve(options)).toThrow(message);
  });

  it.each([
    [{ limit: false, keyPrefix: 'x' }, 'unknown option "keyPrefix": known options: limit, quota, plans'],
    [{ limt: false }, 'unknown option "limt": did you mean "limit"?'],
    [{ limit: { points: 5, duration: 60 } }, 'unknown option "limit.duration": did you mean "durationMs"?'],
    [{ limit: false, perAddress: { points: 5, durationMs: 60_000, ttl: 1 } }, 'unknown option "perAddress.ttl"'],
    [{ limit: false, quota: { points: 5, period: 'day', perod: 'day' } }, 'unknown option "quota.perod": did you'],
    [{ limit: false, plans: { pro: { limits: false } } }, 'unknown option "plans.pro.limits": did you mean "limit"?'],
    [
      { limit: false, plans: { pro: { limit: { points: 1, durationMs: 1000, name: 'x' } } } },
      'unknown option "plans.pro.limit.name"',
    ],
  ])('refuses the unknown option name in %j', (options, message) => {
    expect(() => resolve(options)).toThrow(ApiKeyConfigurationError);
    expect(() => resolve(options)).toThrow(message);
  });

  it('reads a plan from key metadata, or reports it unusable', () => {
    const fallback = resolve({ limit: { points: 5, durationMs: 60_000 } }).defaultPlan;
    expect(ResolvedRateLimitOptions.keyPlan({ limit: { points: 9, durationMs: 10_000 } }, fallback)).toEqual({
      name: 'key',
      limit: { points: 9, durationMs: 10_000 },
      quota: null,
      countBy: 'key',
    });
    expect(ResolvedRateLimitOptions.keyPlan({ limit: { points: -1, durationMs: 10_000 } }, fallback)).toBeNull();
    expect(ResolvedRateLimitOptions.keyPlan('pro', fallback)).toBeNull();
  });
});

describe('rate-limit decorators', () => {
  it('refuse invalid arguments when the class is defined', () => {
    expect(() => RateLimit({ points: 0, durationMs: 60_000 })).toThrow(
      '@RateLimit().points must be a positive integer',
    );
    expect(() => RateLimit({ points: 1, durationMs: 60_000, name: 'a"b' })).toThrow('@RateLimit() name must match');
    expect(() => RateLimit({ points: 1, durationMs: 500 })).toThrow('@RateLimit().durationMs must be a whole number');
    expect(() => RateLimit({ points: 1, duration: 60 } as never)).toThrow(
      'unknown option "@RateLimit().duration": did you mean "durationMs"?',
    );
    expect(() => RateLimitCost(0)).toThrow(ApiKeyConfigurationError);
  });
});
