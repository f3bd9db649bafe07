import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The packed tarball (`npm run build` first: `npm test` does) installed into an empty project
 * with npm's default settings, as a new user installs it; one install shared by every test here.
 */
const root = join(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const optional = (name: string): boolean => manifest.peerDependenciesMeta?.[name]?.optional === true;
const peers = Object.keys(manifest.peerDependencies);
const requiredPeers = peers.filter((name) => !optional(name));
const optionalPeers = peers.filter(optional);

/** npm with the user's own configuration only: none of the settings an `npm test` run exports (peer handling, omit). */
const npmEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) => !/^npm_config_/i.test(name) || /^npm_config_(cache|userconfig)$/i.test(name),
  ),
);

let dir: string;
let app: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nestjs-api-key-install-'));
  app = join(dir, 'app');
  mkdirSync(app);
  const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
    cwd: root,
    env: npmEnv,
    encoding: 'utf8',
  });
  const tarball = join(dir, (JSON.parse(packed) as { filename: string }[])[0]!.filename);
  execFileSync('npm', ['init', '-y'], { cwd: app, env: npmEnv, stdio: 'ignore' });
  execFileSync('npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: app, env: npmEnv, stdio: 'ignore' });
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every package under `node_modules` (nested ones too), by name, with the folders holding it. */
function installedPackages(nodeModules: string, found = new Map<string, string[]>()): Map<string, string[]> {
  if (!existsSync(nodeModules)) return found;
  for (const entry of readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue;
    const folders = entry.startsWith('@')
      ? readdirSync(join(nodeModules, entry)).map((name) => join(nodeModules, entry, name))
      : [join(nodeModules, entry)];
    for (const folder of folders) {
      if (!existsSync(join(folder, 'package.json'))) continue;
      const name = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')).name as string;
      found.set(name, [...(found.get(name) ?? []), folder]);
      installedPackages(join(folder, 'node_modules'), found);
    }
  }
  return found;
}

/** The packages `names` bring in: their dependencies, installed optional dependencies and required peers, transitively. */
function closureOf(names: string[], installed: Map<string, string[]>): Set<string> {
  const reached = new Set<string>();
  const queue = [...names];
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (reached.has(name)) continue;
    reached.add(name);
    for (const folder of installed.get(name) ?? []) {
      const pkg = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));
      const peerMeta = pkg.peerDependenciesMeta ?? {};
      queue.push(
        ...Object.keys(pkg.dependencies ?? {}),
        ...Object.keys(pkg.optionalDependencies ?? {}).filter((dep) => installed.has(dep)),
        ...Object.keys(pkg.peerDependencies ?? {}).filter((peer) => peerMeta[peer]?.optional !== true),
      );
    }
  }
  return reached;
}

describe('npm install nestjs-api-key in an empty project', () => {
  it('installs the package, its required peers and their own dependencies, and nothing else', () => {
    const installed = installedPackages(join(app, 'node_modules'));
    expect(requiredPeers.sort()).toEqual(['@nestjs/common', '@nestjs/core', 'reflect-metadata', 'rxjs']);
    for (const name of [manifest.name, ...requiredPeers]) expect([name, installed.has(name)]).toEqual([name, true]);
    const expected = closureOf([manifest.name, ...requiredPeers], installed);
    expect([...installed.keys()].filter((name) => !expected.has(name))).toEqual([]);
  });

  it('installs none of the optional drivers and integrations', () => {
    expect(optionalPeers.sort()).toEqual([
      '@nestjs/event-emitter',
      '@nestjs/microservices',
      '@nestjs/passport',
      '@nestjs/swagger',
      '@nestjs/terminus',
      '@nestjs/websockets',
      'better-sqlite3',
      'ioredis',
      'passport',
      'pg',
      'rate-limiter-flexible',
    ]);
    const installed = installedPackages(join(app, 'node_modules'));
    expect(optionalPeers.filter((peer) => installed.has(peer))).toEqual([]);
  });
});

/** What loading `entry` and then running `use` on it (an async function body, `m` the module) does in the project. */
function attempt(via: 'import' | 'require', entry: string, use = ''): { loaded: true } | { error: string } {
  const load = via === 'import' ? `await import('${entry}')` : `require('${entry}')`;
  const script = `(async () => {
    try {
      const m = ${load};
      ${use}
      console.log(JSON.stringify({ loaded: true }));
    } catch (error) {
      console.log(JSON.stringify({ error: error.message }));
    }
  })();`;
  const output = execFileSync(process.execPath, ['--input-type=commonjs', '-e', script], {
    cwd: app,
    encoding: 'utf8',
  });
  return JSON.parse(output.trim().split('\n').pop()!);
}

const missing = (name: string, usedBy: string): string =>
  `nestjs-api-key: The "${name}" package is missing. ` +
  `Please, make sure to install it to use ${usedBy} (npm i ${name})`;

/** A stand-in for an ioredis client (ioredis is not installed), enough for the options check. */
const rateLimitAppWithRedis = `
  await import('reflect-metadata');
  const { Module } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const redis = { defineCommand() {}, on() {}, off() {}, status: 'wait' };
  class AppModule {}
  Module({ imports: [m.ApiKeyRateLimitModule.forRoot({ redis, limit: false })] })(AppModule);
  await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });`;

describe.each(['import', 'require'] as const)('without the optional drivers, through %s', (via) => {
  it.each(['nestjs-api-key', 'nestjs-api-key/cli', 'nestjs-api-key/testing', 'nestjs-api-key/rate-limit'])(
    '%s loads',
    (entry) => {
      expect(attempt(via, entry)).toEqual({ loaded: true });
    },
  );

  it('the sqlite and postgres entry points load, and their stores say which package to install', () => {
    expect(attempt(via, 'nestjs-api-key/sqlite')).toEqual({ loaded: true });
    expect(attempt(via, 'nestjs-api-key/sqlite', `new m.SqliteApiKeyStore({ database: ':memory:' });`)).toEqual({
      error: missing('better-sqlite3', 'SqliteApiKeyStore'),
    });
    expect(attempt(via, 'nestjs-api-key/postgres')).toEqual({ loaded: true });
    const postgres = `new m.PostgresApiKeyStore({ connection: 'postgres://127.0.0.1/none' });`;
    expect(attempt(via, 'nestjs-api-key/postgres', postgres)).toEqual({ error: missing('pg', 'PostgresApiKeyStore') });
  });

  it('rate limits in Redis say which package to install, at bootstrap', () => {
    expect(attempt(via, 'nestjs-api-key/rate-limit', rateLimitAppWithRedis)).toEqual({
      error: missing('rate-limiter-flexible', "ApiKeyRateLimitModule's redis option"),
    });
  });

  // These entry points exist for their integration, which they use synchronously, and
  // Nest 12's are ESM-only: only a static import loads them in Jest before Node 24.9, so the
  // error is Node's own, naming the package.
  it.each([
    ['nestjs-api-key/swagger', '@nestjs/swagger'],
    ['nestjs-api-key/health', '@nestjs/terminus'],
    ['nestjs-api-key/passport', '@nestjs/passport'],
  ])('%s fails to load with an error naming %s', (entry, name) => {
    const outcome = attempt(via, entry) as { error: string };
    expect(outcome.error).toMatch(new RegExp(`^Cannot find (package|module) '${name}'`));
  });
});

describe('the CLI without the drivers', () => {
  const cli = (...args: string[]) => spawnSync('npx', ['--no', 'nestjs-api-key', ...args], { cwd: app, env: npmEnv });

  it.each([
    [['migrate', '--database', 'sqlite:./keys.db'], missing('better-sqlite3', 'SqliteApiKeyStore')],
    [['list', '--database', 'postgres://127.0.0.1:1/none'], missing('pg', 'PostgresApiKeyStore')],
  ])('%j says which package to install on stderr and exits 1', (args, message) => {
    const { status, stdout, stderr } = cli(...args);
    expect({ status, stdout: String(stdout), stderr: String(stderr) }).toEqual({
      status: 1,
      stdout: '',
      stderr: `error: ${message.replace(/^nestjs-api-key: /, '')}\n`,
    });
    expect(existsSync(join(app, 'keys.db'))).toBe(false);
  });
});

describe('types in a Nest 10 style project ("module": "commonjs", no moduleResolution)', () => {
  it('resolve every entry point with TypeScript 5, whose default resolution there is node10', () => {
    // TypeScript 6 picks `bundler` for this configuration: the TypeScript 5 that
    // @arethetypeswrong/core depends on is the one that still defaults to node10.
    const fromAttw = createRequire(createRequire(join(root, 'package.json')).resolve('@arethetypeswrong/core'));
    const version = fromAttw('typescript/package.json').version as string;
    expect(version).toMatch(/^5\./);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'commonjs',
          target: 'ES2021',
          strict: true,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          skipLibCheck: true,
          noEmit: true,
          types: [],
        },
        files: ['main.ts'],
      }),
    );
    const entries = Object.keys(manifest.exports).filter((entry) => entry !== './package.json');
    const imports = entries.map(
      (entry, index) => `import * as entry${index} from '${manifest.name}${entry.slice(1)}';`,
    );
    writeFileSync(
      join(app, 'main.ts'),
      `${imports.join('\n')}\nimport { SqliteApiKeyStore } from 'nestjs-api-key/sqlite';\n` +
        `export const used = [${entries.map((_, index) => `entry${index}`).join(', ')}, SqliteApiKeyStore];\n`,
    );
    const { status, stdout } = spawnSync(process.execPath, [fromAttw.resolve('typescript/bin/tsc'), '-p', app], {
      encoding: 'utf8',
    });
    expect({ status, stdout }).toEqual({ status: 0, stdout: '' });
  });
});
