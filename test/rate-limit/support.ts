import {
  Controller,
  Get,
  UseGuards,
  type INestApplication,
  type LoggerService,
  type ModuleMetadata,
} from '@nestjs/common';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import request from 'supertest';
import { ApiKeyGuard, ApiKeyModule, RequireScopes, type StaticApiKey } from 'nestjs-api-key';
import {
  ApiKeyRateLimitModule,
  RateLimit,
  RateLimitCost,
  SkipRateLimit,
  type ApiKeyRateLimitOptions,
} from 'nestjs-api-key/rate-limit';
import { startApp, type Platform } from '../support/platforms.js';

/** Keys on different plans (never real keys). */
export const FREE: StaticApiKey = {
  name: 'free-key',
  key: 'rl-free-key-000000000001',
  scopes: ['orders:read'],
  metadata: { plan: 'free' },
};
export const PRO: StaticApiKey = {
  name: 'pro-key',
  key: 'rl-pro-key-0000000000002',
  scopes: ['orders:read'],
  metadata: { plan: 'pro' },
};
export const OTHER: StaticApiKey = {
  name: 'other-key',
  key: 'rl-other-key-00000000003',
  scopes: ['orders:read'],
  metadata: { plan: 'free' },
};
export const PLAIN: StaticApiKey = { name: 'plain-key', key: 'rl-plain-key-00000000004', scopes: [] };
export const OWN: StaticApiKey = {
  name: 'own-key',
  key: 'rl-own-key-0000000000005',
  metadata: { rateLimit: { limit: { points: 4, durationMs: 60_000 } } },
};
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
  @RateLimit({ points: 2, durationMs: 60_000, name: 'override' })
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

/** Starts an app with the test keys, the controller above and the given rate-limit options (logging to `logger`). */
export function startRateLimitedApp(
  platform: Platform,
  options: ApiKeyRateLimitOptions,
  extra: ModuleMetadata = {},
  logger: LoggerService | false = false,
): Promise<INestApplication> {
  return startApp(
    {
      imports: [
        ApiKeyModule.forRoot({ keys: RL_KEYS, isGlobal: true }),
        ApiKeyRateLimitModule.forRoot(options),
        ...(extra.imports ?? []),
      ],
      controllers: [RateLimitedController, ...(extra.controllers ?? [])],
      providers: extra.providers ?? [],
    },
    platform,
    logger,
  );
}

/** Sends `count` concurrent GETs with `key` and returns their statuses. */
export async function burst(app: INestApplication, path: string, key: string, count: number): Promise<number[]> {
  const server = app.getHttpServer();
  const responses = await Promise.all(
    Array.from({ length: count }, () => request(server).get(path).set('X-API-Key', key)),
  );
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

/** A redis-server of the test's own, as a child process: it can be killed with SIGKILL and started again. */
export interface PrivateRedis {
  readonly port: number;
  /** Kills the server with SIGKILL (a crash: nothing is saved on the way out). */
  crash(): Promise<void>;
  /** Starts the server again on the same port and data directory. */
  restart(): Promise<void>;
  /** Kills the server and removes its data directory. */
  stop(): Promise<void>;
}

/**
 * Starts a redis-server on a free port with no snapshots, and with the append-only file (every
 * write synced before its reply) when `appendOnly`, else nothing on disk.
 */
export async function startPrivateRedis(appendOnly: boolean): Promise<PrivateRedis> {
  const port = await closedPort();
  const dir = await mkdtemp(join(tmpdir(), 'rl-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push(...(appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
  let child = await spawnRedis(args);
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  return {
    port,
    crash: kill,
    restart: async () => {
      child = await spawnRedis(args);
    },
    stop: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Spawns redis-server and resolves once it accepts connections (its data loaded). */
function spawnRedis(args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve(child);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      reject(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${output}`));
    });
  });
}

/** Resolves when `condition()` holds, checking every 20 ms; rejects with `what` after `ms`. */
export async function eventually(condition: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}
