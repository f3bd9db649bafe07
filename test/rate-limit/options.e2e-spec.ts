import { describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { ApiKeyConfigurationError, ApiKeyModule } from 'nestjs-api-key';
import { ApiKeyRateLimitModule, RateLimit, type ApiKeyRateLimitOptions } from 'nestjs-api-key/rate-limit';
import { RL_KEYS } from './support.js';

/** Compiles an application with the core module and the rate-limit module given `options`; resolves to the error. */
async function bootstrapError(options: unknown, async = false): Promise<unknown> {
  const rateLimit = async
    ? ApiKeyRateLimitModule.forRootAsync({ useFactory: () => options as ApiKeyRateLimitOptions })
    : ApiKeyRateLimitModule.forRoot(options as ApiKeyRateLimitOptions);
  return Test.createTestingModule({ imports: [ApiKeyModule.forRoot({ keys: RL_KEYS, isGlobal: true }), rateLimit] })
    .compile()
    .then(() => undefined)
    .catch((error: unknown) => error);
}

const limit = { points: 10, durationMs: 60_000 };

describe('rate-limit options at bootstrap', () => {
  it.each([
    [{ limit, redisKeyPrefx: 'app:' }, 'unknown option "redisKeyPrefx": did you mean "redisKeyPrefix"?'],
    [{ limit: { points: 10, duration: 60 } }, 'unknown option "limit.duration": did you mean "durationMs"?'],
    [{ limit, perAddress: { points: 5, durationMs: 60_000, ttl: 60 } }, 'unknown option "perAddress.ttl"'],
    [{ limit, plans: { pro: { quota: { points: 5, periode: 'day' } } } }, '"plans.pro.quota.periode": did you mean'],
    [{ limit: { points: 10, durationMs: 90_500 } }, 'limit.durationMs must be a whole number of seconds'],
  ])(
    'refuses %j with ApiKeyConfigurationError, from forRoot and from a forRootAsync factory',
    async (options, message) => {
      for (const async of [false, true]) {
        const error = await bootstrapError(options, async);
        expect(error).toBeInstanceOf(ApiKeyConfigurationError);
        expect((error as Error).message).toContain(message);
      }
    },
  );

  it('names the rate limiter\'s Redis key prefix "redisKeyPrefix", apart from the core\'s keyPrefix', async () => {
    const error = await bootstrapError({ limit, keyPrefix: 'app:' });
    expect((error as Error).message).toMatch(
      /^nestjs-api-key: unknown option "keyPrefix": known options: .*redisKeyPrefix/,
    );
  });

  it('refuses an unknown @RateLimit() argument when the class is defined', () => {
    expect(() => RateLimit({ points: 1, duration: 60 } as never)).toThrow(
      'nestjs-api-key: unknown option "@RateLimit().duration": did you mean "durationMs"?',
    );
  });
});
