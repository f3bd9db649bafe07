import { beforeEach, describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../test/support/clock.js';
import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import { ApiKeyHasher } from '../keys/api-key.hasher.js';
import { InMemoryApiKeyStore } from '../storage/in-memory-api-key.store.js';
import { CliExitCode, runCli } from './api-key.cli.js';
import { apiKeyStoreSchemes, registerApiKeyStoreFactory } from './api-key-store.factories.js';

const PEPPER = 'cli-test-pepper-00000001';

describe('runCli', () => {
  let store: InMemoryApiKeyStore;
  let clock: ManualClock;
  let stdout: string[];
  let stderr: string[];
  const cli = (...argv: string[]) =>
    runCli(argv, {
      store,
      clock,
      env: { API_KEY_PEPPER: PEPPER },
      stdout: (t) => void stdout.push(t),
      stderr: (t) => void stderr.push(t),
      stdoutIsTerminal: true,
    });
  const create = async (...extra: string[]) => {
    expect(await cli('create', '--name', 'svc', '--json', ...extra)).toBe(CliExitCode.Ok);
    return JSON.parse(stdout.pop()!) as { key: string; apiKey: { id: string } };
  };
  beforeEach(() => {
    store = new InMemoryApiKeyStore();
    clock = new ManualClock();
    stdout = [];
    stderr = [];
  });

  it('creates a key stored under the pepper HMAC, printing the plaintext once with the record', async () => {
    const code = await cli(
      'create',
      '--name',
      'billing',
      '--scope',
      'invoices:read',
      '--scope',
      'a,b',
      '--owner',
      'team-a',
      '--metadata',
      '{"plan":"pro"}',
      '--expires',
      '30d',
      '--prefix',
      'acme_live',
    );
    expect([code, stderr]).toEqual([0, []]);
    const [text] = stdout;
    const key = text!.split('\n')[0]!;
    expect(key).toMatch(/^acme_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$/);
    expect(text).toContain('Store this key now');
    expect(text).toMatch(/scopes: +invoices:read,a,b/);
    const record = await store.findByHash(new ApiKeyHasher([PEPPER]).hash(key));
    expect(record).toMatchObject({
      name: 'billing',
      ownerId: 'team-a',
      metadata: { plan: 'pro' },
      expiresAt: new Date(clock.now().getTime() + 30 * 86_400_000),
    });
  });

  it('lists as a table and as JSON, and never prints a secret outside create and rotate', async () => {
    const { key, apiKey } = await create('--scope', 'x');
    for (const argv of [
      ['list'],
      ['list', '--json'],
      ['show', apiKey.id],
      ['show', apiKey.id, '--json'],
      ['disable', apiKey.id],
      ['enable', apiKey.id],
      ['revoke', apiKey.id],
    ]) {
      expect(await cli(...argv)).toBe(0);
    }
    expect(stdout[0]).toMatch(/^ID +NAME +STATE +SCOPES +OWNER +EXPIRES +LAST USED\n/);
    expect(stdout[0]).toContain(`${apiKey.id}  svc   active  x`);
    expect(JSON.parse(stdout[1]!)).toEqual([expect.objectContaining({ id: apiKey.id, name: 'svc', version: 1 })]);
    expect(stdout.at(-1)).toMatch(/state: +revoked/);
    expect(stdout.join('\n')).not.toContain(key.slice(-38, -10));
  });

  it('rotates with a grace period and prints the new key and when the old one stops', async () => {
    const { key: old, apiKey } = await create();
    expect(await cli('rotate', apiKey.id, '--grace', '24h', '--json')).toBe(0);
    const rotated = JSON.parse(stdout.pop()!);
    expect(rotated.key.split('_')[1]).toBe(apiKey.id);
    expect(rotated.key).not.toBe(old);
    expect(rotated.previousSecretsExpireAt).toBe(new Date(clock.now().getTime() + 86_400_000).toISOString());
    expect(await cli('rotate', apiKey.id)).toBe(0);
    expect(stdout.pop()).toContain(`The previous key stops working at ${clock.now().toISOString()}`);
  });

  it('exits 2 with a clear message for a bad command line, 1 for a failed operation', async () => {
    const cases: [string[], number, string][] = [
      [[], 2, 'Usage: nestjs-api-key <command>'],
      [['frobnicate'], 2, 'unknown command "frobnicate"'],
      [['create'], 2, 'create needs --name'],
      [['create', '--name', 'x', '--bogus'], 2, 'unknown option "--bogus"'],
      [['create', '--name', 'x', '--scopes', 'a'], 2, 'unknown option "--scopes": did you mean "--scope"?'],
      [['create', '--name', 'x', '--expires', 'tomorrow'], 2, '--expires must be an ISO 8601 date'],
      [['create', '--name', 'x', '--expires', '2001-01-01'], 2, '--expires must be in the future'],
      [
        ['create', '--name', 'x', '--expires', '2027-04-31T00:00:00Z'],
        2,
        '--expires names a day that does not exist (2027-04-31)',
      ],
      [['create', '--name', 'x', '--expires', '2027-02-29'], 2, '--expires names a day that does not exist'],
      [['create', '--name', 'x', '--metadata', '{'], 2, '--metadata must be JSON'],
      [['create', '--name', 'x', '--prefix', 'bad-prefix'], 2, '--prefix must be'],
      [['show'], 2, 'show needs a key id'],
      [['show', 'a', 'b'], 2, 'unexpected argument "b"'],
      [['rotate', 'a', '--grace', 'soon'], 2, '--grace must be 0 or a number with a unit'],
      [['rotate', 'a', '--grace', '99999999999999999d'], 2, '--grace is too long'],
      [['rotate', 'a', '--grace', '100000000d'], 2, '--grace is too long'],
      [['create', '--name', 'x', '--expires', '100000000d'], 2, '--expires is too far in the future'],
      [['show', 'missing'], 1, 'no key with id "missing"'],
      [['revoke', 'missing'], 1, 'no key with id "missing"'],
    ];
    for (const [argv, code, message] of cases) {
      stderr = [];
      expect([argv, await cli(...argv)]).toEqual([argv, code]);
      expect(stderr.join('\n')).toContain(message);
    }
    const { apiKey } = await create();
    await cli('revoke', apiKey.id);
    stderr = [];
    expect(await cli('rotate', apiKey.id)).toBe(1);
    expect(stderr).toEqual([`error: key "${apiKey.id}" is revoked; create a new key instead`]);
  });

  it('prints the usage with --help and exits 0', async () => {
    expect(await cli('--help')).toBe(0);
    expect(stdout[0]).toContain('Usage: nestjs-api-key <command>');
  });

  it('opens the store from --database or DATABASE_URL through the factory registry', async () => {
    const opened: string[] = [];
    let closed = 0;
    registerApiKeyStoreFactory('test-scheme', (url) => {
      opened.push(url);
      return Promise.resolve({ store, ready: () => Promise.resolve(), close: () => Promise.resolve(void closed++) });
    });
    expect(apiKeyStoreSchemes()).toEqual(expect.arrayContaining(['memory', 'test-scheme']));
    const io = { stdout: (t: string) => void stdout.push(t), stderr: (t: string) => void stderr.push(t) };
    expect(await runCli(['list'], { ...io, env: { DATABASE_URL: 'test-scheme://one' } })).toBe(0);
    expect(
      await runCli(['list', '--database', 'test-scheme://two'], { ...io, env: { DATABASE_URL: 'test-scheme://one' } }),
    ).toBe(0);
    expect([opened, closed]).toEqual([['test-scheme://one', 'test-scheme://two'], 2]);
    expect(await runCli(['list'], { ...io, env: {} })).toBe(2);
    expect(stderr.pop()).toContain('no store: pass --database <url> or set DATABASE_URL');
    expect(await runCli(['list', '--database', 'nosuch://x'], { ...io, env: {} })).toBe(2);
    expect(stderr.pop()).toContain('no store for database URL scheme "nosuch"; known schemes: memory:');
  });

  it('lets only migrate create the database, and opens no store for a bad command line', async () => {
    const requests: [string, boolean | undefined][] = [];
    registerApiKeyStoreFactory('recording', (url, { create }) => {
      requests.push([url, create]);
      const done = () => Promise.resolve();
      return Promise.resolve({ store, ready: done, migrate: () => Promise.resolve([]), close: done });
    });
    const io = { stdout: (t: string) => void stdout.push(t), stderr: (t: string) => void stderr.push(t), env: {} };
    const badUsage = [
      ['create', '--name', 'x', '--expires', 'tomorrow'],
      ['list', '--prefix', 'bad-'],
    ];
    for (const argv of [['list'], ['show', 'k1'], ['migrate'], ...badUsage]) {
      await runCli([...argv, '--database', `recording:${argv[0]}`], io);
    }
    expect(requests).toEqual([
      ['recording:list', false],
      ['recording:show', false],
      ['recording:migrate', true],
    ]);
  });

  it('answers a store whose schema is behind or ahead (ApiKeyConfigurationError from ready) with exit 1', async () => {
    const behind = new ApiKeyConfigurationError('the api_keys tables are at schema version 0, this package needs 1');
    registerApiKeyStoreFactory('behind', () =>
      Promise.resolve({ store, ready: () => Promise.reject(behind), close: () => Promise.resolve() }),
    );
    const io = { stdout: (t: string) => void stdout.push(t), stderr: (t: string) => void stderr.push(t), env: {} };
    expect(await runCli(['list', '--database', 'behind:'], io)).toBe(CliExitCode.Failed);
    expect(stderr.pop()).toBe('error: the api_keys tables are at schema version 0, this package needs 1');
  });

  it('answers a failed migration with its exit code and message, after which the store is closed', async () => {
    const io = { stdout: (t: string) => void stdout.push(t), stderr: (t: string) => void stderr.push(t) };
    expect(await runCli(['migrate', '--database', 'memory:'], { ...io, env: {} })).toBe(2);
    expect(stderr.pop()).toContain('this store has no schema to migrate');
    let closed = false;
    registerApiKeyStoreFactory('failing-migration', () =>
      Promise.resolve({
        store,
        ready: () => Promise.resolve(),
        close: () => Promise.resolve(void (closed = true)),
        migrate: () => Promise.reject(new Error('connection refused')),
      }),
    );
    expect(await runCli(['migrate', '--database', 'failing-migration://x'], { ...io, env: {} })).toBe(1);
    expect([stderr.pop(), closed]).toEqual([expect.stringContaining('connection refused'), true]);
  });

  it('warns when creating a key without a pepper', async () => {
    expect(
      await runCli(['create', '--name', 'x'], {
        store,
        stdout: (t) => void stdout.push(t),
        stderr: (t) => void stderr.push(t),
        env: {},
      }),
    ).toBe(0);
    expect(stderr[0]).toContain('warning: no pepper');
  });
});
