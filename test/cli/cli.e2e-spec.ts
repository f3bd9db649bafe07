import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { ApiKeyModule, InMemoryApiKeyRepository } from 'nestjs-api-key';
import { runCli } from 'nestjs-api-key/cli';
import { platforms, startApp } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin['nestjs-api-key']);
const PEPPER = 'cli-e2e-pepper-000000001';

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
