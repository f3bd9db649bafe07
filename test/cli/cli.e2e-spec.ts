import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import Database from 'better-sqlite3';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import request from 'supertest';
import { ApiKeyModule, InMemoryApiKeyStore } from 'nestjs-api-key';
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
function exec(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
  });
}

/**
 * Runs the executable with its standard output on a pseudo-terminal, through util-linux's
 * `script`; resolves to what the terminal showed (`\r\n` line ends), standard error included.
 */
function execInTerminal(args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;
  const command = [process.execPath, bin, ...args].map(quote).join(' ');
  return new Promise((resolve) => {
    execFile(
      'script',
      ['--quiet', '--return', '--command', command, '/dev/null'],
      { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' },
      (error, output) => resolve({ code: error ? Number(error.code) : 0, output }),
    );
  });
}

/** A loopback port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the nestjs-api-key executable', () => {
  it('creates a key from DATABASE_URL and API_KEY_PEPPER and prints it once, as JSON', async () => {
    const result = await exec(['create', '--name', 'ci', '--scope', 'orders:read', '--json'], {
      DATABASE_URL: 'memory:',
      API_KEY_PEPPER: PEPPER,
      API_KEY_PREFIX: 'acme_test',
    });
    expect([result.code, result.stderr]).toEqual([0, '']);
    const { key, apiKey } = JSON.parse(result.stdout);
    expect(key).toMatch(/^acme_test_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$/);
    expect(apiKey).toMatchObject({ name: 'ci', scopes: ['orders:read'], revokedAt: null });
  });

  it('prints the version of the package with --version, whatever the command', async () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(await exec(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    expect(await exec(['list', '--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('writes the key alone on stdout when stdout is not a terminal, the notice and details on stderr', async () => {
    const env = { DATABASE_URL: 'memory:', API_KEY_PEPPER: PEPPER };
    const result = await exec(['create', '--name', 'ci', '--scope', 'orders:read'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^apikey_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}\n$/);
    expect(result.stderr).toMatch(/^Store this key now: it is not kept anywhere and cannot be shown again\.\n\nid: /);
    expect(result.stderr).toMatch(/\nscopes: +orders:read\n/);
    expect(result.stderr).not.toContain(result.stdout.trim());
  });

  it('prints the key, the notice and the details on stdout when it is a terminal', async () => {
    execFileSync('script', ['--version']); // util-linux's script provides the terminal
    const env = { DATABASE_URL: 'memory:', API_KEY_PEPPER: PEPPER };
    const { code, output } = await execInTerminal(['create', '--name', 'ci', '--scope', 'orders:read'], env);
    expect(code).toBe(0);
    const lines = output.split('\r\n');
    expect(lines[0]).toMatch(/^apikey_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$/);
    expect(lines.slice(1, 3)).toEqual(['', 'Store this key now: it is not kept anywhere and cannot be shown again.']);
    expect(lines).toContain('scopes:     orders:read');
  });

  it('suggests the nearest command for an unknown one, or lists them, with exit 2', async () => {
    expect(await exec(['lsit', '--database', 'memory:'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: unknown command "lsit": did you mean "list"?\nRun "nestjs-api-key --help" for usage.\n',
    });
    const far = await exec(['frobnicate']);
    expect([far.code, far.stderr]).toEqual([
      2,
      expect.stringContaining(
        'unknown command "frobnicate": commands: create, update, list, show, revoke, disable, enable, rotate, migrate',
      ),
    ]);
  });

  it('refuses an unknown option naming the nearest one, and an option the command does not take, naming both', async () => {
    const cases: [string[], string][] = [
      [['create', '--name', 'x', '--scopes', 'a'], 'unknown option "--scopes": did you mean "--scope"?'],
      [['list', '--bogus'], 'unknown option "--bogus"'],
      [['list', '--scope', 'a'], 'list does not take --scope; its options: --owner, --limit, --after'],
      [['create', '--name', 'x', '--grace', '1h'], 'create does not take --grace; its options: --name, --scope'],
      [['show', 'k1', '--owner', 'a'], 'show does not take --owner; it takes only the options of every command'],
      [['rotate', 'k1', '--owner', 'a'], 'rotate does not take --owner; its options: --grace, --expires'],
      [['migrate', '--limit', '5'], 'migrate does not take --limit'],
    ];
    for (const [argv, message] of cases) {
      const result = await exec([...argv, '--database', 'memory:'], { API_KEY_PEPPER: PEPPER });
      expect([argv, result.code, result.stdout]).toEqual([argv, 2, '']);
      expect(result.stderr).toContain(`error: ${message}`);
    }
  });

  it("words the service's refusals in the CLI's options, not its field names", async () => {
    const cases: [string[], Record<string, string>, string][] = [
      [['create', '--name', 'x', '--expires', '2001-01-01'], {}, '--expires must be in the future'],
      [['create', '--name', 'x', '--owner', ''], {}, '--owner must not be empty'],
      [['create', '--name', ' '], {}, '--name must be a non-empty string of at most 200 characters'],
      [['create', '--name', 'x', '--scope', 'a b'], {}, 'each --scope must be a non-empty string of visible ASCII'],
      [['create', '--name', 'x', '--metadata', '[1]'], {}, '--metadata must be a plain object'],
      [['list', '--limit', '0'], {}, '--limit must be a positive integer'],
      [['create', '--name', 'x', '--prefix', 'bad-'], {}, '--prefix must be 1 to 32 letters'],
      [['create', '--name', 'x'], { API_KEY_PREFIX: 'bad-' }, 'API_KEY_PREFIX must be 1 to 32 letters'],
      [['list', '--pepper', 'short'], {}, '--pepper must be at least 16 characters\n'],
      [['list'], { API_KEY_PEPPER: 'short' }, 'API_KEY_PEPPER must be at least 16 characters\n'],
    ];
    for (const [argv, env, message] of cases) {
      const result = await exec([...argv, '--database', 'memory:'], { API_KEY_PEPPER: PEPPER, ...env });
      expect([argv, result.code, result.stdout]).toEqual([argv, 2, '']);
      expect(result.stderr).toContain(`error: ${message}`);
    }
  });

  it('writes errors as JSON on stdout under --json, with the same exit codes and nothing on stderr', async () => {
    const failures: [string[], number, string, string][] = [
      [['rotate', '--json'], 2, 'usage', 'rotate needs a key id'],
      [['lsit', '--json'], 2, 'usage', 'unknown command "lsit": did you mean "list"?'],
      [['list', '--bogus', '--json'], 2, 'usage', 'unknown option "--bogus"'],
      [['list', '--scope', 'a', '--json'], 2, 'usage', 'list does not take --scope'],
      [['create', '--name', 'x', '--expires', '2001-01-01', '--json'], 2, 'usage', '--expires must be in the future'],
      [['show', 'nope', '--json'], 1, 'not_found', 'no key with id "nope"'],
      [['--json'], 2, 'usage', 'no command; commands: create, update, list'],
    ];
    for (const [argv, code, errorCode, message] of failures) {
      const result = await exec([...argv, '--database', 'memory:'], { API_KEY_PEPPER: PEPPER });
      expect([argv, result.code, result.stderr]).toEqual([argv, code, '']);
      expect(JSON.parse(result.stdout)).toEqual({ error: { code: errorCode, message: expect.any(String) } });
      expect(JSON.parse(result.stdout).error.message).toContain(message);
    }
    const unreachable = `postgres://postgres@127.0.0.1:${await closedPort()}/test`;
    const store = await exec(['list', '--json', '--database', unreachable]);
    expect([store.code, store.stderr, JSON.parse(store.stdout)]).toEqual([
      1,
      '',
      { error: { code: 'failed', message: expect.stringContaining('ECONNREFUSED') } },
    ]);
  });

  it('exits 2 on a bad command line and 1 on a failed operation, with the reason on stderr', async () => {
    const usage = await exec(['rotate'], { DATABASE_URL: 'memory:' });
    expect([usage.code, usage.stdout, usage.stderr]).toEqual([
      2,
      '',
      'error: rotate needs a key id\nRun "nestjs-api-key --help" for usage.\n',
    ]);
    const missing = await exec(['show', 'nope', '--database', 'memory:']);
    expect([missing.code, missing.stderr]).toEqual([1, 'error: no key with id "nope"\n']);
    expect((await exec(['--help'])).code).toBe(0);
  });
});

describe.each(platforms)('keys managed by the CLI, used over HTTP on $name', (platform) => {
  const store = new InMemoryApiKeyStore();
  const out: string[] = [];
  const cli = (...argv: string[]) =>
    runCli(argv, { store, env: { API_KEY_PEPPER: PEPPER }, stdout: (t) => void out.push(t), stderr: () => undefined });
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp(
      { imports: [ApiKeyModule.forRoot({ pepper: PEPPER, repository: store })], controllers: [OrdersController] },
      platform,
    );
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

  it('revokes every key of an owner with revoke --owner, and lists them by owner', async () => {
    const created: Array<{ key: string; apiKey: { id: string } }> = [];
    for (const owner of ['cli-acme', 'cli-acme', 'cli-globex']) {
      expect(await cli('create', '--name', 'owned', '--scope', 'orders:read', '--owner', owner, '--json')).toBe(0);
      created.push(JSON.parse(out.pop()!));
    }
    expect(await cli('list', '--owner', 'cli-acme', '--json')).toBe(0);
    const acme = created.slice(0, 2).map(({ apiKey }) => apiKey.id);
    expect(JSON.parse(out.pop()!).map((key: { id: string }) => key.id)).toEqual([...acme].sort());
    expect(await cli('revoke', '--owner', 'cli-acme', '--json')).toBe(0);
    expect(JSON.parse(out.pop()!)).toEqual({ ownerId: 'cli-acme', revoked: [...acme].sort() });
    const status = async (key: string) =>
      (await request(app.getHttpServer()).get('/orders').set('X-API-Key', key)).status;
    expect([await status(created[0]!.key), await status(created[1]!.key), await status(created[2]!.key)]).toEqual([
      401, 401, 200,
    ]);
    expect(await cli('revoke', '--owner', 'cli-acme')).toBe(0);
    expect(out.pop()).toBe('Owner "cli-acme" had no key left to revoke.');
    expect(await cli('revoke', created[2]!.apiKey.id, '--owner', 'cli-globex', '--json')).toBe(2);
    expect(JSON.parse(out.pop()!).error.message).toBe('revoke takes a key id or --owner, not both');
  });
});

describe.each([
  ['SQLite', () => ({ url: `sqlite:${join(sqliteDir.path, 'cli.db')}`, cleanup: () => Promise.resolve() })],
  [
    'PostgreSQL',
    () => {
      const schema = uniqueSchema();
      return {
        url: `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
        schema,
        cleanup: () => dropSchema(schema),
      };
    },
  ],
] as const)('the executable against %s', (_, database) => {
  let target: { url: string; schema?: string; cleanup(): Promise<void> };
  beforeAll(async () => {
    target = database();
    if ('schema' in target && target.schema) await createSchema(target.schema);
  });
  afterAll(() => target.cleanup());

  it('refuses missing tables with exit 1, naming migrate; migrate applies once, then has nothing to do', async () => {
    const before = await exec(['list', '--database', target.url]);
    expect(before.code).toBe(1);
    expect(before.stderr).toContain('npx nestjs-api-key migrate');
    expect(await exec(['migrate', '--database', target.url])).toEqual({
      code: 0,
      stdout: 'Applied migration(s) 1, 2.\n',
      stderr: '',
    });
    expect(await exec(['migrate', '--database', target.url, '--json'])).toEqual({
      code: 0,
      stdout: '{"applied":[]}\n',
      stderr: '',
    });
  });

  it('keeps keys across invocations: create, list, rotate, revoke', async () => {
    const env = { DATABASE_URL: target.url, API_KEY_PEPPER: PEPPER };
    const created = await exec(['create', '--name', 'persisted', '--scope', 'orders:read', '--json'], env);
    const { apiKey } = JSON.parse(created.stdout);
    const listed = await exec(['list', '--json'], env);
    expect(JSON.parse(listed.stdout).map((k: { id: string }) => k.id)).toEqual([apiKey.id]);
    const rotated = await exec(['rotate', apiKey.id, '--grace', '1h'], env);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(new RegExp(`^apikey_${apiKey.id}_[0-9A-Za-z]{38}\n$`));
    expect(rotated.stderr).toMatch(
      new RegExp(
        '^Store this key now: .*\nThe previous key stops working at \\S+\\.\n' +
          'Applications with the cache on \\(cache: true\\) learn of the rotation within cache\\.ttlMs \\(10 s by\n' +
          'default\\), or under a second with the PostgreSQL store: until then they accept the previous key,\n' +
          'even past that time\\.\n\nid: ',
      ),
    );
    const revoked = await exec(['revoke', apiKey.id, '--json'], env);
    expect(JSON.parse(revoked.stdout).revokedAt).not.toBeNull();
    expect(revoked.stderr).toBe('');
    expect(JSON.parse((await exec(['show', apiKey.id, '--json'], env)).stdout).version).toBe(3);
  });

  it('says, after revoke and disable, how long applications that cache keys may still accept the key', async () => {
    const env = { DATABASE_URL: target.url, API_KEY_PEPPER: PEPPER };
    const { apiKey } = JSON.parse((await exec(['create', '--name', 'to-revoke', '--json'], env)).stdout);
    const bounds =
      'Applications without a cache refuse this key from their next request. Those with the cache on\n' +
      '(cache: true) may still accept it for up to cache.ttlMs (10 s by default), or for under a second\n' +
      'with the PostgreSQL store, which notifies them of changes.\n';
    for (const command of ['disable', 'revoke']) {
      const result = await exec([command, apiKey.id], env);
      expect([command, result.code, result.stderr]).toEqual([command, 0, '']);
      expect(result.stdout).toMatch(new RegExp(`^id: +${apiKey.id}\n`));
      expect(result.stdout.endsWith(`\n\n${bounds}`)).toBe(true);
    }
  });
});

describe('exit codes of the executable: 2 for a bad command line, 1 for a store error', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());
  const READS = [['list'], ['show', 'k1']];
  const WRITES = [
    ['create', '--name', 'x'],
    ['rotate', 'k1'],
    ['revoke', 'k1'],
    ['disable', 'k1'],
    ['enable', 'k1'],
  ];
  const migrateHint = 'check the path, or create it with `npx nestjs-api-key migrate`';

  it('creates no SQLite file for any command but migrate: exit 1, naming the path and migrate', async () => {
    const empty = join(dir.path, 'untouched');
    mkdirSync(empty);
    for (const url of [`sqlite:${join(empty, 'keys.db')}`, `sqlite:${join(empty, 'no-such-dir', 'keys.db')}`]) {
      for (const argv of [...READS, ...WRITES]) {
        const result = await exec([...argv, '--database', url], { API_KEY_PEPPER: PEPPER });
        expect([argv, result.code, result.stdout]).toEqual([argv, 1, '']);
        expect(result.stderr).toBe(`error: no SQLite database at ${url.slice('sqlite:'.length)}: ${migrateHint}\n`);
      }
    }
    expect(readdirSync(empty)).toEqual([]);
    const migrated = await exec(['migrate', '--database', `sqlite:${join(empty, 'keys.db')}`]);
    expect([migrated.code, migrated.stderr]).toEqual([0, '']);
    expect(readdirSync(empty)).toContain('keys.db');
  });

  it('exits 1 on an existing SQLite file whose tables are missing, or newer than the package', async () => {
    const bare = join(dir.path, 'bare.db');
    writeFileSync(bare, '');
    const missing = await exec(['list', '--database', `sqlite:${bare}`]);
    const behind = 'schema version 0, this package needs 2: run `npx nestjs-api-key migrate`';
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining(behind)]);
    const newer = join(dir.path, 'newer.db');
    expect((await exec(['migrate', '--database', `sqlite:${newer}`])).code).toBe(0);
    const db = new Database(newer);
    db.prepare('INSERT INTO api_key_migrations (version, name, applied_at) VALUES (99, ?, 0)').run('from the future');
    db.close();
    const ahead = 'schema version 99, newer than this package supports (2): upgrade nestjs-api-key';
    for (const argv of READS) {
      const result = await exec([...argv, '--database', `sqlite:${newer}`]);
      expect([result.code, result.stderr]).toEqual([1, expect.stringContaining(ahead)]);
    }
  });

  it('exits 1 when PostgreSQL is unreachable, for every command', async () => {
    const url = `postgres://postgres@127.0.0.1:${await closedPort()}/test`;
    for (const argv of [...READS, ...WRITES, ['migrate']]) {
      const result = await exec([...argv, '--database', url], { API_KEY_PEPPER: PEPPER });
      expect([argv, result.code, result.stderr]).toEqual([argv, 1, expect.stringContaining('ECONNREFUSED')]);
    }
  });

  it('exits 2 on a bad command line before touching the store, even an unreachable one', async () => {
    const url = `postgres://postgres@127.0.0.1:${await closedPort()}/test`;
    const cases: [string[], string][] = [
      [['create', '--name', 'x', '--expires', 'tomorrow'], '--expires must be an ISO 8601 date'],
      [['create', '--name', 'x', '--metadata', '{'], '--metadata must be JSON'],
      [['create'], 'create needs --name'],
      [['rotate', 'k1', '--grace', 'soon'], '--grace must be 0 or a number with a unit'],
      [['create', '--name', 'x', '--prefix', 'bad-prefix'], '--prefix must be'],
      [['list', '--pepper', 'short'], '--pepper must be at least 16 characters'],
    ];
    for (const [argv, message] of cases) {
      const result = await exec([...argv, '--database', url]);
      expect([argv, result.code, result.stdout]).toEqual([argv, 2, '']);
      expect(result.stderr).toContain(message);
      expect(result.stderr).not.toContain('ECONNREFUSED');
    }
    const untouched = join(dir.path, 'bad-usage');
    mkdirSync(untouched);
    expect((await exec(['migrate', 'extra', '--database', `sqlite:${join(untouched, 'keys.db')}`])).code).toBe(2);
    expect(readdirSync(untouched)).toEqual([]);
  });

  it('exits 2 for a database URL no store understands, and for no command, with the reason on stderr', async () => {
    const scheme = await exec(['list', '--database', 'mysql://localhost/keys']);
    const unknown = 'no store for database URL scheme "mysql"; known schemes: memory:, postgres:';
    expect([scheme.code, scheme.stderr]).toEqual([2, expect.stringContaining(unknown)]);
    const noPath = await exec(['list', '--database', 'sqlite:']);
    expect([noPath.code, noPath.stderr]).toEqual([2, expect.stringContaining('a sqlite: URL needs a file path')]);
    const bare = await exec([]);
    expect([bare.code, bare.stdout]).toEqual([2, '']);
    expect(bare.stderr).toContain('Usage: nestjs-api-key <command>');
  });
});
