import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import request from 'supertest';
import {
  ApiKeyConfigurationError,
  ApiKeyModule,
  ApiKeyRepository,
  ApiKeyService,
  createApiKeyStore,
  InMemoryApiKeyStore,
} from 'nestjs-api-key';
import { SqliteApiKeyStore } from 'nestjs-api-key/sqlite';
import { PostgresApiKeyStore } from 'nestjs-api-key/postgres';
import { dropSchema, POSTGRES_URL, tempDir, uniqueSchema } from '../support/databases.js';
import { platforms, startApp } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';

const root = join(import.meta.dirname, '..', '..');
const dir = tempDir();
const schemas: string[] = [];
afterAll(async () => {
  dir.remove();
  for (const schema of schemas) await dropSchema(schema);
});

let files = 0;
/** A SQLite file path under directories that do not exist yet. */
const freshSqlitePath = () => join(dir.path, `run-${files++}`, 'nested', 'keys.db');

/** A PostgreSQL URL whose search path is a new, empty schema (dropped after the suite). */
async function postgresUrlOnNewSchema(scheme = 'postgres'): Promise<string> {
  const schema = uniqueSchema();
  schemas.push(schema);
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  await client.query(`CREATE SCHEMA "${schema}"`).finally(() => client.end());
  const url = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  return url.replace(/^postgres:/, `${scheme}:`);
}

/** Each scheme, with the store class it must give and the URL of a fresh database. */
const schemes = [
  { name: 'memory:', type: InMemoryApiKeyStore, url: async () => 'memory:', closes: false },
  { name: 'sqlite:<path>', type: SqliteApiKeyStore, url: async () => `sqlite:${freshSqlitePath()}`, closes: true },
  { name: 'sqlite://<path>', type: SqliteApiKeyStore, url: async () => `sqlite://${freshSqlitePath()}`, closes: true },
  { name: 'postgres://', type: PostgresApiKeyStore, url: () => postgresUrlOnNewSchema('postgres'), closes: true },
  { name: 'postgresql://', type: PostgresApiKeyStore, url: () => postgresUrlOnNewSchema('postgresql'), closes: true },
];

describe.each(platforms)('createApiKeyStore(DATABASE_URL) in forRootAsync, over HTTP on $name', (platform) => {
  describe.each(schemes)('$name', (scheme) => {
    let app: INestApplication;
    let url: string;
    beforeAll(async () => {
      url = await scheme.url();
      app = await startApp(
        {
          imports: [
            ApiKeyModule.forRootAsync({
              imports: [ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ DATABASE_URL: url })] })],
              inject: [ConfigService],
              useFactory: async (config: ConfigService) => ({
                repository: await createApiKeyStore(config.get('DATABASE_URL'), { migrate: true }),
                pepper: 'store-url-e2e-pepper-0123456789',
              }),
            }),
          ],
          controllers: [OrdersController],
        },
        platform,
      );
    });
    afterAll(() => app?.close());

    it('gives the store the scheme names, in which a created key authenticates and an unknown one does not', async () => {
      expect(app.get(ApiKeyRepository)).toBeInstanceOf(scheme.type);
      if (scheme.type === SqliteApiKeyStore) expect(existsSync(url.replace(/^sqlite:(\/\/)?/, ''))).toBe(true);
      const { key } = await app.get(ApiKeyService).create({ name: 'from-url', scopes: ['orders:read'] });
      await request(app.getHttpServer()).get('/orders').set('X-API-Key', key).expect(200);
      await request(app.getHttpServer()).get('/orders').set('X-API-Key', `${key}x`).expect(401);
    });

    it('is closed with the application', async () => {
      const store = app.get(ApiKeyRepository) as SqliteApiKeyStore | PostgresApiKeyStore | InMemoryApiKeyStore;
      await app.close();
      const after = store.findById('any');
      if (scheme.closes) await expect(after).rejects.toThrow();
      else await expect(after).resolves.toBeNull();
    });
  });
});

describe('createApiKeyStore outside Nest', () => {
  it('creates the missing directories of a SQLite file, and the store opens the file again later', async () => {
    const path = freshSqlitePath();
    const first = await createApiKeyStore(`sqlite:${path}`, { migrate: true });
    await first.close();
    expect(existsSync(path)).toBe(true);
    const again = await createApiKeyStore(`sqlite:${path}`); // no migrate: the schema is current
    await expect(again.list()).resolves.toEqual([]);
    await again.close();
  });

  it('refuses a SQLite file whose schema is behind without migrate, naming the CLI command, and closes it', async () => {
    await expect(createApiKeyStore(`sqlite:${freshSqlitePath()}`)).rejects.toThrow('npx nestjs-api-key migrate');
  });

  it.each([
    [
      undefined,
      'a store URL is needed (sqlite:./data/api-keys.db, postgres://user:password@host:5432/database or memory:), got undefined',
    ],
    [
      '',
      'a store URL is needed (sqlite:./data/api-keys.db, postgres://user:password@host:5432/database or memory:), got an empty string',
    ],
    [
      './keys.db',
      'unknown store URL scheme: a value without a scheme; use sqlite:./data/api-keys.db, postgres://user:password@host:5432/database or memory:',
    ],
    [
      'mysql://admin:s3cret@db/keys',
      'unknown store URL scheme: "mysql:"; use sqlite:./data/api-keys.db, postgres://user:password@host:5432/database or memory:',
    ],
    ['sqlite:', 'a sqlite: URL needs a file path, like sqlite:./data/api-keys.db'],
    ['sqlite://', 'a sqlite: URL needs a file path, like sqlite:./data/api-keys.db'],
    ['SQLite:  ', 'a sqlite: URL needs a file path, like sqlite:./data/api-keys.db'],
    [
      'postgres://',
      'a postgres: URL looks like postgres://user:password@host:5432/database (percent-encode reserved characters in the user and password)',
    ],
    [
      'postgresql:admin:s3cret@db/keys',
      'a postgresql: URL looks like postgresql://user:password@host:5432/database (percent-encode reserved characters in the user and password)',
    ],
    [
      'postgres://admin:s3cret@db:port/keys',
      'a postgres: URL looks like postgres://user:password@host:5432/database (percent-encode reserved characters in the user and password)',
    ],
    ['memory:shared', 'a memory: URL takes nothing after "memory:"'],
  ])('refuses %j with ApiKeyConfigurationError: %s', async (url, message) => {
    const failure = createApiKeyStore(url);
    await expect(failure).rejects.toThrow(ApiKeyConfigurationError);
    await expect(failure).rejects.toThrow(`nestjs-api-key: ${message}`);
    await expect(failure).rejects.not.toThrow('s3cret');
  });

  it('refuses an unknown option, suggesting the nearest', async () => {
    await expect(createApiKeyStore('memory:', { migrat: true } as never)).rejects.toThrow(
      'nestjs-api-key: unknown option "createApiKeyStore.migrat": did you mean "migrate"?',
    );
  });

  it('stops the application at bootstrap when the URL is wrong, with the message', async () => {
    const starting = startApp(
      {
        imports: [
          ApiKeyModule.forRootAsync({
            useFactory: async () => ({ repository: await createApiKeyStore('postgress://admin:s3cret@db/keys') }),
          }),
        ],
      },
      platforms[0],
    );
    await expect(starting).rejects.toThrow('unknown store URL scheme: "postgress:"');
  });
});

describe('a relative SQLite path in a fresh working directory (the README case)', () => {
  const cwd = process.cwd();
  const fresh = join(dir.path, 'fresh-app');
  beforeAll(() => {
    mkdirSync(fresh);
    process.chdir(fresh);
  });
  afterAll(() => process.chdir(cwd));

  it.each(platforms)(
    'starts on $name with SqliteApiKeyStore({ database: "data/api-keys.db" }) and with sqlite:./data/keys.db',
    async (platform) => {
      const app = await startApp(
        {
          imports: [
            ApiKeyModule.forRoot({
              repository: new SqliteApiKeyStore({ database: `data-${platform.name}/api-keys.db`, migrate: true }),
            }),
          ],
        },
        platform,
      );
      await app.close();
      const store = await createApiKeyStore(`sqlite:./data-${platform.name}/nested/keys.db`, { migrate: true });
      await store.close();
      expect(existsSync(join(fresh, `data-${platform.name}`, 'api-keys.db'))).toBe(true);
      expect(existsSync(join(fresh, `data-${platform.name}`, 'nested', 'keys.db'))).toBe(true);
    },
  );
});

/**
 * Which modules `createApiKeyStore(url)` loads, seen from a fresh Node process running the built
 * package: a module-resolution hook (`module.register`) appends every URL the process resolves to
 * a log file, so a driver or store entry point that is imported (statically or dynamically) shows
 * up there. The hook sees ESM resolution only, so the child adds what it loaded with `require` (the
 * drivers are loaded that way, so that a missing one can be named) from `require.cache`.
 * `better-sqlite3` is `require`d in the SQLite worker thread, so the SQLite side is watched through
 * its entry point, which is what starts that worker.
 */
describe('the driver a URL needs, and no other, is loaded', () => {
  const hooks = join(dir.path, 'record-resolutions.mjs');
  const register = join(dir.path, 'register.mjs');
  beforeAll(() => {
    writeFileSync(
      hooks,
      `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(process.env.RESOLUTION_LOG, resolved.url + '\\n');
  return resolved;
}
`,
    );
    writeFileSync(
      register,
      `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
    );
  });

  /** Runs `createApiKeyStore(url)` from the built ESM entry point in a child process; resolves to the URLs it resolved. */
  function resolvedBy(url: string | undefined, log: string): Promise<string[]> {
    const main = pathToFileURL(join(root, 'dist', 'esm', 'index.js')).href;
    const script = join(dir.path, 'open-store.mjs');
    writeFileSync(
      script,
      `import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const { createApiKeyStore } = await import(${JSON.stringify(main)});
if (process.env.STORE_URL) await (await createApiKeyStore(process.env.STORE_URL, { migrate: true })).close();
const required = Object.keys(createRequire(import.meta.url).cache);
appendFileSync(process.env.RESOLUTION_LOG, required.map((path) => path + '\\n').join(''));
`,
    );
    return new Promise((done, fail) => {
      execFile(
        process.execPath,
        ['--import', pathToFileURL(register).href, script],
        { env: { PATH: process.env.PATH, RESOLUTION_LOG: log, STORE_URL: url ?? '' }, encoding: 'utf8' },
        (error, _stdout, stderr) => {
          if (error) return fail(new Error(`child failed: ${stderr}`));
          done(readFileSync(log, 'utf8').trim().split('\n'));
        },
      );
    });
  }

  const loads = (resolved: string[], part: string) => resolved.some((url) => url.includes(part));
  let logs = 0;
  const logFile = () => join(dir.path, `resolved-${logs++}.log`);

  it('loads neither driver nor store entry point with the main entry point', async () => {
    const resolved = await resolvedBy(undefined, logFile());
    expect(loads(resolved, '/dist/esm/index.js')).toBe(true); // the hook does record
    for (const part of [
      '/node_modules/pg/',
      '/node_modules/better-sqlite3/',
      '/dist/esm/sqlite/',
      '/dist/esm/postgres/',
    ])
      expect([part, loads(resolved, part)]).toEqual([part, false]);
  });

  it('loads the SQLite entry point for sqlite:, and neither pg nor the PostgreSQL entry point', async () => {
    const resolved = await resolvedBy(`sqlite:${freshSqlitePath()}`, logFile());
    expect(loads(resolved, '/dist/esm/sqlite/index.js')).toBe(true);
    for (const part of ['/node_modules/pg/', '/dist/esm/postgres/'])
      expect([part, loads(resolved, part)]).toEqual([part, false]);
  });

  it('loads pg and the PostgreSQL entry point for postgres://, and not the SQLite entry point', async () => {
    const resolved = await resolvedBy(await postgresUrlOnNewSchema(), logFile());
    expect(loads(resolved, '/dist/esm/postgres/index.js')).toBe(true);
    expect(loads(resolved, '/node_modules/pg/')).toBe(true);
    for (const part of ['/node_modules/better-sqlite3/', '/dist/esm/sqlite/'])
      expect([part, loads(resolved, part)]).toEqual([part, false]);
  });
});

/**
 * The same for the CommonJS build, where every module loaded is in `require.cache`: a child
 * process requires `dist/cjs`, runs `createApiKeyStore(url)` and prints the cache's file names.
 */
describe('the driver a URL needs, and no other, is loaded by the CommonJS build', () => {
  function requiredBy(url: string): Promise<string[]> {
    const script = join(dir.path, 'open-store.cjs');
    writeFileSync(
      script,
      `const { createApiKeyStore } = require(${JSON.stringify(join(root, 'dist', 'cjs', 'index.js'))});
createApiKeyStore(process.env.STORE_URL, { migrate: true })
  .then((store) => store.close())
  .then(() => console.log(JSON.stringify(Object.keys(require.cache))));
`,
    );
    return new Promise((done, fail) => {
      execFile(
        process.execPath,
        [script],
        { env: { PATH: process.env.PATH, STORE_URL: url }, encoding: 'utf8' },
        (error, stdout, stderr) => (error ? fail(new Error(`child failed: ${stderr}`)) : done(JSON.parse(stdout))),
      );
    });
  }
  const loads = (files: string[], part: string) => files.some((file) => file.includes(part));

  it('sqlite: loads the SQLite entry point, not pg', async () => {
    const files = await requiredBy(`sqlite:${freshSqlitePath()}`);
    expect(loads(files, '/dist/cjs/sqlite/index.js')).toBe(true);
    expect(loads(files, '/node_modules/pg/')).toBe(false);
    expect(loads(files, '/dist/cjs/postgres/')).toBe(false);
  });

  it('postgres:// loads pg, not the SQLite entry point', async () => {
    const files = await requiredBy(await postgresUrlOnNewSchema());
    expect(loads(files, '/node_modules/pg/')).toBe(true);
    expect(loads(files, '/dist/cjs/sqlite/')).toBe(false);
    expect(loads(files, '/node_modules/better-sqlite3/')).toBe(false);
  });
});
