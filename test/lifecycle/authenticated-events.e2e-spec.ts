import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, UseGuards, type INestApplication } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import request from 'supertest';
import { ApiKeyEventSink, ApiKeyGuard, ApiKeyModule, type ApiKeyAuthenticatedEvent } from 'nestjs-api-key';
import { READER } from '../support/keys.js';
import { platforms, startApp } from '../support/platforms.js';

@Controller('ping')
@UseGuards(ApiKeyGuard)
class PingController {
  @Get()
  ping() {
    return { ok: true };
  }
}

describe.each(platforms)('api-key.authenticated through EventEmitter2 on $name', (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp(
      {
        imports: [EventEmitterModule.forRoot(), ApiKeyModule.forRoot({ keys: [READER] })],
        controllers: [PingController],
      },
      platform,
    );
  });
  afterAll(() => app.close());

  it('is built only while something listens to it, and then reaches the listener once per authenticated request', async () => {
    const sink = app.get(ApiKeyEventSink);
    const emitter = app.get(EventEmitter2);
    expect(sink.acceptsAuthenticated).toBe(false);
    await request(app.getHttpServer()).get('/ping').set('X-API-Key', READER.key).expect(200);

    const received: ApiKeyAuthenticatedEvent[] = [];
    const listener = (event: ApiKeyAuthenticatedEvent) => received.push(event);
    emitter.on('api-key.authenticated', listener);
    expect(sink.acceptsAuthenticated).toBe(true);
    await request(app.getHttpServer()).get('/ping').set('X-API-Key', READER.key).expect(200);
    await request(app.getHttpServer()).get('/ping').set('X-API-Key', READER.key).expect(200);
    expect(received.map((event) => [event.type, event.keyId])).toEqual([
      ['api-key.authenticated', 'reader'],
      ['api-key.authenticated', 'reader'],
    ]);

    emitter.off('api-key.authenticated', listener);
    expect(sink.acceptsAuthenticated).toBe(false);
  });
});

describe.each(platforms)(
  'api-key.authenticated to an onAny listener of a wildcard EventEmitter2 on $name',
  (platform) => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await startApp(
        {
          imports: [EventEmitterModule.forRoot({ wildcard: true }), ApiKeyModule.forRoot({ keys: [READER] })],
          controllers: [PingController],
        },
        platform,
      );
    });
    afterAll(() => app.close());

    it('reaches a listener of every event, as failures do', async () => {
      const types: string[] = [];
      app.get(EventEmitter2).onAny((type) => types.push(String(type)));
      await request(app.getHttpServer()).get('/ping').set('X-API-Key', READER.key).expect(200);
      await request(app.getHttpServer()).get('/ping').set('X-API-Key', 'not-a-key-of-this-app-0001').expect(401);
      expect(types).toEqual(['api-key.authenticated', 'api-key.authentication-failed']);
    });
  },
);
