import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import request from 'supertest';
import { ApiKeyGuard } from 'nestjs-api-key';
import { platforms, type Platform } from '../support/platforms.js';
import { burst, count, FREE, OWN, PLAIN, PRO, startRateLimitedApp, UNKNOWN_KEY } from './support.js';

const plans = {
  free: { limit: { points: 10, durationMs: 60_000 } },
  pro: { limit: { points: 20, durationMs: 60_000 } },
};

describe.each(platforms)('rate-limit policies and headers on $name', (platform) => {
  describe('per-key limits (global guard plus @UseGuards on the controller)', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await startRateLimitedApp(
        platform,
        { limit: { points: 5, durationMs: 60_000 }, plans },
        { providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }] },
      );
    });
    afterAll(() => app.close());
    const get = (path: string, key: string) => request(app.getHttpServer()).get(path).set('X-API-Key', key);

    it('describes the applied policy on admitted responses, counting a doubly guarded request once', async () => {
      const res = await get('/rl', FREE.key).expect(200);
      expect(res.headers['ratelimit-policy']).toBe('"free";q=10;w=60');
      expect(res.headers['ratelimit']).toMatch(/^"free";r=9;t=(59|60)$/);
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('refuses with 429, Retry-After, the exhausted policy and a stable body', async () => {
      await burst(app, '/rl', FREE.key, 9);
      const res = await get('/rl', FREE.key).expect(429);
      const t = Number(/^"free";r=0;t=(\d+)$/.exec(res.headers['ratelimit'] as string)?.[1]);
      expect(t).toBeGreaterThanOrEqual(1); // the window's remainder, however long the tests before took
      expect(t).toBeLessThanOrEqual(60);
      expect(res.headers['retry-after']).toBe(String(t));
      expect(res.headers['ratelimit-policy']).toBe('"free";q=10;w=60');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({
        statusCode: 429,
        error: 'Too Many Requests',
        code: 'API_KEY_RATE_LIMITED',
        message: 'Rate limit exceeded',
        policy: 'free',
        retryAfter: t,
      });
    });

    it('charges @RateLimitCost points', async () => {
      expect((await get('/rl/expensive', PRO.key).expect(200)).headers['ratelimit']).toMatch(/^"pro";r=17;/);
      expect((await get('/rl', PRO.key).expect(200)).headers['ratelimit']).toMatch(/^"pro";r=16;/);
    });

    it("gives a @RateLimit route its own budget, apart from the key's plan", async () => {
      const override = await burst(app, '/rl/override', PLAIN.key, 5);
      expect(count(override, 200)).toBe(2);
      const res = await get('/rl/override', PLAIN.key).expect(429);
      expect(res.headers['ratelimit-policy']).toBe('"override";q=2;w=60');
      expect((await get('/rl', PLAIN.key).expect(200)).headers['ratelimit']).toMatch(/^"default";r=4;/);
    });

    it('exempts @SkipRateLimit routes, even for an exhausted key, and sends no RateLimit headers there', async () => {
      const statuses = await burst(app, '/rl/exempt', FREE.key, 20);
      expect(count(statuses, 200)).toBe(20);
      expect((await get('/rl/exempt', FREE.key)).headers['ratelimit']).toBeUndefined();
    });

    it('applies a key\'s own rateLimit metadata under the policy name "key"', async () => {
      expect((await get('/rl', OWN.key).expect(200)).headers['ratelimit-policy']).toBe('"key";q=4;w=60');
    });
  });

  describe('quotas', () => {
    let app: INestApplication;
    let now = new Date('2026-11-27T23:59:00.000Z');
    beforeAll(async () => {
      app = await startRateLimitedApp(platform, {
        limit: { points: 5, durationMs: 60_000 },
        plans: { metered: { limit: { points: 100, durationMs: 60_000 }, quota: { points: 3, period: 'day' } } },
        planOf: (principal) => (principal.id === FREE.name ? 'metered' : undefined),
        clock: () => now,
      });
    });
    afterAll(() => app.close());
    const get = () => request(app.getHttpServer()).get('/rl').set('X-API-Key', FREE.key);

    it('lists the rate limit and the quota together on admitted responses', async () => {
      const res = await get().expect(200);
      expect(res.headers['ratelimit-policy']).toBe('"metered";q=100;w=60, "metered-quota";q=3;w=86400');
      expect(res.headers['ratelimit']).toMatch(/^"metered";r=99;t=\d+, "metered-quota";r=2;t=60$/);
    });

    it('refuses past the quota until the period ends, without charging the rate limit', async () => {
      await get().expect(200);
      await get().expect(200);
      const refused = await get().expect(429);
      expect([refused.body.policy, refused.headers['retry-after'], refused.headers['ratelimit']]).toEqual([
        'metered-quota',
        '60',
        '"metered-quota";r=0;t=60',
      ]);
      now = new Date('2026-11-28T00:00:01.000Z');
      const next = await get().expect(200);
      expect(next.headers['ratelimit']).toMatch(/^"metered";r=96;t=\d+, "metered-quota";r=2;t=86399$/); // 4 admitted, the refused one refunded
    });
  });

  describe('windows longer than a timer can wait (2^31 ms, about 24.8 days)', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await startRateLimitedApp(platform, {
        limit: { points: 2, durationMs: 30 * 86_400_000 },
        plans: { metered: { limit: false, quota: { points: 2, period: 'month' } } },
        planOf: (principal) => (principal.id === PRO.name ? 'metered' : undefined),
        clock: () => new Date('2026-11-01T00:00:00.000Z'), // a whole month (30 days) ahead
      });
    });
    afterAll(() => app.close());
    const get = (key: string) => request(app.getHttpServer()).get('/rl').set('X-API-Key', key);
    const later = () => new Promise((resolve) => setTimeout(resolve, 20));

    it("keeps counting a 30-day limit and a month's quota past the first milliseconds", async () => {
      for (const key of [FREE.key, PRO.key]) {
        await get(key).expect(200);
        await later();
        await get(key).expect(200);
        await later();
        const refused = await get(key).expect(429);
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(29 * 86_400);
      }
    });
  });

  describe('invalid keys per client address (default budget: 20 a minute)', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await startRateLimitedApp(platform, { limit: { points: 50, durationMs: 60_000 } });
    });
    afterAll(() => app.close());
    const get = (key?: string) => {
      const req = request(app.getHttpServer()).get('/rl');
      return key === undefined ? req : req.set('X-API-Key', key);
    };

    it('answers 429 to invalid keys past the budget, and still admits a valid key from the address', async () => {
      expect(count(await burst(app, '/rl', PLAIN.key, 10), 200)).toBe(10); // valid keys are not counted
      const invalid = await burst(app, '/rl', UNKNOWN_KEY, 25);
      expect([count(invalid, 401), count(invalid, 429)]).toEqual([20, 5]);
      const admitted = await get(PLAIN.key).expect(200);
      expect(admitted.headers['ratelimit-policy']).toBe('"default";q=50;w=60');
      await get().expect(401); // no key: not a guess
      const refused = await get(UNKNOWN_KEY).expect(429);
      expect([refused.body.policy, refused.headers['ratelimit-policy']]).toEqual(['address', '"address";q=20;w=60']);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      await get('not a key at all').expect(429); // malformed: refused the same way
      await get(FREE.key).expect(200);
    });
  });

  describe.each([
    { trusted: false, platform: platform as Platform },
    { trusted: true, platform: trustingProxy(platform) },
  ])('X-Forwarded-For with trusted proxy: $trusted', ({ trusted, platform: trustingPlatform }) => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await startRateLimitedApp(trustingPlatform, {
        limit: false,
        perAddress: { points: 2, durationMs: 60_000 },
      });
    });
    afterAll(() => app.close());
    const guess = (forwardedFor: string) =>
      request(app.getHttpServer()).get('/rl').set('X-API-Key', UNKNOWN_KEY).set('X-Forwarded-For', forwardedFor);

    it(
      trusted ? 'gives each forwarded client its own count' : 'ignores the header: every forwarded client is the proxy',
      async () => {
        await guess('203.0.113.1').expect(401);
        await guess('203.0.113.1').expect(401);
        await guess('203.0.113.1').expect(429);
        await guess('203.0.113.2').expect(trusted ? 401 : 429);
      },
    );
  });
});

/** The platform with its trust-proxy setting on for the loopback proxy. */
function trustingProxy(platform: Platform): Platform {
  return {
    name: platform.name,
    createAdapter: () => {
      if (platform.name === 'fastify') return new FastifyAdapter({ trustProxy: '127.0.0.1' });
      const adapter = new ExpressAdapter();
      adapter.set('trust proxy', 'loopback');
      return adapter;
    },
  } as Platform;
}
