import { afterAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, Module, Req, UseGuards, type INestApplication } from '@nestjs/common';
import { ConfigModule, ConfigService, registerAs } from '@nestjs/config';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  ApiKey,
  ApiKeyConfigurationError,
  ApiKeyGuard,
  ApiKeyModule,
  ApiKeyRepository,
  ApiKeyHasher,
  InMemoryApiKeyStore,
  type ApiKeyModuleOptions,
  type ApiKeyPrincipal,
  type ApiKeyRecord,
  type RequestWithApiKey,
} from 'nestjs-api-key';
import { READER, TEST_KEYS, WRITER } from '../support/keys.js';
import { platforms, startApp } from '../support/platforms.js';
import { GlobalController, OrdersController } from '../support/test-controllers.js';

/** A provider a repository class depends on, to prove the class is built through DI. */
@Injectable()
class KeyTable {
  readonly records = new Map<string, ApiKeyRecord>();
}

@Module({ providers: [KeyTable], exports: [KeyTable] })
class KeyTableModule {}

@Injectable()
class TableRepository extends ApiKeyRepository {
  constructor(private readonly table: KeyTable) {
    super();
  }
  findByHash(hash: string): Promise<ApiKeyRecord | null> {
    return Promise.resolve(this.table.records.get(hash) ?? null);
  }
}

/** A feature module using the guard without importing ApiKeyModule (needs isGlobal). */
@Controller('feature')
@UseGuards(ApiKeyGuard)
class FeatureController {
  @Get()
  get() {
    return { feature: true };
  }
}
@Module({ controllers: [FeatureController] })
class FeatureModule {}

const ENV = { API_KEY_READER: READER.key, API_KEY_PEPPER: 'pepper-from-environment-0001' };

describe.each(platforms)('ApiKeyModule configuration on $name', (platform) => {
  const apps: INestApplication[] = [];
  afterAll(() => Promise.all(apps.map((app) => app.close())));
  const start = async (...args: Parameters<typeof startApp>) => {
    const app = await startApp(...args);
    apps.push(app);
    return app;
  };
  const whoami = (app: INestApplication, key = READER.key) =>
    request(app.getHttpServer()).get('/orders/whoami').set('X-API-Key', key);

  it('forRootAsync with a ConfigService factory reads keys from the environment', async () => {
    const app = await start(
      {
        imports: [
          ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ENV] }),
          ApiKeyModule.forRootAsync({
            imports: [ConfigModule],
            inject: [ConfigService],
            useFactory: (config: ConfigService): ApiKeyModuleOptions => ({
              pepper: config.getOrThrow('API_KEY_PEPPER'),
              keys: [{ name: 'reader', key: config.getOrThrow('API_KEY_READER'), scopes: ['orders:read'] }],
            }),
          }),
        ],
        controllers: [OrdersController],
      },
      platform,
    );
    await whoami(app).expect(200);
  });

  it('forRootAsync accepts registerAs(...).asProvider() as is', async () => {
    const apiKeyConfig = registerAs('apiKey', (): ApiKeyModuleOptions => ({
      keys: [{ name: 'reader', key: ENV.API_KEY_READER }],
    }));
    const app = await start(
      {
        imports: [ConfigModule.forRoot({ ignoreEnvFile: true }), ApiKeyModule.forRootAsync(apiKeyConfig.asProvider())],
        controllers: [OrdersController],
      },
      platform,
    );
    await whoami(app).expect(200);
  });

  it('forRootAsync with useClass', async () => {
    @Injectable()
    class OptionsFactory {
      create(): ApiKeyModuleOptions {
        return { keys: [READER] };
      }
    }
    const app = await start(
      { imports: [ApiKeyModule.forRootAsync({ useClass: OptionsFactory })], controllers: [OrdersController] },
      platform,
    );
    await whoami(app).expect(200);
  });

  it('forRootAsync with useExisting reuses a provider from the imported module', async () => {
    @Injectable()
    class SharedOptions {
      create(): ApiKeyModuleOptions {
        return { keys: [READER] };
      }
    }
    @Module({ providers: [SharedOptions], exports: [SharedOptions] })
    class SharedOptionsModule {}
    const app = await start(
      {
        imports: [ApiKeyModule.forRootAsync({ imports: [SharedOptionsModule], useExisting: SharedOptions })],
        controllers: [OrdersController],
      },
      platform,
    );
    await whoami(app).expect(200);
  });

  it('builds a repository class through DI with dependencies from forRootAsync imports', async () => {
    const app = await start(
      {
        imports: [
          ApiKeyModule.forRootAsync({
            imports: [KeyTableModule],
            useFactory: () => ({ repository: TableRepository, pepper: ENV.API_KEY_PEPPER }),
          }),
        ],
        controllers: [OrdersController],
      },
      platform,
    );
    const hasher = app.get(ApiKeyHasher);
    const table = app.get(KeyTable, { strict: false });
    const key = 'repository-key-0000000000001';
    table.records.set(hasher.hash(key), { id: 'k1', name: 'from-table', hash: hasher.hash(key), scopes: [] });
    expect(app.get(ApiKeyRepository)).toBeInstanceOf(TableRepository);
    const res = await whoami(app, key).expect(200);
    expect(res.body.name).toBe('from-table');
  });

  it('accepts a repository instance, and keeps no plaintext or hash on the principal', async () => {
    const hasher = new ApiKeyHasher();
    const key = 'instance-key-0000000000000001';
    const repository = new InMemoryApiKeyStore([
      { id: 'k2', name: 'instance', hash: hasher.hash(key), scopes: ['a'], metadata: { tier: 'gold' } },
    ]);
    const app = await start(
      { imports: [ApiKeyModule.forRoot({ repository })], controllers: [OrdersController] },
      platform,
    );
    const res = await whoami(app, key).expect(200);
    expect(res.body).toEqual({ id: 'k2', name: 'instance', scopes: ['a'], ownerId: null, metadata: { tier: 'gold' } });
    expect(res.text).not.toContain(hasher.hash(key));
  });

  it('with isGlobal, @UseGuards(ApiKeyGuard) works in a module that does not import ApiKeyModule', async () => {
    const app = await start(
      { imports: [ApiKeyModule.forRoot({ keys: TEST_KEYS, isGlobal: true }), FeatureModule] },
      platform,
    );
    await request(app.getHttpServer()).get('/feature').expect(401);
    await request(app.getHttpServer()).get('/feature').set('X-API-Key', READER.key).expect(200);
  });

  it('as a global APP_GUARD, protects every route except @Public() ones and puts the principal on the request', async () => {
    const app = await start(
      {
        imports: [ApiKeyModule.forRoot({ keys: TEST_KEYS })],
        controllers: [GlobalController],
        providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }],
      },
      platform,
    );
    await request(app.getHttpServer()).get('/global/open').expect(200, { open: true });
    await request(app.getHttpServer()).get('/global/closed').expect(401);
    await request(app.getHttpServer()).get('/global/closed').set('X-API-Key', READER.key).expect(200, { id: 'reader' });
  });

  it('puts the same principal on request.apiKey as @ApiKey() gives the handler', async () => {
    @Controller('raw')
    @UseGuards(ApiKeyGuard)
    class RawRequestController {
      @Get()
      get(@Req() req: RequestWithApiKey, @ApiKey() principal: ApiKeyPrincipal) {
        return { same: req.apiKey === principal, principal: req.apiKey };
      }
    }
    const app = await start(
      { imports: [ApiKeyModule.forRoot({ keys: TEST_KEYS })], controllers: [RawRequestController] },
      platform,
    );
    const res = await request(app.getHttpServer()).get('/raw').set('X-API-Key', READER.key).expect(200);
    expect(res.body).toEqual({
      same: true,
      principal: {
        id: 'reader',
        name: 'reader',
        scopes: ['orders:read'],
        ownerId: 'team-a',
        metadata: { plan: 'free' },
      },
    });
  });

  it("keeps each request's principal to that request, on requests before, between, after and while it waits", async () => {
    @Controller('each')
    class EachRequestController {
      @Get('open')
      open(@Req() req: RequestWithApiKey) {
        return { principal: req.apiKey ?? null };
      }

      @Get('closed')
      @UseGuards(ApiKeyGuard)
      closed(@Req() req: RequestWithApiKey, @ApiKey('id') id: string) {
        if (id === 'writer') markWriterHandled();
        return { principal: req.apiKey?.id, decorator: id };
      }
    }
    // Once `writerHandled` is set, the reader's lookup answers only after a writer's request has
    // reached its handler: the writer is authenticated while the reader's request waits.
    let writerHandled: Promise<void> | undefined;
    let markWriterHandled: () => void = () => undefined;
    const hasher = new ApiKeyHasher();
    class SlowRepository extends ApiKeyRepository {
      async findByHash(hash: string): Promise<ApiKeyRecord | null> {
        const id = hash === hasher.hash(READER.key) ? 'reader' : hash === hasher.hash(WRITER.key) ? 'writer' : null;
        if (id === 'reader') await writerHandled;
        return id && { id, name: id, hash, scopes: [] };
      }
    }
    const app = await start(
      { imports: [ApiKeyModule.forRoot({ repository: new SlowRepository() })], controllers: [EachRequestController] },
      platform,
    );
    const server = app.getHttpServer();
    await request(server).get('/each/open').expect(200, { principal: null });
    await request(server)
      .get('/each/closed')
      .set('X-API-Key', READER.key)
      .expect(200, { principal: 'reader', decorator: 'reader' });
    await request(server).get('/each/open').expect(200, { principal: null });
    writerHandled = new Promise((resolve) => (markWriterHandled = resolve));
    const together = await Promise.all([
      request(server).get('/each/closed').set('X-API-Key', READER.key),
      request(server).get('/each/closed').set('X-API-Key', WRITER.key),
      request(server).get('/each/open'),
      request(server).get('/each/closed').set('X-API-Key', WRITER.key),
    ]);
    expect(together.map((res) => res.body)).toEqual([
      { principal: 'reader', decorator: 'reader' },
      { principal: 'writer', decorator: 'writer' },
      { principal: null },
      { principal: 'writer', decorator: 'writer' },
    ]);
  });
});

describe('ApiKeyModule misconfiguration', () => {
  const compile = (options: unknown) =>
    Test.createTestingModule({ imports: [ApiKeyModule.forRoot(options as ApiKeyModuleOptions)] }).compile();

  it.each([
    [
      { keys: [{ name: 'x', key: undefined }] },
      'keys[0] ("x").key must be a string of at least 16 characters (is the environment variable set?)',
    ],
    [{ keys: [{ name: 'x', key: 'short' }] }, 'keys[0] ("x").key must be a string of at least 16 characters'],
    [{ keys: [{ name: 'x', key: 'has a space in it 0000' }] }, 'visible ASCII characters'],
    [{ keys: [{ name: '', key: 'a-valid-looking-key-000001' }] }, 'keys[0].name must be a non-empty string'],
    [{ keys: [READER, { ...READER, name: 'copy' }] }, 'the same key is configured twice'],
    [{ keys: [READER, { ...READER, key: 'another-valid-key-000000001' }] }, 'id "reader" is used twice'],
    [{ keys: [{ ...READER, scopes: 'orders:read' }] }, 'scopes must be an array of non-empty strings'],
    [{ sources: { header: false } }, 'every key source is disabled'],
    [{ sources: { header: 'Authorization' } }, 'use sources.bearer instead'],
    [{ sources: { header: 'bad header' } }, 'sources.header must be a non-empty string'],
    [{ sources: { bearer: 'yes' } }, 'sources.bearer must be a boolean'],
    [{ pepper: 'short' }, 'pepper must be a string'],
    [{ maxKeyLength: 0 }, 'maxKeyLength must be a positive integer'],
    [{ lookupTimeoutMs: -1 }, 'lookupTimeoutMs must be a positive integer'],
    [{ lookupTimeoutMs: 2 ** 31 }, 'lookupTimeoutMs must be at most 2147483647 ms'],
    [{ lastUsedIntervalMs: 30 * 86_400_000 }, 'lastUsedIntervalMs must be at most 2147483647 ms'],
    [{ repository: {} }, 'repository must be an ApiKeyRepository class or instance'],
  ])('throws ApiKeyConfigurationError for %j', async (options, message) => {
    const error = await compile(options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiKeyConfigurationError);
    expect((error as Error).message).toContain(message);
  });

  it('never puts the configured key in the error message', async () => {
    const secret = 'secret key with spaces 00001';
    const error = (await compile({ keys: [{ name: 'x', key: secret }] }).catch((e: unknown) => e)) as Error;
    expect(error.message).not.toContain(secret);
  });

  it('throws when a forRootAsync factory returns nothing', async () => {
    const error = await Test.createTestingModule({
      imports: [ApiKeyModule.forRootAsync({ useFactory: () => undefined as never })],
    })
      .compile()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiKeyConfigurationError);
  });
});
