import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, type INestApplication } from '@nestjs/common';
import { Redis } from 'ioredis';
import request from 'supertest';
import { ApiKeyConfigurationError } from 'nestjs-api-key';
import { RateLimitCounters, type ApiKeyRateLimitOptions } from 'nestjs-api-key/rate-limit';
import { platforms } from '../support/platforms.js';
import {
  burst,
  cleanRedis,
  closedPort,
  connectRedis,
  count,
  eventually,
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

const limit = { points: 10, durationMs: 60_000 };

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
    const client = new Redis({ host: '127.0.0.1', port, retryStrategy: () => 50, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  }

  /**
   * A client connected to the test Redis through a proxy, and `cut()`, which closes the proxy for
   * good and resolves once the client has noticed (it keeps reconnecting, never ready again).
   */
  async function clientLosingRedis(): Promise<{ client: Redis; cut: () => Promise<void> }> {
    const proxy = await stallableRedisProxy();
    const client = new Redis({ host: '127.0.0.1', port: proxy.port, retryStrategy: () => 50, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    clients.push(client);
    return {
      client,
      cut: async () => {
        await proxy.close();
        await eventually(() => client.status !== 'ready', 'the client to notice the lost connection');
      },
    };
  }

  it('counts the first request with a client created just before the app (new Redis(url))', async () => {
    const client = new Redis('redis://127.0.0.1:6379');
    clients.push(client);
    const app = await startRateLimitedApp(platform, { limit, redis: client, redisKeyPrefix: prefix });
    apps.push(app);
    const res = await request(app.getHttpServer()).get('/rl').set('X-API-Key', FREE.key).expect(200);
    expect(res.headers['ratelimit-policy']).toBe('"default";q=10;w=60');
  });

  it('connects a lazyConnect client that was never told to connect', async () => {
    const client = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    clients.push(client);
    const app = await startRateLimitedApp(platform, { limit, redis: client, redisKeyPrefix: prefix });
    apps.push(app);
    await request(app.getHttpServer()).get('/rl').set('X-API-Key', FREE.key).expect(200);
  });

  it('fails to start, naming Redis and its address, when Redis cannot be reached within redisReadyTimeoutMs', async () => {
    const port = await closedPort();
    const started = startRateLimitedApp(platform, {
      limit,
      redis: unreachableClient(port),
      redisReadyTimeoutMs: 300,
    });
    await expect(started).rejects.toThrow(ApiKeyConfigurationError);
    await expect(started).rejects.toThrow(
      `nestjs-api-key: rate limit store (Redis at 127.0.0.1:${port}) is not usable at startup: ` +
        `it was not ready within 300 ms; last error: connect ECONNREFUSED 127.0.0.1:${port}. ` +
        'Check that Redis runs there and that the client is configured for it (raise redisReadyTimeoutMs ' +
        'for a slow start)',
    );
  });

  it('fails to start at once with a client that was closed', async () => {
    const client = await connectRedis();
    client.disconnect();
    await eventually(() => client.status === 'end', 'the client to close');
    await expect(startRateLimitedApp(platform, { limit, redis: client })).rejects.toThrow(
      'rate limit store (Redis at 127.0.0.1:6379) is not usable at startup: the client is closed',
    );
  });

  it('makes two app instances share one budget', async () => {
    const redisKeyPrefix = `${prefix}${platform.name}:shared:`;
    const second = await connectRedis();
    clients.push(second);
    const a = await startRateLimitedApp(platform, { limit, redis, redisKeyPrefix, timeoutMs: 2000 });
    const b = await startRateLimitedApp(platform, { limit, redis: second, redisKeyPrefix, timeoutMs: 2000 });
    apps.push(a, b);
    const [fromA, fromB] = await Promise.all([burst(a, '/rl', FREE.key, 30), burst(b, '/rl', FREE.key, 30)]);
    // Which instance admits which requests depends on scheduling; the total does not (alone, each would admit 10).
    const statuses = [...fromA, ...fromB];
    expect([count(statuses, 200), count(statuses, 429)]).toEqual([10, 50]);
  });

  it('answers 503 (fail closed) when Redis becomes unreachable, by default', async () => {
    const { client, cut } = await clientLosingRedis();
    const app = await startRateLimitedApp(platform, { limit, redis: client, redisKeyPrefix: prefix });
    apps.push(app);
    await cut();
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
      const app = await startRateLimitedApp(platform, {
        limit,
        redis: client,
        redisKeyPrefix: prefix,
        timeoutMs: 1000,
      });
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
    const { client, cut } = await clientLosingRedis();
    const app = await startRateLimitedApp(platform, {
      limit,
      redis: client,
      redisKeyPrefix: prefix,
      whenUnavailable: 'allow',
    });
    apps.push(app);
    await cut();
    const statuses = await burst(app, '/rl', FREE.key, 15);
    expect(count(statuses, 200)).toBe(15);
    const res = await request(app.getHttpServer()).get('/rl').set('X-API-Key', FREE.key).expect(200);
    expect(res.headers['ratelimit']).toBeUndefined();
  });

  describe('checkHealth of the counters (RateLimitCounters, exported for health indicators)', () => {
    async function healthOf(options: Partial<ApiKeyRateLimitOptions>): Promise<RateLimitCounters> {
      const app = await startRateLimitedApp(
        platform,
        { limit, redisKeyPrefix: prefix, ...options },
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
      const { client, cut } = await clientLosingRedis();
      const counters = await healthOf({ redis: client });
      await cut();
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
