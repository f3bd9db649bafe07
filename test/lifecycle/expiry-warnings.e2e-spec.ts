import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Injectable, type INestApplication } from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  ApiKeyClock,
  ApiKeyModule,
  ApiKeyService,
  type ApiKeyExpiringEvent,
  type ApiKeyModuleOptions,
} from 'nestjs-api-key';
import { ManualClock } from '../support/clock.js';
import { platforms, type Platform } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';

const DAY = 86_400_000;
const WINDOW = 2 * DAY;
const DOCS = 'https://docs.example.com/keys/rotate';

@Injectable()
class ExpiringCollector {
  readonly events: ApiKeyExpiringEvent[] = [];
  @OnEvent('api-key.expiring')
  collect(event: ApiKeyExpiringEvent) {
    this.events.push(event);
  }
}

async function start(platform: Platform, clock: ManualClock, options: ApiKeyModuleOptions) {
  const moduleRef = await Test.createTestingModule({
    imports: [EventEmitterModule.forRoot(), ApiKeyModule.forRoot({ pepper: 'expiry-warnings-pepper-01', ...options })],
    controllers: [OrdersController],
    providers: [ExpiringCollector],
  })
    .overrideProvider(ApiKeyClock)
    .useValue(clock)
    .compile();
  const app = moduleRef.createNestApplication(platform.createAdapter(), { logger: false });
  await app.init();
  if (platform.name === 'fastify') await app.getHttpAdapter().getInstance().ready();
  return app;
}

/** The warning headers of a response, `undefined` where absent. */
function warnings(res: request.Response) {
  return { deprecation: res.headers['deprecation'], sunset: res.headers['sunset'], link: res.headers['link'] };
}

function expected(stopsAt: number, link = true) {
  return {
    deprecation: `@${Math.floor(stopsAt / 1000)}`,
    sunset: new Date(stopsAt).toUTCString(),
    link: link ? `<${DOCS}>; rel="deprecation", <${DOCS}>; rel="sunset"` : undefined,
  };
}

const NONE = { deprecation: undefined, sunset: undefined, link: undefined };

describe.each(platforms)('warnings before a key stops working on $name', (platform) => {
  const clock = new ManualClock();
  let app: INestApplication;
  let service: ApiKeyService;
  let collector: ExpiringCollector;
  beforeAll(async () => {
    app = await start(platform, clock, { expiryWarnings: { windowMs: WINDOW, link: DOCS } });
    service = app.get(ApiKeyService);
    collector = app.get(ExpiringCollector);
  });
  afterAll(() => app.close());
  beforeEach(() => void (collector.events.length = 0));

  const call = (key: string) => request(app.getHttpServer()).get('/orders/whoami').set('X-API-Key', key);

  it('carries Deprecation, Sunset and Link exactly within the window before expiresAt, and one event', async () => {
    const expiresAt = clock.now().getTime() + 5 * DAY;
    const { key, apiKey } = await service.create({ name: 'expiring', ownerId: 'acme', expiresAt: new Date(expiresAt) });
    expect(warnings(await call(key).expect(200))).toEqual(NONE);
    clock.set(new Date(expiresAt - WINDOW - 1));
    expect(warnings(await call(key).expect(200))).toEqual(NONE);
    expect(collector.events).toEqual([]);
    clock.advance(1); // the window opens
    for (let i = 0; i < 3; i++) expect(warnings(await call(key).expect(200))).toEqual(expected(expiresAt));
    clock.set(new Date(expiresAt - 1));
    expect(warnings(await call(key).expect(200))).toEqual(expected(expiresAt));
    expect(collector.events).toEqual([
      {
        type: 'api-key.expiring',
        keyId: apiKey.id,
        ownerId: 'acme',
        reason: 'expiring',
        stopsAt: new Date(expiresAt),
        at: new Date(expiresAt - WINDOW),
      },
    ]);
    clock.advance(1); // expired: refused, and no warning on the refusal
    expect(warnings(await call(key).expect(401))).toEqual(NONE);
  });

  it('announces a key again when its expiry moves (a new window), not otherwise', async () => {
    const first = clock.now().getTime() + DAY;
    const { key, apiKey } = await service.create({ name: 'renewed', expiresAt: new Date(first) });
    await call(key).expect(200);
    await call(key).expect(200);
    const second = first + DAY;
    await service.update(apiKey.id, { expiresAt: new Date(second) });
    expect(warnings(await call(key).expect(200))).toEqual(expected(second));
    await call(key).expect(200);
    expect(collector.events.map((event) => event.stopsAt.getTime())).toEqual([first, second]);
    await service.update(apiKey.id, { expiresAt: new Date(second + 30 * DAY) });
    expect(warnings(await call(key).expect(200))).toEqual(NONE); // out of the window again
  });

  it('carries them for a rotated-out secret during its whole grace period, not for the new secret', async () => {
    const { key: old, apiKey } = await service.create({ name: 'rotating' });
    const rotatedAt = clock.now().getTime();
    const grace = 10 * DAY; // longer than the window: the grace period warns throughout
    const rotated = await service.rotate(apiKey.id, { gracePeriodMs: grace });
    const stopsAt = rotatedAt + grace;
    expect(warnings(await call(old).expect(200))).toEqual(expected(stopsAt));
    expect(warnings(await call(rotated.key).expect(200))).toEqual(NONE);
    clock.set(new Date(stopsAt - 1));
    expect(warnings(await call(old).expect(200))).toEqual(expected(stopsAt));
    expect(collector.events).toMatchObject([{ keyId: apiKey.id, reason: 'rotated', stopsAt: new Date(stopsAt) }]);
    expect(collector.events).toHaveLength(1);
    clock.advance(1);
    expect(warnings(await call(old).expect(401))).toEqual(NONE);
    expect(warnings(await call(rotated.key).expect(200))).toEqual(NONE);
  });

  it('keeps the warnings on a refusal that follows authentication (a missing scope)', async () => {
    const expiresAt = clock.now().getTime() + DAY;
    const { key } = await service.create({ name: 'scoped', expiresAt: new Date(expiresAt) });
    const res = await request(app.getHttpServer()).get('/orders').set('X-API-Key', key).expect(403);
    expect(warnings(res)).toEqual(expected(expiresAt));
  });
});

describe.each(platforms)('expiryWarnings defaults and opt-out on $name', (platform) => {
  const clock = new ManualClock();
  const apps: INestApplication[] = [];
  afterAll(() => Promise.all(apps.map((app) => app.close())));

  it('warns 7 days ahead by default, without a Link', async () => {
    const app = await start(platform, clock, {});
    apps.push(app);
    const expiresAt = clock.now().getTime() + 7 * DAY;
    const { key } = await app.get(ApiKeyService).create({ name: 'default', expiresAt: new Date(expiresAt) });
    const res = await request(app.getHttpServer()).get('/orders/whoami').set('X-API-Key', key).expect(200);
    expect(warnings(res)).toEqual(expected(expiresAt, false));
  });

  it('sends no header and no event with expiryWarnings: false', async () => {
    const app = await start(platform, clock, { expiryWarnings: false });
    apps.push(app);
    const service = app.get(ApiKeyService);
    const { key, apiKey } = await service.create({ name: 'quiet', expiresAt: new Date(clock.now().getTime() + DAY) });
    const { key: rotated } = await service.rotate(apiKey.id, { gracePeriodMs: DAY });
    for (const presented of [key, rotated]) {
      const res = await request(app.getHttpServer()).get('/orders/whoami').set('X-API-Key', presented).expect(200);
      expect(warnings(res)).toEqual(NONE);
    }
    expect(app.get(ExpiringCollector).events).toEqual([]);
  });

  it('refuses a malformed link at bootstrap', async () => {
    await expect(start(platform, clock, { expiryWarnings: { link: 'https://x.example/<a>' } })).rejects.toThrow(
      /expiryWarnings\.link must be an absolute http\(s\) URL/,
    );
    await expect(start(platform, clock, { expiryWarnings: { windowMs: 0 } })).rejects.toThrow(
      /expiryWarnings\.windowMs must be a positive integer/,
    );
  });
});
