import { describe, expect, it } from '@jest/globals';
import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import type { ApiKeyRateLimitOptions } from './rate-limit-options.interface.js';
import { ResolvedRateLimitOptions } from './rate-limit-options.js';
import { RateLimit, RateLimitCost } from './rate-limit.decorator.js';

const resolve = (options: unknown) => new ResolvedRateLimitOptions(options as ApiKeyRateLimitOptions);

describe('ResolvedRateLimitOptions', () => {
  it('applies defaults: per-address limit on, reject when the store fails, memory store, headers on', () => {
    const options = resolve({ limit: { points: 5, duration: 60 } });
    expect(options.defaultPlan).toEqual({ name: 'default', limit: { points: 5, duration: 60 }, quota: null });
    expect([options.perAddress, options.whenUnavailable, options.redis, options.headers, options.timeoutMs]).toEqual([
      { points: 20, duration: 60 },
      'reject',
      null,
      true,
      500,
    ]);
  });

  it("fills a plan's omitted fields from the module's and honours false", () => {
    const options = resolve({
      limit: { points: 5, duration: 60 },
      quota: { points: 100, period: 'month' },
      plans: { pro: { limit: { points: 50, duration: 60 } }, internal: { limit: false, quota: false } },
    });
    expect(options.plans.get('pro')).toEqual({
      name: 'pro',
      limit: { points: 50, duration: 60 },
      quota: { points: 100, period: 'month' },
    });
    expect(options.plans.get('internal')).toEqual({ name: 'internal', limit: null, quota: null });
  });

  it.each([
    [undefined, 'must be an object'],
    [{}, '"limit" is required'],
    [{ limit: { points: 0, duration: 60 } }, 'limit.points must be a positive integer'],
    [{ limit: { points: 5, duration: 1.5 } }, 'limit.duration must be a positive integer'],
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

  it('reads a plan from key metadata, or reports it unusable', () => {
    const fallback = resolve({ limit: { points: 5, duration: 60 } }).defaultPlan;
    expect(ResolvedRateLimitOptions.keyPlan({ limit: { points: 9, duration: 10 } }, fallback)).toEqual({
      name: 'key',
      limit: { points: 9, duration: 10 },
      quota: null,
    });
    expect(ResolvedRateLimitOptions.keyPlan({ limit: { points: -1, duration: 10 } }, fallback)).toBeNull();
    expect(ResolvedRateLimitOptions.keyPlan('pro', fallback)).toBeNull();
  });
});

describe('rate-limit decorators', () => {
  it('refuse invalid arguments when the class is defined', () => {
    expect(() => RateLimit({ points: 0, duration: 60 })).toThrow(TypeError);
    expect(() => RateLimit({ points: 1, duration: 60, name: 'a"b' })).toThrow(TypeError);
    expect(() => RateLimitCost(0)).toThrow(TypeError);
  });
});
