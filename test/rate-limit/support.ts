import { Controller, Get, UseGuards, type INestApplication, type ModuleMetadata } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import request from 'supertest';
import { ApiKeyGuard, ApiKeyModule, RequireScopes, type StaticApiKey } from 'nestjs-api-key';
import { ApiKeyRateLimitModule, RateLimit, RateLimitCost, SkipRateLimit, type ApiKeyRateLimitOptions } from 'nestjs-api-key/rate-limit';
import { startApp, type Platform } from '../support/platforms.js';

/** Keys on different plans (never real keys). */
export const FREE: StaticApiKey = { name: 'free-key', key: 'rl-free-key-000000000001', scopes: ['orders:read'], metadata: { plan: 'free' } };
export const PRO: StaticApiKey = { name: 'pro-key', key: 'rl-pro-key-0000000000002', scopes: ['orders:read'], metadata: { plan: 'pro' } };
export const OTHER: StaticApiKey = { name: 'other-key', key: 'rl-other-key-00000000003', scopes: ['orders:read'], metadata: { plan: 'free' } };
export const PLAIN: StaticApiKey = { name: 'plain-key', key: 'rl-plain-key-00000000004', scopes: [] };
export const OWN: StaticApiKey = { name: 'own-key', key: 'rl-own-key-0000000000005', metadata: { rateLimit: { limit: { points: 4, duration: 60 } } } };
export const RL_KEYS = [FREE, PRO, OTHER, PLAIN, OWN];
/** A key of valid shape that no store knows. */
export const UNKNOWN_KEY = 'rl-unknown-key-000000099';

/** Routes covering every rate-limit decorator. */
@Controller('rl')
@UseGuards(ApiKeyGuard)
export class RateLimitedController {
  @Get()
  ok() {
    return { ok: true };
  }

  @Get('expensive')
  @RateLimitCost(3)
  expensive() {
    return { expensive: true };
  }

  @Get('override')
  @RateLimit({ points: 2, duration: 60, name: 'override' })
  override() {
    return { override: true };
  }

  @Get('exempt')
  @SkipRateLimit()
  exempt() {
    return { exempt: true };
  }

  @Get('scoped')
  @RequireScopes('orders:write')
  scoped() {
    return { scoped: true };
  }
}

/** A Redis key prefix unique to one suite, under this area's `rl_test:` namespace. */
export function uniquePrefix(): string {
  return `rl_test:${randomUUID().slice(0, 8)}:`;
}

/** A connected client of the shared test Redis (127.0.0.1:6379). */
export async function connectRedis(): Promise<Redis> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  return redis;
}

/** Deletes every key under `prefix`. */
export async function cleanRedis(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts an app with the test keys, the controller above and the given rate-limit options. */
export function startRateLimitedApp(platform: Platform, options: ApiKeyRateLimitOptions, extra: ModuleMetadata = {}): Promise<INestApplication> {
  return startApp(
    {
      imports: [ApiKeyModule.forRoot({ keys: RL_KEYS, isGlobal: true }), ApiKeyRateLimitModule.forRoot(options), ...(extra.imports ?? [])],
      controllers: [RateLimitedController, ...(extra.controllers ?? [])],
      providers: extra.providers ?? [],
    },
    platform,
  );
}

/** Sends `count` concurrent GETs with `key` and returns their statuses. */
export async function burst(app: INestApplication, path: string, key: string, count: number): Promise<number[]> {
  const server = app.getHttpServer();
  const responses = await Promise.all(Array.from({ length: count }, () => request(server).get(path).set('X-API-Key', key)));
  return responses.map((res) => res.status);
}

/** How many of `statuses` equal `status`. */
export function count(statuses: readonly number[], status: number): number {
  return statuses.filter((s) => s === status).length;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP proxy to the test Redis that can stop forwarding, so commands hang as on a stalled link. */
export async function stallableRedisProxy(): Promise<{ port: number; stall: () => void; close: () => Promise<void> }> {
  let stalled = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(6379, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (data) => stalled || upstream.write(data));
    upstream.on('data', (data) => stalled || client.write(data));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stall: () => {
      stalled = true;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
