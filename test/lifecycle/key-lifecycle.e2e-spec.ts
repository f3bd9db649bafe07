import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, type INestApplication, type LoggerService, type ModuleMetadata } from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  ApiKeyClock,
  ApiKeyHasher,
  ApiKeyModule,
  ApiKeyRepository,
  ApiKeyService,
  InMemoryApiKeyStore,
  type ApiKeyEvent,
  type ApiKeyRecord,
} from 'nestjs-api-key';
import { ManualClock } from '../support/clock.js';
import { READER } from '../support/keys.js';
import { platforms, type Platform } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';

const PEPPER = 'lifecycle-e2e-pepper-0001';
const HOUR = 3_600_000;

/** Every line any Nest logger writes during the suite, to check escaping and leakage. */
class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log = (message: unknown) => void this.lines.push(`log ${String(message)}`);
  warn = (message: unknown) => void this.lines.push(`warn ${String(message)}`);
  error = (message: unknown) => void this.lines.push(`error ${String(message)}`);
  debug = () => undefined;
  verbose = () => undefined;
}

async function start(
  metadata: ModuleMetadata,
  platform: Platform,
  clock: ManualClock,
  logger: LoggerService | false = false,
) {
  const moduleRef = await Test.createTestingModule(metadata).overrideProvider(ApiKeyClock).useValue(clock).compile();
  const app = moduleRef.createNestApplication(platform.createAdapter(), { logger });
  await app.init();
  if (platform.name === 'fastify') await app.getHttpAdapter().getInstance().ready();
  return app;
}

@Injectable()
class EventCollector {
  readonly events: ApiKeyEvent[] = [];
  @OnEvent('api-key.*')
  collect(event: ApiKeyEvent) {
    this.events.push(event);
  }
}

describe.each(platforms)('key lifecycle over HTTP on $name', (platform) => {
  const clock = new ManualClock();
  const logger = new CapturingLogger();
  const presented: string[] = [];
  let app: INestApplication;
  let service: ApiKeyService;
  let collector: EventCollector;
  beforeAll(async () => {
    app = await start(
      {
        imports: [
          EventEmitterModule.forRoot({ wildcard: true }),
          ApiKeyModule.forRoot({ pepper: PEPPER, keyPrefix: 'acme_live', keys: [READER] }),
        ],
        controllers: [OrdersController],
        providers: [EventCollector],
      },
      platform,
      clock,
      logger,
    );
    service = app.get(ApiKeyService);
    collector = app.get(EventCollector);
  });
  afterAll(() => app.close());

  const call = (key: string) => {
    presented.push(key);
    return request(app.getHttpServer()).get('/orders').set('X-API-Key', key);
  };

  it('authenticates a created key and refuses it with the same 401 after each way it can stop working', async () => {
    const invalidBody = (await call('acme_live_garbage')).body;
    const expiring = await service.create({
      name: 'expiring',
      scopes: ['orders:read'],
      expiresAt: new Date(clock.now().getTime() + HOUR),
    });
    const revoked = await service.create({ name: 'revoked', scopes: ['orders:read'] });
    const disabled = await service.create({ name: 'disabled', scopes: ['orders:read'] });
    for (const { key } of [expiring, revoked, disabled]) await call(key).expect(200);
    await service.revoke(revoked.apiKey.id);
    await service.disable(disabled.apiKey.id);
    clock.advance(HOUR); // expiring.expiresAt exactly
    for (const { key } of [expiring, revoked, disabled]) {
      const res = await call(key).expect(401);
      expect(res.body).toEqual(invalidBody);
      expect(res.headers['www-authenticate']).toBe('ApiKey realm="api"');
    }
    await service.enable(disabled.apiKey.id);
    await call(disabled.key).expect(200);
    await call(READER.key).expect(200); // static keys from configuration keep working
  });

  it('rotates over HTTP: both secrets work during the grace period, the old one is refused right after', async () => {
    const { key: old, apiKey } = await service.create({ name: 'rotating', scopes: ['orders:read'] });
    const rotated = await service.rotate(apiKey.id, { gracePeriodMs: 60_000 });
    await call(old).expect(200);
    await call(rotated.key).expect(200);
    clock.advance(59_999);
    await call(old).expect(200);
    clock.advance(1);
    await call(old).expect(401);
    await call(rotated.key).expect(200);
    const immediate = await service.rotate(apiKey.id, { gracePeriodMs: 0 });
    await call(rotated.key).expect(401);
    await call(immediate.key).expect(200);
  });

  it('refuses a key with a bad checksum without touching storage', async () => {
    const store = app.get(ApiKeyRepository) as InMemoryApiKeyStore;
    const { key } = await service.create({ name: 'typo', scopes: ['orders:read'] });
    let lookups = 0;
    const findByHash = store.findByHash.bind(store);
    store.findByHash = (hash: string) => (lookups++, findByHash(hash));
    try {
      await call(`${key.slice(0, -1)}${key.endsWith('a') ? 'b' : 'a'}`).expect(401);
      expect(lookups).toBe(0);
      await call(key).expect(200);
      expect(lookups).toBe(1);
    } finally {
      store.findByHash = findByHash;
    }
  });

  it('delivers every lifecycle change and authentication outcome to EventEmitter2, never the key', async () => {
    collector.events.length = 0;
    const { key, apiKey } = await service.create({ name: 'observed', scopes: ['orders:read'] });
    await call(key).expect(200);
    await service.disable(apiKey.id);
    await call(key).expect(401);
    expect(collector.events.map((e) => [e.type, 'reason' in e ? e.reason : null, e.keyId])).toEqual([
      ['api-key.created', null, apiKey.id],
      ['api-key.authenticated', null, apiKey.id],
      ['api-key.disabled', null, apiKey.id],
      ['api-key.authentication-failed', 'disabled', apiKey.id],
    ]);
  });

  it('writes lastUsedAt once, when the application closes, not per request', async () => {
    const { key, apiKey } = await service.create({ name: 'used', scopes: ['orders:read'] });
    for (let i = 0; i < 5; i++) await call(key).expect(200);
    expect((await service.get(apiKey.id)).lastUsedAt).toBeNull();
    const store = app.get(ApiKeyRepository) as InMemoryApiKeyStore;
    await app.close();
    expect((await store.findById(apiKey.id))?.lastUsedAt).toEqual(clock.now());
  });

  it('never wrote a presented key, nor a long part of one, to a log line or an event', () => {
    const text = [...logger.lines, JSON.stringify(collector.events)].join('\n');
    for (const key of new Set(presented)) expect(text).not.toContain(key.slice(-24));
  });
});

describe.each(platforms)('events without @nestjs/event-emitter on $name', (platform) => {
  const clock = new ManualClock();
  const logger = new CapturingLogger();
  const hasher = new ApiKeyHasher([PEPPER]);
  const evilKey = 'evil-record-key-000000000001';
  let app: INestApplication;
  beforeAll(async () => {
    const repository = new InMemoryApiKeyStore([
      { id: 'evil\r\nFAKE login ok', name: 'evil', hash: hasher.hash(evilKey), scopes: [], disabled: true },
    ]);
    app = await start(
      { imports: [ApiKeyModule.forRoot({ pepper: PEPPER, repository })], controllers: [OrdersController] },
      platform,
      clock,
      logger,
    );
  });
  afterAll(() => app.close());

  it('logs lifecycle changes and failures through Logger, escaped, and does not log successes', async () => {
    const service = app.get(ApiKeyService);
    const { key, apiKey } = await service.create({ name: 'logged' });
    await request(app.getHttpServer()).get('/orders/whoami').set('X-API-Key', key).expect(200);
    await request(app.getHttpServer()).get('/orders/whoami').set('X-API-Key', evilKey).expect(401);
    await service.revoke(apiKey.id);
    const events = logger.lines.filter((line) => line.includes('api-key.'));
    expect(events).toEqual([
      `log api-key.created keyId=${apiKey.id}`,
      'warn api-key.authentication-failed reason=disabled keyId=evil\\u000d\\u000aFAKE login ok',
      `log api-key.revoked keyId=${apiKey.id}`,
    ]);
    expect(logger.lines.join('\n')).not.toContain(key.slice(-24));
  });
});

describe('ApiKeyService with a lookup-only repository', () => {
  it('boots, authenticates, and throws a clear store_required error on management calls', async () => {
    class LookupOnly extends ApiKeyRepository {
      findByHash(): Promise<ApiKeyRecord | null> {
        return Promise.resolve(null);
      }
    }
    const app = await start(
      { imports: [ApiKeyModule.forRoot({ repository: new LookupOnly() })] },
      platforms[0],
      new ManualClock(),
    );
    try {
      await expect(app.get(ApiKeyService).create({ name: 'x' })).rejects.toMatchObject({ code: 'store_required' });
    } finally {
      await app.close();
    }
  });
});
