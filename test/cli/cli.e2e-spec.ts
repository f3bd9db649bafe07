import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import request from 'supertest';
import { ApiKeyModule, InMemoryApiKeyRepository } from 'nestjs-api-key';
import { runCli } from 'nestjs-api-key/cli';
import { POSTGRES_URL, dropSchema, tempDir, uniqueSchema } from '../support/databases.js';
import { platforms, startApp } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin['nestjs-api-key']);
const PEPPER = 'cli-e2e-pepper-000000001';
const sqliteDir = tempDir();
afterAll(() => sqliteDir.remove());

/** Creates an empty schema for the CLI's PostgreSQL store to migrate into. */
async function createSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  await client.query(`CREATE SCHEMA "${schema}"`).finally(() => client.end());
}

/** Runs the built executable (the package's `bin`) in a real child process. */
function exec(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

describe('the nestjs-api-key executable', () => {
  it('creates a key from DATABASE_URL and API_KEY_PEPPER and prints it once, as JSON', async () => {
    const result = await exec(['create', '--name', 'ci', '--scope', 'orders:read', '--json'], { DATABASE_URL: 'memory:', API_KEY_PEPPER: PEPPER, API_KEY_PREFIX: 'acme_test' });
    expect([result.code, result.stderr]).toEqual([0, '']);
    const { key, apiKey } = JSON.parse(result.stdout);
    expect(key).toMatch(/^acme_test_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$/);
    expect(apiKey).toMatchObject({ name: 'ci', scopes: ['orders:read'], revokedAt: null });
  });

  it('exits 2 on a bad command line and 1 on a failed operation, with the reason on stderr', async () => {
    const usage = await exec(['rotate'], { DATABASE_URL: 'memory:' });
    expect([usage.code, usage.stdout, usage.stderr]).toEqual([2, '', 'error: rotate needs a key id\nRun "nestjs-api-key --help" for usage.\n']);
    const missing = await exec(['show', 'nope', '--database', 'memory:']);
    expect([missing.code, missing.stderr]).toEqual([1, 'error: no key with id "nope"\n']);
    expect((await exec(['--help'])).code).toBe(0);
  });
});

describe.each(platforms)('keys managed by the CLI, used over HTTP on $name', (platform) => {
  const store = new InMemoryApiKeyRepository();
  const out: string[] = [];
  const cli = (...argv: string[]) => runCli(argv, { store, env: { API_KEY_PEPPER: PEPPER }, stdout: (t) => void out.push(t), stderr: () => undefined });
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp({ imports: [ApiKeyModule.forRoot({ pepper: PEPPER, repository: store })], controllers: [OrdersController] }, platform);
  });
  afterAll(() => app.close());

  it('authenticates a key the CLI created, and refuses it once the CLI rotated it with grace 0', async () => {
    expect(await cli('create', '--name', 'from-cli', '--scope', 'orders:read', '--json')).toBe(0);
    const { key, apiKey } = JSON.parse(out.pop()!);
    await request(app.getHttpServer()).get('/orders').set('X-API-Key', key).expect(200);
    expect(await cli('rotate', apiKey.id, '--grace', '0', '--json')).toBe(0);
    const rotated = JSON.parse(out.pop()!);
    await request(app.getHttpServer()).get('/orders').set('X-API-Key', key).expect(401);
    await request(app.getHttpServer()).get('/orders').set('X-API-Key', rotated.key).expect(200);
    expect(await cli('disable', apiKey.id)).toBe(0);
    await request(app.getHttpServer()).get('/orders').set('X-API-Key', rotated.key).expect(401);
  });
});

describe.each([
  ['SQLite', () => ({ url: `sqlite:${join(sqliteDir.path, 'cli.db')}`, cleanup: () => Promise.resolve() })],
  [
    'PostgreSQL',
    () => {
      const schema = uniqueSchema();
      return { url: `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`, schema, cleanup: () => dropSchema(schema) };
    },
  ],
] as const)('the executable against %s', (_, database) => {
  let target: { url: string; schema?: string; cleanup(): Promise<void> };
  beforeAll(async () => {
    target = database();
    if ('schema' in target && target.schema) await createSchema(target.schema);
  });
  afterAll(() => target.cleanup());

  it('refuses to work on missing tables, naming migrate; migrate applies once, then reports nothing to do', async () => {
    const before = await exec(['list', '--database', target.url]);
    expect(before.code).not.toBe(0);
    expect(before.stderr).toContain('npx nestjs-api-key migrate');
    expect(await exec(['migrate', '--database', target.url])).toEqual({ code: 0, stdout: 'Applied migration(s) 1.\n', stderr: '' });
    expect(await exec(['migrate', '--database', target.url, '--json'])).toEqual({ code: 0, stdout: '{"applied":[]}\n', stderr: '' });
  });

  it('keeps keys across invocations: create, list, rotate, revoke', async () => {
    const env = { DATABASE_URL: target.url, API_KEY_PEPPER: PEPPER };
    const created = await exec(['create', '--name', 'persisted', '--scope', 'orders:read', '--json'], env);
    const { apiKey } = JSON.parse(created.stdout);
    const listed = await exec(['list', '--json'], env);
    expect(JSON.parse(listed.stdout).map((k: { id: string }) => k.id)).toEqual([apiKey.id]);
    expect((await exec(['rotate', apiKey.id, '--grace', '1h'], env)).code).toBe(0);
    const revoked = await exec(['revoke', apiKey.id, '--json'], env);
    expect(JSON.parse(revoked.stdout).revokedAt).not.toBeNull();
    expect(JSON.parse((await exec(['show', apiKey.id, '--json'], env)).stdout).version).toBe(3);
  });
});
