import { beforeEach, describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../test/support/clock.js';
import { InMemoryApiKeyStore } from '../storage/in-memory-api-key.store.js';
import { CliExitCode, runCli } from './api-key.cli.js';

const PEPPER = 'cli-test-pepper-00000001';
const DAY = 86_400_000;

describe('runCli: restrictions and the lifetime policy', () => {
  let store: InMemoryApiKeyStore;
  let clock: ManualClock;
  let stdout: string[];
  let stderr: string[];
  const cli = (env: Record<string, string>, ...argv: string[]) =>
    runCli(argv, {
      store,
      clock,
      env: { API_KEY_PEPPER: PEPPER, ...env },
      stdout: (t) => void stdout.push(t),
      stderr: (t) => void stderr.push(t),
      stdoutIsTerminal: true,
    });
  const json = () => JSON.parse(stdout.pop()!) as { apiKey?: Record<string, unknown> } & Record<string, unknown>;
  beforeEach(() => {
    store = new InMemoryApiKeyStore();
    clock = new ManualClock();
    stdout = [];
    stderr = [];
  });

  it('creates a key restricted to networks and origins (repeatable, comma lists too) and shows them', async () => {
    const code = await cli(
      {},
      'create',
      '--name',
      'office',
      '--allow-network',
      '10.0.0.0/8',
      '--allow-network',
      '2001:db8::/32,192.0.2.1',
      '--allow-origin',
      'https://App.example.com',
    );
    expect([code, stderr]).toEqual([CliExitCode.Ok, []]);
    expect(stdout[0]).toMatch(/networks: +10\.0\.0\.0\/8, 2001:db8::\/32, 192\.0\.2\.1\n/);
    expect(stdout[0]).toMatch(/origins: +https:\/\/app\.example\.com/);
    const [key] = await store.list();
    expect([key?.allowedNetworks, key?.allowedOrigins]).toEqual([
      ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1'],
      ['https://app.example.com'],
    ]);
  });

  it('refuses a malformed network with exit 2, in its own terms, writing nothing', async () => {
    expect(await cli({}, 'create', '--name', 'bad', '--allow-network', '10.0.0.1/8')).toBe(CliExitCode.Usage);
    expect(stderr.join('\n')).toContain('--allow-network: "10.0.0.1/8" has bits set past its prefix length');
    expect(await store.list()).toEqual([]);
  });

  it('update replaces the networks, lifts a restriction with --any-*, and needs something to change', async () => {
    await cli({}, 'create', '--name', 'k', '--json', '--allow-network', '10.0.0.0/8');
    const id = json().apiKey!.id as string;
    expect(
      await cli({}, 'update', id, '--allow-network', '::1', '--allow-origin', 'http://localhost:3000', '--json'),
    ).toBe(CliExitCode.Ok);
    expect(json()).toMatchObject({ allowedNetworks: ['::1'], allowedOrigins: ['http://localhost:3000'] });
    expect(await cli({}, 'update', id, '--any-network', '--json')).toBe(CliExitCode.Ok);
    expect(json()).toMatchObject({ allowedNetworks: null, allowedOrigins: ['http://localhost:3000'] });
    expect(await cli({}, 'update', id)).toBe(CliExitCode.Usage);
    expect(stderr.pop()).toContain('update needs something to change');
    expect(await cli({}, 'update', id, '--any-origin', '--allow-origin', 'https://a.example')).toBe(CliExitCode.Usage);
  });

  it('applies the lifetime policy from its options or variables and reports the expiry', async () => {
    expect(await cli({ API_KEY_DEFAULT_LIFETIME: '90d' }, 'create', '--name', 'k', '--max-lifetime', '366d')).toBe(
      CliExitCode.Ok,
    );
    const expiry = new Date(clock.now().getTime() + 90 * DAY).toISOString();
    expect(stdout.pop()).toContain(`It expires at ${expiry}.`);
    expect(await cli({ API_KEY_MAX_LIFETIME: '30d' }, 'create', '--name', 'k', '--expires', '31d')).toBe(
      CliExitCode.Usage,
    );
    expect(stderr.pop()).toContain('--expires must be at most 30 days from now (the maximum lifetime of a key)');
    expect(await cli({}, 'create', '--name', 'k', '--max-lifetime', '30d', '--default-lifetime', '60d')).toBe(
      CliExitCode.Usage,
    );
    expect(stderr.pop()).toContain('--default-lifetime must be at most keyLifetime.maxMs');
  });

  it('rotate renews the key under the policy, or to --expires', async () => {
    await cli({}, 'create', '--name', 'k', '--json');
    const id = json().apiKey!.id as string;
    clock.advance(DAY);
    expect(await cli({ API_KEY_DEFAULT_LIFETIME: '7d' }, 'rotate', id, '--json')).toBe(CliExitCode.Ok);
    expect(json().apiKey!.expiresAt).toBe(new Date(clock.now().getTime() + 7 * DAY).toISOString());
    expect(await cli({}, 'rotate', id, '--expires', '2d', '--json')).toBe(CliExitCode.Ok);
    expect(json().apiKey!.expiresAt).toBe(new Date(clock.now().getTime() + 2 * DAY).toISOString());
  });
});
