import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Query, type INestApplication, type ModuleMetadata } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import request from 'supertest';
import {
  ApiKeyHasher,
  ApiKeyModule,
  ApiKeyRepository,
  InMemoryApiKeyStore,
  type ApiKeyChangeFeed,
  type ApiKeyModuleOptions,
  type ApiKeyRecord,
} from 'nestjs-api-key';
import { ApiKeyHealthIndicator } from 'nestjs-api-key/health';
import { ApiKeyRateLimitModule } from 'nestjs-api-key/rate-limit';
import { platforms, startApp } from '../support/platforms.js';

const KEY = { name: 'health-test', key: 'health-test-key-0000000000001', scopes: ['orders:read'] };

/** A health endpoint checking all three, as an application writes it; `?timeout=` sets the store check's. */
@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly apiKeys: ApiKeyHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check(@Query('timeout') timeout?: string) {
    return this.health.check([
      () => this.apiKeys.checkStore('api-key-store', { timeout: timeout ? Number(timeout) : undefined }),
      () => this.apiKeys.checkChangeFeed(),
      () => this.apiKeys.checkRateLimit(),
    ]);
  }
}

/** The in-memory store, counting every call that could read or write a key. */
class CountingRepository extends InMemoryApiKeyStore {
  static keyCalls = 0;
  override findByHash(hash: string) {
    CountingRepository.keyCalls++;
    return super.findByHash(hash);
  }
  override findById(id: string) {
    CountingRepository.keyCalls++;
    return super.findById(id);
  }
  override list() {
    CountingRepository.keyCalls++;
    return super.list();
  }
  override touch(lastUsed: ReadonlyMap<string, Date>) {
    CountingRepository.keyCalls++;
    return super.touch(lastUsed);
  }
}

/** A custom repository written before `checkHealth` existed: the lookup only. */
class LookupOnlyRepository extends ApiKeyRepository {
  findByHash(): Promise<ApiKeyRecord | null> {
    return Promise.resolve(null);
  }
}

/** A repository whose storage is down: its check fails, as a broken connection's would. */
class FailingRepository extends LookupOnlyRepository {
  override checkHealth(): Promise<void> {
    return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1'));
  }
}

/** A repository whose storage never answers (a stalled link). */
class StalledRepository extends LookupOnlyRepository {
  override checkHealth(): Promise<void> {
    return new Promise(() => undefined);
  }
}

/** A store with a change feed of its own (as a custom shared store has), its listening state set by the test. */
class FeedRepository extends InMemoryApiKeyStore implements ApiKeyChangeFeed {
  listening = true;
  watchChanges(): () => void {
    return () => undefined;
  }
  isListening(): boolean {
    return this.listening;
  }
}

describe.each(platforms)('ApiKeyHealthIndicator with @nestjs/terminus on $name', (platform) => {
  const apps: INestApplication[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  async function start(options: ApiKeyModuleOptions, imports: ModuleMetadata['imports'] = []) {
    const app = await startApp(
      {
        imports: [ApiKeyModule.forRoot({ ...options, isGlobal: true }), TerminusModule, ...imports],
        controllers: [HealthController],
        providers: [ApiKeyHealthIndicator],
      },
      platform,
    );
    apps.push(app);
    return app;
  }

  it('reports each part up with the in-memory store, saying there is no cache and no rate limiting', async () => {
    const app = await start({ keys: [KEY] });
    const res = await request(app.getHttpServer()).get('/health').expect(200);
    expect(res.body).toEqual({
      status: 'ok',
      info: {
        'api-key-store': { status: 'up' },
        'api-key-change-feed': { status: 'up', message: 'no cache: nothing uses the change feed' },
        'api-key-rate-limit': { status: 'up', message: 'rate limiting is not configured' },
      },
      error: {},
      details: {
        'api-key-store': { status: 'up' },
        'api-key-change-feed': { status: 'up', message: 'no cache: nothing uses the change feed' },
        'api-key-rate-limit': { status: 'up', message: 'rate limiting is not configured' },
      },
    });
  });

  it('checks the rate-limit counters when ApiKeyRateLimitModule is imported (in memory: up)', async () => {
    const app = await start({ keys: [KEY] }, [
      ApiKeyRateLimitModule.forRoot({ limit: { points: 10, durationMs: 60_000 } }),
    ]);
    const res = await request(app.getHttpServer()).get('/health').expect(200);
    expect(res.body.info['api-key-rate-limit']).toEqual({ status: 'up' });
  });

  it('reports the change feed up while it listens and down (503) while not, with a cache in front', async () => {
    const repository = new FeedRepository();
    const app = await start({ keys: [KEY], repository, cache: true });
    const up = await request(app.getHttpServer()).get('/health').expect(200);
    expect(up.body.info['api-key-change-feed']).toEqual({ status: 'up' });
    repository.listening = false;
    const down = await request(app.getHttpServer()).get('/health').expect(503);
    const message = 'not listening for changes: reconnecting';
    expect(down.body.error).toEqual({ 'api-key-change-feed': { status: 'down', message } });
    expect(down.body.info['api-key-store']).toEqual({ status: 'up' });
  });

  it('reports the change feed up without a cache, since nothing uses it then', async () => {
    const repository = new FeedRepository();
    repository.listening = false;
    const app = await start({ keys: [KEY], repository });
    const res = await request(app.getHttpServer()).get('/health').expect(200);
    const message = 'no cache: nothing uses the change feed';
    expect(res.body.info['api-key-change-feed']).toEqual({ status: 'up', message });
  });

  it('never touches a key: no lookup, read or write reaches the store; the answer holds no key or hash', async () => {
    CountingRepository.keyCalls = 0;
    const app = await start({ keys: [KEY], repository: CountingRepository, cache: true });
    const hash = app.get(ApiKeyHasher).hash(KEY.key);
    for (let i = 0; i < 3; i++) {
      const res = await request(app.getHttpServer()).get('/health').expect(200);
      expect(res.text).not.toContain(KEY.key);
      expect(res.text).not.toContain(hash);
    }
    expect(CountingRepository.keyCalls).toBe(0);
  });

  it('reports the store down (503) when its check fails, with the reason', async () => {
    const app = await start({ repository: FailingRepository });
    const res = await request(app.getHttpServer()).get('/health').expect(503);
    expect(res.body.status).toBe('error');
    const message = 'connect ECONNREFUSED 127.0.0.1:1';
    expect(res.body.error).toEqual({ 'api-key-store': { status: 'down', message } });
    expect(res.body.info['api-key-change-feed'].status).toBe('up');
  });

  it('reports the store down when its check does not answer within the timeout', async () => {
    const app = await start({ repository: StalledRepository });
    const res = await request(app.getHttpServer()).get('/health?timeout=200').expect(503);
    expect(res.body.error).toEqual({ 'api-key-store': { status: 'down', message: 'no answer within 200 ms' } });
  });

  it('reports a store without checkHealth down rather than up, saying why', async () => {
    const app = await start({ repository: LookupOnlyRepository });
    const res = await request(app.getHttpServer()).get('/health').expect(503);
    expect(res.body.error['api-key-store']).toEqual({
      status: 'down',
      message: 'the key store has no checkHealth(): it cannot be checked without reading a key',
    });
  });

  it('answers 500 for an invalid timeout (a configuration error), not a health verdict', async () => {
    const app = await start({ keys: [KEY] });
    await request(app.getHttpServer()).get('/health?timeout=-1').expect(500);
  });
});
