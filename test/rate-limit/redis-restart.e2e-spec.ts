import { afterEach, describe, expect, it } from '@jest/globals';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { Redis } from 'ioredis';
import request from 'supertest';
import { platforms } from '../support/platforms.js';
import { burst, count, eventually, PLAIN, startPrivateRedis, startRateLimitedApp } from './support.js';
import type { PrivateRedis } from './support.js';

/** Keeps every warning the application logs. */
class CapturingLogger implements LoggerService {
  readonly warnings: string[] = [];
  log(): void {}
  error(): void {}
  warn(message: unknown): void {
    this.warnings.push(String(message));
  }
}

const lost = (warning: string) => warning.startsWith('Rate limit counters were lost');
const limit = { points: 3, durationMs: 600_000 };
const host = '127.0.0.1';
const redisKeyPrefix = 'rl_test:restart:';

describe.each(platforms)('Redis counters across a Redis restart on $name', (platform) => {
  let server: PrivateRedis | undefined;
  let client: Redis | undefined;
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    client?.disconnect();
    await server?.stop();
    [app, client, server] = [undefined, undefined, undefined];
  });

  /** A private Redis, a client that reconnects every 100 ms, and an app counting there that logs to `logger`. */
  async function start(appendOnly: boolean, logger: LoggerService): Promise<INestApplication> {
    server = await startPrivateRedis(appendOnly);
    client = new Redis({ host, port: server.port, lazyConnect: true, retryStrategy: () => 100 });
    client.on('error', () => undefined);
    await client.connect();
    app = await startRateLimitedApp(platform, {
      limit,
      perAddress: false,
      redis: client,
      redisKeyPrefix,
      timeoutMs: 2000,
    });
    app.useLogger(logger);
    return app;
  }

  it("starts without Redis when whenUnavailable is 'allow', unlimited with a warning, and counts once Redis is up", async () => {
    const logger = new CapturingLogger();
    server = await startPrivateRedis(false);
    await server.crash(); // nothing listens on its port until the restart below
    client = new Redis({ host, port: server.port, retryStrategy: () => 100, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    const options = { limit, perAddress: false, redis: client, redisKeyPrefix, redisReadyTimeoutMs: 300 } as const;
    app = await startRateLimitedApp(platform, { ...options, whenUnavailable: 'allow' }, {}, logger);
    expect(logger.warnings).toEqual([
      expect.stringMatching(
        new RegExp(
          `^nestjs-api-key: rate limit store \\(Redis at 127\\.0\\.0\\.1:${server.port}\\) is not usable at startup: ` +
            "it was not ready within 300 ms.*Starting without rate limits \\(whenUnavailable: 'allow'\\)",
          's',
        ),
      ),
    ]);
    expect(count(await burst(app, '/rl', PLAIN.key, 5), 200)).toBe(5);
    const ready = new Promise((resolve) => client!.once('ready', resolve));
    await server.restart();
    await ready;
    expect(count(await burst(app, '/rl', PLAIN.key, 5), 200)).toBe(3);
  });

  it('warns that the counters were lost when Redis restarts without persistence (and budgets do restart)', async () => {
    const logger = new CapturingLogger();
    const app = await start(false, logger);
    expect(count(await burst(app, '/rl', PLAIN.key, 5), 200)).toBe(3);
    await server!.crash();
    await server!.restart();
    await eventually(() => logger.warnings.some(lost), 'the counters-lost warning');
    expect(logger.warnings.filter(lost)).toHaveLength(1);
    expect(logger.warnings.find(lost)).toMatch(/budget restarts.*appendonly yes/s);
    expect(count(await burst(app, '/rl', PLAIN.key, 5), 200)).toBe(3); // what the warning says: a second budget
  });

  it('keeps the spent budget, and warns of nothing, when Redis restarts with appendonly yes', async () => {
    const logger = new CapturingLogger();
    const app = await start(true, logger);
    expect(count(await burst(app, '/rl', PLAIN.key, 5), 200)).toBe(3);
    const ready = new Promise((resolve) => client!.once('ready', resolve));
    await server!.crash();
    await server!.restart();
    await ready;
    // The counters' own 'ready' listener was added first: its look at the sentinel was sent, and is
    // answered, before this request's commands on the same connection.
    const res = await request(app.getHttpServer()).get('/rl').set('X-API-Key', PLAIN.key).expect(429);
    expect(res.body.policy).toBe('default');
    expect(logger.warnings.filter(lost)).toEqual([]);
  });

  it("stops watching the application's client when the app closes", async () => {
    server = await startPrivateRedis(false);
    client = new Redis({ host, port: server.port, lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    const before = client.listenerCount('ready');
    const closed = await startRateLimitedApp(platform, { limit, redis: client, redisKeyPrefix });
    expect(client.listenerCount('ready')).toBe(before + 1);
    await closed.close();
    expect(client.listenerCount('ready')).toBe(before);
  });
});
