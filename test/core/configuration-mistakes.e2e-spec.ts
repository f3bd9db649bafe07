import { afterEach, describe, expect, it } from '@jest/globals';
import { Module, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import {
  ApiKeyConfigurationError,
  ApiKeyModule,
  CachedApiKeyStore,
  InMemoryApiKeyStore,
  type ApiKeyModuleOptions,
} from 'nestjs-api-key';
import { PostgresApiKeyStore } from 'nestjs-api-key/postgres';
import { SqliteApiKeyStore } from 'nestjs-api-key/sqlite';
import { POSTGRES_URL } from '../support/databases.js';
import { READER } from '../support/keys.js';

/** Keeps what the application logs, by level. */
class CapturingLogger implements LoggerService {
  readonly warnings: string[] = [];
  readonly errors: string[] = [];
  log = () => undefined;
  warn = (message: unknown) => void this.warnings.push(String(message));
  error = (message: unknown) => void this.errors.push(String(message));
  debug = () => undefined;
  verbose = () => undefined;
}

const PEPPER = 'configuration-test-pepper-01';
const NO_KEYS_WARNING =
  'No keys and no repository are configured: every request is refused until keys are created with ' +
  'ApiKeyService (kept in memory, lost on restart). Set `keys` or `repository` in the ApiKeyModule options.';
const NO_PEPPER_RISK =
  'keys in SqliteApiKeyStore are stored under plain SHA-256 hashes, which a leaked store lets an attacker ' +
  'check guessed keys against. Set `pepper` to a secret of at least 16 characters kept out of the store, ' +
  'or `pepper: false` to accept plain hashes';

/** Compiles and initialises a module importing `ApiKeyModule.forRoot(options)`, as `Test.createTestingModule` users do. */
async function bootstrap(options: unknown, logger = new CapturingLogger()) {
  const moduleRef = await Test.createTestingModule({ imports: [ApiKeyModule.forRoot(options as ApiKeyModuleOptions)] })
    .setLogger(logger)
    .compile();
  const app = moduleRef.createNestApplication(new ExpressAdapter(), { logger });
  await app.init();
  await app.close();
  return logger;
}

const failure = (promise: Promise<unknown>) => promise.then(() => undefined).catch((error: unknown) => error);
const sqlite = () => new SqliteApiKeyStore({ database: ':memory:', migrate: true });

describe('unknown option names stop the application, naming the option and the nearest known one', () => {
  it.each([
    ['peper', { peper: PEPPER }, 'unknown option "peper": did you mean "pepper"?'],
    ['sources.headers', { sources: { headers: 'X-Key' } }, 'unknown option "sources.headers": did you mean "header"?'],
    [
      'keys[0].scope',
      { keys: [{ name: 'reader', key: READER.key, scope: ['a'] }] },
      'unknown option "keys[0].scope": did you mean "scopes"?',
    ],
    ['cache.ttl', { keys: [READER], cache: { ttl: 1000 } }, 'unknown option "cache.ttl": did you mean "ttlMs"?'],
    [
      'userproperty',
      { keys: [READER], userproperty: 'user' },
      'unknown option "userproperty": did you mean "userProperty"?',
    ],
    [
      'nothing close',
      { keys: [READER], database: 'x' },
      'unknown option "database": known options: sources, keys, repository, pepper, realm, maxKeyLength, ' +
        'lookupTimeoutMs, keyPrefix, onlyGeneratedKeys, lastUsedIntervalMs, events, userProperty, cache, ' +
        'expiryWarnings, maxActiveKeysPerOwner, keyLifetime',
    ],
  ])('forRoot: %s', async (_name, options, message) => {
    const error = await failure(bootstrap(options));
    expect(error).toBeInstanceOf(ApiKeyConfigurationError);
    expect((error as Error).message).toBe(`nestjs-api-key: ${message}`);
  });

  it('forRootAsync: a factory result with a misspelt name', async () => {
    const error = await failure(
      Test.createTestingModule({
        imports: [ApiKeyModule.forRootAsync({ useFactory: () => ({ keys: [READER], peper: PEPPER }) })],
      }).compile(),
    );
    expect(error).toEqual(new ApiKeyConfigurationError('unknown option "peper": did you mean "pepper"?'));
  });

  it('NestFactory.create: the error reaches the code that bootstraps the application', async () => {
    @Module({ imports: [ApiKeyModule.forRoot({ keys: [READER], sources: { headers: 'X-Key' } } as never)] })
    class AppModule {}
    const error = await failure(NestFactory.create(AppModule, { logger: false, abortOnError: false }));
    expect(error).toEqual(new ApiKeyConfigurationError('unknown option "sources.headers": did you mean "header"?'));
  });

  it('isGlobal is an extra of forRoot, not an unknown option', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ApiKeyModule.forRoot({ keys: [READER], isGlobal: true })],
    }).compile();
    await moduleRef.close();
  });

  it.each([
    [
      'SqliteApiKeyStore',
      () => new SqliteApiKeyStore({ databse: ':memory:' } as never),
      '"databse": did you mean "database"?',
    ],
    [
      'SqliteApiKeyStore tables',
      () => new SqliteApiKeyStore({ database: ':memory:', tables: { key: 'k' } } as never),
      '"tables.key": did you mean "keys"?',
    ],
    [
      'PostgresApiKeyStore',
      () => new PostgresApiKeyStore({ connection: POSTGRES_URL, migrations: true } as never),
      '"migrations": did you mean "migrate"?',
    ],
    [
      'CachedApiKeyStore',
      () => new CachedApiKeyStore(new InMemoryApiKeyStore(), { ttl: 1000 } as never),
      '"cache.ttl": did you mean "ttlMs"?',
    ],
  ])('%s constructor', (_name, build, message) => {
    expect(build).toThrow(new ApiKeyConfigurationError(`unknown option ${message}`));
  });
});

describe('a module that cannot admit any key warns at startup', () => {
  it('forRoot({}): one warning saying what to configure', async () => {
    const logger = await bootstrap({});
    expect(logger.warnings).toEqual([NO_KEYS_WARNING]);
  });

  it('NestFactory.create logs it through the application logger', async () => {
    @Module({ imports: [ApiKeyModule.forRoot({})] })
    class AppModule {}
    const logger = new CapturingLogger();
    const app = await NestFactory.create(AppModule, { logger, abortOnError: false });
    await app.close();
    expect(logger.warnings).toEqual([NO_KEYS_WARNING]);
  });

  it.each([
    ['static keys', { keys: [READER] }],
    ['a repository the application fills', { repository: new InMemoryApiKeyStore() }],
  ])('no warning with %s', async (_name, options) => {
    expect((await bootstrap(options)).warnings).toEqual([]);
  });
});

describe('a missing pepper where stored hashes need one', () => {
  const nodeEnv = process.env.NODE_ENV;
  afterEach(() => {
    process.env.NODE_ENV = nodeEnv;
  });

  it('warns once at startup outside production, and the application starts', async () => {
    const logger = await bootstrap({ repository: sqlite() });
    expect(logger.warnings).toEqual([`No pepper is set: ${NO_PEPPER_RISK}.`]);
  });

  it('is an ApiKeyConfigurationError when NODE_ENV is production', async () => {
    process.env.NODE_ENV = 'production';
    const error = await failure(bootstrap({ repository: sqlite() }));
    expect(error).toEqual(
      new ApiKeyConfigurationError(`no pepper is set and NODE_ENV is "production": ${NO_PEPPER_RISK}`),
    );
  });

  it.each([
    ['pepper: false says plain hashes are intended', () => ({ repository: sqlite(), pepper: false })],
    ['a pepper is set', () => ({ repository: sqlite(), pepper: PEPPER })],
    ['hashes stay in the process (static keys, in-memory store)', () => ({ keys: [READER] })],
  ])('neither warning nor error in production when %s', async (_name, options) => {
    process.env.NODE_ENV = 'production';
    const logger = await bootstrap(options());
    expect(logger.warnings).toEqual([]);
  });
});
