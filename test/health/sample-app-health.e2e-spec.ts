import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import pg from 'pg';
import request from 'supertest';
import { ApiKeyHasher } from 'nestjs-api-key';
import { DEMO_KEYS } from '../../sample-app/api-key.config.js';
import { POSTGRES_URL, dropSchema, uniqueSchema } from '../support/databases.js';
import { startSampleApp } from '../support/sample-app.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

const STORE = 'api-key-store';
const FEED = 'api-key-change-feed';
const RATE_LIMIT = 'api-key-rate-limit';
const ALL_UP = { [STORE]: { status: 'up' }, [FEED]: { status: 'up' }, [RATE_LIMIT]: { status: 'up' } };

/** A TCP port on 127.0.0.1 that was free a moment ago (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts a private, non-persistent redis-server on `port`; resolves once it accepts connections. */
async function startRedis(port: number): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    });
  });
  child.removeAllListeners('exit');
  return child;
}

/** Kills a redis-server started by {@link startRedis} and waits for it to be gone. */
async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/**
 * The sample app on PostgreSQL through a proxy the test controls, and on a private Redis for its
 * rate limits: `/health` follows the faults the test causes, part by part.
 */
describe('the sample app /health on PostgreSQL and Redis', () => {
  const schema = uniqueSchema();
  const applicationName = `health_test_${process.pid}`;
  const saved = { DATABASE_URL: process.env.DATABASE_URL, REDIS_URL: process.env.REDIS_URL };
  let proxy: TcpProxy;
  let redisPort: number;
  let redis: ChildProcess;
  let app: INestApplication;

  /** GET /health (public: no key), answered. */
  const health = () => request(app.getHttpServer()).get('/health');

  /** Polls /health until `accept` holds for an answer (generous deadline: recovery uses backoff). */
  async function healthUntil(accept: (res: request.Response) => boolean, what: string, deadlineMs = 20_000) {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const res = await health();
      if (accept(res)) return res;
      if (Date.now() > deadline) throw new Error(`/health never reported ${what}; last: ${res.status} ${res.text}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const allUp = (res: request.Response) => res.status === 200;

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA "${schema}"`).finally(() => admin.end());
    const target = new URL(POSTGRES_URL);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(POSTGRES_URL);
    viaProxy.port = String(proxy.port);
    viaProxy.searchParams.set('options', `-c search_path=${schema}`);
    viaProxy.searchParams.set('application_name', applicationName);
    redisPort = await freePort();
    redis = await startRedis(redisPort);
    process.env.DATABASE_URL = viaProxy.toString();
    process.env.REDIS_URL = `redis://127.0.0.1:${redisPort}`;
    app = await startSampleApp('express');
  });

  afterAll(async () => {
    await app?.close();
    await proxy?.close();
    if (redis) await stopRedis(redis);
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await dropSchema(schema);
  });

  it('is up (200) with every part up, without a key, and its answer holds no key or hash', async () => {
    await request(app.getHttpServer()).get('/me').set('X-API-Key', DEMO_KEYS.DEMO_READER_KEY).expect(200);
    const res = await healthUntil(allUp, 'every part up');
    expect(res.body.status).toBe('ok');
    expect(res.body.info).toEqual(ALL_UP);
    const hasher = app.get(ApiKeyHasher);
    for (const key of Object.values(DEMO_KEYS)) {
      expect(res.text).not.toContain(key);
      expect(res.text).not.toContain(hasher.hash(key));
    }
  });

  it('reports the change feed down while its listener is disconnected, the store still up', async () => {
    await healthUntil(allUp, 'every part up');
    // Open connections keep forwarding; the listener's, cut on the server, cannot come back.
    proxy.refuse();
    try {
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      const listener = `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                        WHERE application_name = $1 AND query ILIKE 'LISTEN%'`;
      const { rows } = await admin.query(listener, [applicationName]).finally(() => admin.end());
      expect(rows).toHaveLength(1);
      const res = await healthUntil((r) => r.body?.error?.[FEED] !== undefined, 'the change feed down');
      expect(res.status).toBe(503);
      expect(res.body.error[FEED]).toEqual({ status: 'down', message: 'not listening for changes: reconnecting' });
      expect(res.body.info[STORE]).toEqual({ status: 'up' });
    } finally {
      proxy.restore();
    }
    await healthUntil(allUp, 'every part up again');
  });

  it('reports the store down (503) while the link to PostgreSQL is cut, and up again once it is restored', async () => {
    await healthUntil(allUp, 'every part up');
    proxy.cut();
    try {
      const res = await health().expect(503);
      expect(res.body.status).toBe('error');
      expect(res.body.error[STORE]).toMatchObject({ status: 'down' });
      expect(res.body.error[STORE].message).toMatch(/^PostgreSQL did not answer a health check/);
      expect(res.body.info[RATE_LIMIT]).toEqual({ status: 'up' });
      await healthUntil((r) => r.body?.error?.[FEED] !== undefined, 'the change feed down');
    } finally {
      proxy.restore();
    }
    const res = await healthUntil(allUp, 'every part up again');
    expect(res.body.info).toEqual(ALL_UP);
  });

  it('reports the rate-limit store down (503) when Redis is killed, and up again when it is back', async () => {
    await healthUntil(allUp, 'every part up');
    await stopRedis(redis);
    const res = await healthUntil((r) => r.body?.error?.[RATE_LIMIT] !== undefined, 'the rate-limit store down');
    expect(res.status).toBe(503);
    expect(res.body.error[RATE_LIMIT]).toMatchObject({ status: 'down' });
    expect(res.body.error[RATE_LIMIT].message).toMatch(/Redis/);
    expect(res.body.info[STORE]).toEqual({ status: 'up' });
    redis = await startRedis(redisPort);
    await healthUntil(allUp, 'every part up again');
  });
});
