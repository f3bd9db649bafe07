import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import request from 'supertest';
import { ApiKeyLifecycleError, ApiKeyModule, ApiKeyService } from 'nestjs-api-key';
import { SqliteApiKeyStore } from 'nestjs-api-key/sqlite';
import { tempDir } from '../support/databases.js';
import { freezableExt4, smallTmpfs } from '../support/filesystems.js';
import { platforms, startApp } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';

/** A route no guard protects: it must keep answering whatever the store is doing. */
@Controller('open')
class OpenController {
  @Get()
  open() {
    return { open: true };
  }
}

const platform = platforms[0];
const dir = tempDir();
const apps: INestApplication[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});
afterAll(() => dir.remove());

async function appOn(database: string, options: { timeoutMs?: number; cache?: boolean } = {}) {
  const store = new SqliteApiKeyStore({ database, migrate: true, timeoutMs: options.timeoutMs });
  const app = await startApp(
    {
      imports: [ApiKeyModule.forRoot({ repository: store, cache: options.cache ?? false, lookupTimeoutMs: 1000 })],
      controllers: [OrdersController, OpenController],
    },
    platform,
  );
  apps.push(app);
  return { app, store, service: app.get(ApiKeyService) };
}

/** An enabled event-loop delay histogram that has taken its first samples (a stall before them would go unseen). */
async function eventLoopDelay(): Promise<IntervalHistogram> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  await new Promise((resolve) => setTimeout(resolve, 100));
  return histogram;
}

const whoami = (app: INestApplication, key: string) =>
  request(app.getHttpServer()).get('/orders/whoami').set('X-API-Key', key);

/** `resolved`, or the code of the lifecycle error `promise` rejects with (the error's name for any other error). */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof ApiKeyLifecycleError ? error.code : (error as Error).name;
  }
}

describe('SQLite store on a full filesystem', () => {
  let fs: ReturnType<typeof smallTmpfs>;
  beforeAll(() => {
    fs = smallTmpfs(1024);
  });
  afterAll(() => fs.remove());

  it('never reports a write that did not happen: revoke, disable, update and rotate reject with store_failed, the key is unchanged', async () => {
    const { app, service } = await appOn(join(fs.path, 'keys.db'));
    const issued = await service.create({ name: 'full', scopes: ['orders:read'] });
    await whoami(app, issued.key).expect(200);

    fs.fill();
    try {
      const attempts = {
        revoke: await outcome(service.revoke(issued.apiKey.id)),
        disable: await outcome(service.disable(issued.apiKey.id)),
        update: await outcome(service.update(issued.apiKey.id, { name: 'renamed' })),
        rotate: await outcome(service.rotate(issued.apiKey.id, { gracePeriodMs: 0 })),
        create: await outcome(service.create({ name: 'another' })),
      };
      expect(attempts).toEqual({
        revoke: 'store_failed',
        disable: 'store_failed',
        update: 'store_failed',
        rotate: 'store_failed',
        create: 'store_failed',
      });
      const key = await service.get(issued.apiKey.id);
      expect(key).toMatchObject({ name: 'full', revokedAt: null, disabled: false, version: issued.apiKey.version });
      await whoami(app, issued.key).expect(200);
    } finally {
      fs.free();
    }

    // With room again, the revocation happens, and the key is refused.
    const revoked = await service.revoke(issued.apiKey.id);
    expect(revoked.revokedAt).not.toBeNull();
    await whoami(app, issued.key).expect(401);
  });
});

describe('SQLite store while another process holds the write lock', () => {
  /** A second process (as the CLI would be) that takes the database's write lock and keeps it for `ms`. */
  async function holdWriteLock(database: string, ms: number): Promise<ChildProcess> {
    const script = `
      const Database = require('better-sqlite3');
      const db = new Database(process.argv[1]);
      db.exec('BEGIN IMMEDIATE');
      console.log('locked');
      setTimeout(() => { db.exec('COMMIT'); db.close(); }, Number(process.argv[2]));`;
    const holder = spawn(process.execPath, ['-e', script, database, String(ms)], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [data] = (await once(holder.stdout!, 'data')) as [Buffer];
    expect(data.toString()).toContain('locked');
    return holder;
  }

  it('keeps the event loop free for 7 s of lock: open routes and key checks answer, a write waiting past its timeout fails with store_failed', async () => {
    const database = join(dir.path, 'locked.db');
    const { app, service } = await appOn(database, { cache: true });
    const cached = await service.create({ name: 'cached' });
    const uncached = await service.create({ name: 'uncached' });
    await whoami(app, cached.key).expect(200);

    const holder = await holdWriteLock(database, 7000);
    const exited = once(holder, 'exit');
    const delay = await eventLoopDelay();
    const write = outcome(service.revoke(uncached.apiKey.id));
    const answered: number[] = [];
    let lockHeld = true;
    void exited.then(() => (lockHeld = false));
    while (lockHeld) {
      const [open, hit, miss] = await Promise.all([
        request(app.getHttpServer()).get('/open'),
        whoami(app, cached.key),
        whoami(app, uncached.key),
      ]);
      answered.push(open.status, hit.status, miss.status);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    delay.disable();
    const longestStallMs = delay.max / 1e6;
    console.info(
      `SQLite write lock held 7 s: longest event-loop stall ${longestStallMs.toFixed(1)} ms over ${answered.length} requests`,
    );

    // The revocation waited 5 s (the default timeoutMs) for a lock held 7 s: it failed, and said so.
    expect(await write).toBe('store_failed');
    // Readers are not blocked by a writer (WAL): every request was answered, and the key still works.
    expect(new Set(answered)).toEqual(new Set([200]));
    // Before, the store waited for the lock on the event loop: a stall as long as the busy timeout (5 s).
    expect(longestStallMs).toBeLessThan(1000);
    await whoami(app, uncached.key).expect(200);
    // Once the lock is free, writes go through again.
    await service.revoke(uncached.apiKey.id);
    await whoami(app, uncached.key).expect(401);
  }, 30_000);
});

describe('SQLite store on a disk that stops answering (fsfreeze)', () => {
  let disk: ReturnType<typeof freezableExt4>;
  beforeAll(() => {
    disk = freezableExt4();
  });
  afterAll(() => disk.remove());

  it('fails writes with store_failed after timeoutMs while other requests are answered; works again once the disk answers', async () => {
    const { app, service } = await appOn(join(disk.path, 'keys.db'), { timeoutMs: 1000, cache: true });
    const issued = await service.create({ name: 'frozen' });
    await whoami(app, issued.key).expect(200);

    disk.freeze();
    let revoked: string;
    try {
      const delay = await eventLoopDelay();
      const write = outcome(service.revoke(issued.apiKey.id));
      const open: number[] = [];
      const keyed: number[] = [];
      for (let i = 0; i < 20; i++) {
        const [plain, key] = await Promise.all([request(app.getHttpServer()).get('/open'), whoami(app, issued.key)]);
        open.push(plain.status);
        keyed.push(key.status);
      }
      revoked = await write;
      delay.disable();
      // Routes without a key answer; a key is admitted from the cache, or refused with 503 once a
      // lookup must reach the frozen disk (never a hang, never a 2xx it could not check).
      expect(new Set(open)).toEqual(new Set([200]));
      expect([...new Set(keyed)].every((status) => status === 200 || status === 503)).toBe(true);
      expect(delay.max / 1e6).toBeLessThan(1000);
    } finally {
      await disk.thaw();
    }
    // The write was reported failed; whether it was applied once the disk answered is unknown to
    // its caller, as store_failed says: the service reads the key afresh either way.
    expect(revoked).toBe('store_failed');
    const key = await service.get(issued.apiKey.id);
    await whoami(app, issued.key).expect(key.revokedAt === null ? 200 : 401);
    await service.revoke(issued.apiKey.id);
    await whoami(app, issued.key).expect(401);
  }, 30_000);

  it('closes while a write waits on the frozen disk: close() resolves and the waiting write rejects', async () => {
    const store = new SqliteApiKeyStore({ database: join(disk.path, 'closing.db'), migrate: true, timeoutMs: 500 });
    await store.init();
    disk.freeze();
    try {
      const write = store.touch(new Map([['any', new Date()]]));
      const refused = expect(write).rejects.toThrow(/not open|did not answer/);
      await store.close();
      await refused;
    } finally {
      await disk.thaw();
    }
  }, 30_000);
});

describe('SQLite file deleted or replaced while the app runs', () => {
  it.each([
    ['deleted', (path: string) => rmSync(path)],
    ['replaced', (path: string) => (writeFileSync(`${path}.new`, ''), renameSync(`${path}.new`, path))],
  ])('fails closed when the file is %s: lookups answer 503, writes fail with store_failed', async (_, fault) => {
    const database = join(dir.path, `gone-${Date.now()}.db`);
    const { app, service, store } = await appOn(database);
    const issued = await service.create({ name: 'gone' });
    await whoami(app, issued.key).expect(200);

    fault(database);
    await whoami(app, issued.key).expect(503);
    expect(await outcome(service.create({ name: 'lost' }))).toBe('store_failed');
    // A revocation reads the key first: that read already fails.
    expect(await outcome(service.revoke(issued.apiKey.id))).toBe('SqliteStoreError');
    await expect(store.checkHealth()).rejects.toThrow(/deleted or replaced/);
  });
});

describe('SQLite store from the built package', () => {
  const built = (format: 'esm' | 'cjs') => join(process.cwd(), 'dist', format, 'sqlite', 'index.js');

  it.each(['esm', 'cjs'] as const)(
    'opens a store through %s from another directory, and a process that never closes it still exits',
    async (format) => {
      const database = join(dir.path, `built-${format}.db`);
      const load =
        format === 'esm'
          ? `await import(${JSON.stringify(built(format))})`
          : `require(${JSON.stringify(built(format))})`;
      const script = `(async () => {
        const { createSqliteApiKeyStore } = ${load};
        const store = await createSqliteApiKeyStore({ database: ${JSON.stringify(database)}, migrate: true });
        console.log(JSON.stringify(await store.list()));
      })();`;
      const child = spawn(process.execPath, ['-e', script], { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      // Bounded only so that a hang fails the test instead of the run.
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
      clearTimeout(killer);
      expect({ code, signal, output: output.trim() }).toEqual({ code: 0, signal: null, output: '[]' });
    },
    30_000,
  );
});
