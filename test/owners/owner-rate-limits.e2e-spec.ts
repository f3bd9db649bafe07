import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { ApiKeyConfigurationError, ApiKeyModule, ApiKeyService } from 'nestjs-api-key';
import { ApiKeyRateLimitModule, type ApiKeyRateLimitOptions } from 'nestjs-api-key/rate-limit';
import { platforms, startApp } from '../support/platforms.js';
import { cleanRedis, connectRedis, RateLimitedController, uniquePrefix } from '../rate-limit/support.js';

const prefix = uniquePrefix();
let redis: Redis;
beforeAll(async () => {
  redis = await connectRedis();
});
afterAll(async () => {
  await cleanRedis(redis, prefix);
  redis.disconnect();
});

const options = (): ApiKeyRateLimitOptions => ({
  limit: { points: 100, durationMs: 60_000 },
  redis,
  redisKeyPrefix: prefix,
  plans: {
    business: { limit: { points: 6, durationMs: 60_000 }, countBy: 'owner' },
    metered: { limit: false, quota: { points: 5, period: 'day' }, countBy: 'owner' },
    perKey: { limit: { points: 3, durationMs: 60_000 } },
  },
});

describe.each(platforms)('rate limits counted per owner on Redis on $name', (platform) => {
  let app: INestApplication;
  let service: ApiKeyService;
  beforeAll(async () => {
    app = await startApp(
      {
        imports: [ApiKeyModule.forRoot({ isGlobal: true }), ApiKeyRateLimitModule.forRoot(options())],
        controllers: [RateLimitedController],
      },
      platform,
    );
    service = app.get(ApiKeyService);
  });
  afterAll(() => app?.close());

  const owner = (label: string) => `${platform.name}-${label}`;
  const key = async (plan: string, ownerId: string | null) =>
    (await service.create({ name: plan, ownerId, metadata: { plan } })).key;
  const call = (key: string, path = '/rl') => request(app.getHttpServer()).get(path).set('X-API-Key', key);
  async function statuses(keys: readonly string[], path?: string): Promise<number[]> {
    const result: number[] = [];
    for (const presented of keys) result.push((await call(presented, path)).status);
    return result;
  }

  it('shares one rate limit among all the keys of an owner when the plan counts by owner', async () => {
    const [first, second] = [await key('business', owner('acme')), await key('business', owner('acme'))];
    const other = await key('business', owner('globex'));
    expect(await statuses([first, second, first, second, first, second])).toEqual([200, 200, 200, 200, 200, 200]);
    const refused = await call(first).expect(429);
    expect(refused.headers['ratelimit']).toMatch(/^"business";r=0;t=\d+$/);
    await call(second).expect(429);
    // A new key of the same owner does not bring a new budget.
    await call(await key('business', owner('acme'))).expect(429);
    // Another owner, and a key without an owner (counted on its own), are not affected.
    expect(await statuses([other, other])).toEqual([200, 200]);
    const ownerless = await key('business', null);
    expect(await statuses(Array(6).fill(ownerless))).toEqual(Array(6).fill(200));
    await call(ownerless).expect(429);
  });

  it('shares one quota among the owner’s keys', async () => {
    const keys = [await key('metered', owner('initech')), await key('metered', owner('initech'))];
    expect(await statuses([...keys, ...keys, keys[0]!])).toEqual([200, 200, 200, 200, 200]);
    expect((await call(keys[1]!).expect(429)).headers['ratelimit']).toMatch(/^"metered-quota";r=0;t=\d+$/);
  });

  it('shares a route’s own limit too, and keeps counting per key on a plan that does not say otherwise', async () => {
    const [first, second] = [await key('business', owner('hooli')), await key('business', owner('hooli'))];
    expect(await statuses([first, second, first], '/rl/override')).toEqual([200, 200, 429]);
    const [a, b] = [await key('perKey', owner('umbrella')), await key('perKey', owner('umbrella'))];
    expect(await statuses([a, a, a, b, b, b])).toEqual([200, 200, 200, 200, 200, 200]);
    expect(await statuses([a, b])).toEqual([429, 429]);
  });
});

describe('countBy validation', () => {
  it('refuses a value other than "key" or "owner" at bootstrap', async () => {
    const error = await startApp(
      {
        imports: [
          ApiKeyModule.forRoot({ isGlobal: true }),
          ApiKeyRateLimitModule.forRoot({ limit: false, plans: { x: { countBy: 'team' as never } } }),
        ],
      },
      platforms[0],
    ).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ApiKeyConfigurationError);
    expect((error as Error).message).toMatch(/"plans\.x\.countBy" must be "key" or "owner"/);
  });
});
