import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, type INestApplication } from '@nestjs/common';
import { Redis } from 'ioredis';
import request from 'supertest';
import { RateLimitCounters, type ApiKeyRateLimitOptions } from 'nestjs-api-key/rate-limit';
import { platforms } from '../support/platforms.js';
import {
  burst,
  cleanRedis,
  closedPort,
  connectRedis,
  count,
  FREE,
  stallableRedisProxy,
  startRateLimitedApp,
  uniquePrefix,
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

const limit = { points: 10, duration: 60 };

/** An application provider that injects the module's counters, as a health indicator does. */
@Injectable()
class CountersHealth {
  constructor(readonly counters: RateLimitCounters) {}
}

describe.each(platforms)('Redis-backed limits on $name', (platform) => {
  const apps: INestApplication[] = [];
  const clients: Redis[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    for (const client of clients.splice(0)) client.disconnect();
  });

  /** A client that never reaches a server: it keeps reconnecting, never ready. */
  function unreachableClient(port: number): Redis {
    const client = new Redis({
      host: '127.0.0.1',
      port,
      retryStrategy: () => 50,
      maxRetriesPerRequest: 1,
      disconnectTimeout: 10,
    });
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  }

  it('makes two app instances share one budget', async () => {
    const keyPrefix = `${prefix}${platform.name}:shared:`;
    const second = await connectRedis();
    clients.push(second);
    const a = await startRateLimitedApp(platform, { limit, redis, keyPrefix, timeoutMs: 2000 });
    const b = await startRateLimitedApp(platform, { limit, redis: second, keyPrefix, timeoutMs: 2000 });
    apps.push(a, b);
    const [fromA, fromB] = await Promise.all([burst(a, '/rl', FREE.key, 30), burst(b, '/rl', FREE.key, 30)]);
    // Which instance admits which requests depends on scheduling; the total does not (alone, each would admit 10).
    const statuses = [...fromA, ...fromB];
    expect([count(statuses, 200), count(statuses, 429)]).toEqual([10, 50]);
  });

  it('answers 503 (fail closed) when Redis is unreachable, by default', async () => {
    const app = await startRateLimitedApp(platform, {
      limit,
      redis: unreachableClient(await closedPort()),
      keyPrefix: prefix,
    });
    apps.push(app);
    const res = await request(app.getHttpServer()).get('/rl').set('X-API-Key', FREE.key).expect(503);
    expect(res.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'API_KEY_RATE_LIMIT_UNAVAILABLE',
      message: 'Rate limiting is temporarily unavailable',
    });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['ratelimit']).toBeUndefined();
  });

  it('answers 503 within timeoutMs when the connection to Redis stalls', async () => {
    const proxy = await stallableRedisProxy();
    try {
      const client = new Redis({ host: '127.0.0.1', port: proxy.port, lazyConnect: true, maxRetriesPerRequest: null });
      client.on('error', () => undefined);
      clients.push(client);
      await client.connect(); // ready through the proxy
      const app = await startRateLimitedApp(platform, { limit, redis: client, keyPrefix: prefix, timeoutMs: 1000 });
      apps.push(app);
      await request(app.getHttpServer()).get('/rl').set('X-API-Key', FREE.key).expect(200);
      proxy.stall();
      const res = await request(app.getHttpServer()).get('/rl').set('X-API-Key', FREE.key).timeout(5000);
      expect([res.status, res.body.code, client.status]).toEqual([503, 'API_KEY_RATE_LIMIT_UNAVAILABLE', 'ready']);
    } finally {
      await proxy.close();
    }
  });

  it("lets requests through unlimited, without RateLimit headers, when whenUnavailable is 'allow'", async () => {
    const app = await startRateLimitedApp(platform, {
      limit,
      redis: unreachableClient(await closedPort()),
      keyPrefix: prefix,
      whenUnavailable: 'allow',
    });
    apps.push(app);
    const statuses = await burst(app, '/rl', FREE.key, 15);
    expect(count(statuses, 200)).toBe(15);
    const res = await request(app.getHttpServer()).get('/rl').set('X-API-Key', FREE.key).expect(200);
    expect(res.headers['ratelimit']).toBeUndefined();
  });

  describe('checkHealth of the counters (RateLimitCounters, exported for health indicators)', () => {
    async function healthOf(options: Partial<ApiKeyRateLimitOptions>): Promise<RateLimitCounters> {
      const app = await startRateLimitedApp(
        platform,
        { limit, keyPrefix: prefix, ...options },
        {
          providers: [CountersHealth],
        },
      );
      apps.push(app);
      return app.get(CountersHealth).counters;
    }

    it('resolves when Redis answers PING, and in memory', async () => {
      await expect((await healthOf({ redis })).checkHealth()).resolves.toBeUndefined();
      await expect((await healthOf({})).checkHealth()).resolves.toBeUndefined();
    });

    it('rejects at once while the client is not connected', async () => {
      const counters = await healthOf({ redis: unreachableClient(await closedPort()) });
      const notReady = /^rate limit store \(Redis\) is not ready: client status "(connecting|reconnecting)"$/;
      await expect(counters.checkHealth()).rejects.toThrow(notReady);
    });

    it('rejects within timeoutMs when the connection stalls', async () => {
      const proxy = await stallableRedisProxy();
      try {
        const client = new Redis({
          host: '127.0.0.1',
          port: proxy.port,
          lazyConnect: true,
          maxRetriesPerRequest: null,
        });
        client.on('error', () => undefined);
        clients.push(client);
        await client.connect();
        const counters = await healthOf({ redis: client, timeoutMs: 300 });
        await counters.checkHealth();
        proxy.stall();
        await expect(counters.checkHealth()).rejects.toThrow(
          'rate limit store (Redis) did not answer PING: rate limit store timed out after 300 ms',
        );
      } finally {
        await proxy.close();
      }
    });
  });
});
