import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import request from 'supertest';
import type { ApiKeyRateLimitOptions } from 'nestjs-api-key/rate-limit';
import { platforms } from '../support/platforms.js';
import {
  burst,
  cleanRedis,
  connectRedis,
  count,
  FREE,
  OTHER,
  PLAIN,
  PRO,
  sleep,
  startRateLimitedApp,
  uniquePrefix,
  UNKNOWN_KEY,
} from './support.js';

const prefix = uniquePrefix();
let redis: Redis;
beforeAll(async () => {
  redis = await connectRedis();
});
afterAll(async () => {
  await cleanRedis(redis, prefix);
  redis.disconnect();
});

const stores = [
  { name: 'memory', options: (): Partial<ApiKeyRateLimitOptions> => ({}) },
  {
    name: 'redis',
    options: (): Partial<ApiKeyRateLimitOptions> => ({ redis, redisKeyPrefix: prefix + randomPart(), timeoutMs: 2000 }),
  },
];

function randomPart(): string {
  return `${Math.random().toString(36).slice(2, 8)}:`;
}

describe.each(platforms)('per-key budgets on $name', (platform) => {
  describe.each(stores)('with the $name store', (store) => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await startRateLimitedApp(platform, {
        limit: { points: 5, durationMs: 60_000 },
        plans: {
          free: { limit: { points: 10, durationMs: 60_000 } },
          pro: { limit: { points: 20, durationMs: 60_000 } },
        },
        perAddress: { points: 1000, durationMs: 60_000 },
        ...store.options(),
      });
    });
    afterAll(() => app.close());

    it('admits exactly `limit` of `limit + 50` concurrent requests for one key, and refuses the rest with 429 and Retry-After', async () => {
      const statuses = await burst(app, '/rl', FREE.key, 60);
      expect([count(statuses, 200), count(statuses, 429)]).toEqual([10, 50]);
      const refused = await request(app.getHttpServer()).get('/rl').set('X-API-Key', FREE.key).expect(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(refused.body).toMatchObject({ statusCode: 429, code: 'API_KEY_RATE_LIMITED', policy: 'free' });
    });

    it("gives each key its own budget, sized by the key's plan", async () => {
      const other = await burst(app, '/rl', OTHER.key, 60); // same plan as FREE, exhausted above
      const pro = await burst(app, '/rl', PRO.key, 70);
      expect([count(other, 200), count(pro, 200)]).toEqual([10, 20]);
    });

    it("never charges invalid keys or refused scopes to a key's budget", async () => {
      const invalid = await burst(app, '/rl', UNKNOWN_KEY, 30);
      const forbidden = await burst(app, '/rl/scoped', PLAIN.key, 10);
      expect([count(invalid, 401), count(forbidden, 403)]).toEqual([30, 10]);
      const statuses = await burst(app, '/rl', PLAIN.key, 55); // default plan: 5
      expect(count(statuses, 200)).toBe(5);
    });
  });

  describe.each(stores)('window rollover with the $name store', (store) => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await startRateLimitedApp(platform, { limit: { points: 3, durationMs: 1_000 }, ...store.options() });
    });
    afterAll(() => app.close());

    it('restores the budget when the window ends', async () => {
      const get = () => request(app.getHttpServer()).get('/rl').set('X-API-Key', PLAIN.key);
      // Requests until one is refused: how many fit in a 1 s window depends on the machine's speed.
      let refused = await get();
      for (let sent = 1; refused.status === 200 && sent < 50; sent++) refused = await get();
      expect(refused.status).toBe(429);
      await sleep(Number(refused.headers['retry-after']) * 1000 + 50);
      const res = await get().expect(200);
      expect(res.headers['ratelimit']).toMatch(/^"default";r=2;t=1$/); // a new window: its budget less this request
    });
  });
});
