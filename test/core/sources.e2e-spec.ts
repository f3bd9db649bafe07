import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { ApiKeyModule } from 'nestjs-api-key';
import { READER, TEST_KEYS } from '../support/keys.js';
import { platforms, startApp } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';

describe.each(platforms)('key sources on $name', (platform) => {
  describe('defaults: X-API-Key header only', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await startApp(
        { imports: [ApiKeyModule.forRoot({ keys: TEST_KEYS })], controllers: [OrdersController] },
        platform,
      );
    });
    afterAll(() => app.close());

    it('accepts the key in X-API-Key, header name case-insensitive', async () => {
      await request(app.getHttpServer())
        .get('/orders/whoami')
        .set('X-API-Key', READER.key)
        .expect(200, {
          id: 'reader',
          name: 'reader',
          scopes: ['orders:read'],
          ownerId: 'team-a',
          metadata: { plan: 'free' },
        });
      await request(app.getHttpServer()).get('/orders/whoami').set('x-api-key', READER.key).expect(200);
    });

    it('trims only the whitespace HTTP allows around the value', async () => {
      await request(app.getHttpServer()).get('/orders/whoami').set('X-API-Key', ` \t${READER.key}\t `).expect(200);
    });

    it('ignores a key in the query string, bearer or cookie while those sources are off', async () => {
      for (const req of [
        request(app.getHttpServer()).get(`/orders/whoami?api_key=${READER.key}`),
        request(app.getHttpServer()).get('/orders/whoami').set('Authorization', `Bearer ${READER.key}`),
        request(app.getHttpServer()).get('/orders/whoami').set('Cookie', `api_key=${READER.key}`),
      ]) {
        const res = await req;
        expect(res.status).toBe(401);
        expect(res.body.code).toBe('API_KEY_MISSING');
      }
    });

    it('treats a single value containing a comma as one (invalid) key', async () => {
      const res = await request(app.getHttpServer()).get('/orders/whoami').set('X-API-Key', `${READER.key}, other`);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('API_KEY_INVALID');
    });
  });

  describe('custom header, bearer, cookie and query enabled', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await startApp(
        {
          imports: [
            ApiKeyModule.forRoot({
              keys: TEST_KEYS,
              sources: { header: 'X-Service-Token', bearer: true, cookie: 'api_key', query: 'api_key' },
            }),
          ],
          controllers: [OrdersController],
        },
        platform,
      );
    });
    afterAll(() => app.close());

    it.each([
      ['custom header', (r: request.Test) => r.set('X-Service-Token', READER.key)],
      ['bearer', (r: request.Test) => r.set('Authorization', `Bearer ${READER.key}`)],
      ['bearer, lower-case scheme', (r: request.Test) => r.set('Authorization', `bearer ${READER.key}`)],
      ['bearer, upper-case scheme', (r: request.Test) => r.set('Authorization', `BEARER ${READER.key}`)],
      ['cookie', (r: request.Test) => r.set('Cookie', `theme=dark; api_key=${READER.key}; lang=en`)],
      ['quoted cookie', (r: request.Test) => r.set('Cookie', `api_key="${READER.key}"`)],
      ['query', (r: request.Test) => r.query({ api_key: READER.key })],
    ])('authenticates a key in the %s', async (_, send) => {
      const res = await send(request(app.getHttpServer()).get('/orders/whoami'));
      expect(res.status).toBe(200);
      expect(res.body.id).toBe('reader');
    });

    it('no longer reads X-API-Key once the header is renamed', async () => {
      await request(app.getHttpServer()).get('/orders/whoami').set('X-API-Key', READER.key).expect(401);
    });

    it('leaves other Authorization schemes alone when a key comes from elsewhere', async () => {
      await request(app.getHttpServer())
        .get('/orders/whoami')
        .set('Authorization', 'Basic dXNlcjpwYXNz')
        .set('X-Service-Token', READER.key)
        .expect(200);
    });

    it('counts empty values as absent, not as a second credential', async () => {
      await request(app.getHttpServer())
        .get('/orders/whoami')
        .set('X-Service-Token', ' ')
        .query({ api_key: READER.key })
        .expect(200);
    });
  });
});
