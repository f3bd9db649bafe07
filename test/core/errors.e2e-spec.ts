import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Catch, type ArgumentsHost, type ExceptionFilter, type INestApplication } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import request from 'supertest';
import { ApiKeyModule, type ApiKeyHttpException } from 'nestjs-api-key';
import { NO_SCOPES, READER, TEST_KEYS } from '../support/keys.js';
import { platforms, startApp } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';

// Missing and invalid keys, storage faults and leakage: test/security/ (one case per catalogue line of SECURITY.md).
describe.each(platforms)('response contract on $name', (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp(
      {
        imports: [ApiKeyModule.forRoot({ keys: TEST_KEYS, sources: { bearer: true } })],
        controllers: [OrdersController],
      },
      platform,
    );
  });
  afterAll(() => app.close());

  const get = (path = '/orders/whoami') => request(app.getHttpServer()).get(path);

  it('answers a valid key without the route scope with 403 and the required scopes', async () => {
    const res = await get('/orders/write').set('X-API-Key', READER.key);
    expect(res.status).toBe(403);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({
      statusCode: 403,
      error: 'Forbidden',
      code: 'API_KEY_INSUFFICIENT_SCOPE',
      message: 'The API key lacks a required scope',
      requiredScopes: ['orders:read', 'orders:write'],
      scopeMode: 'all',
    });
  });

  it('marks authenticated responses no-store', async () => {
    const res = await get().set('X-API-Key', NO_SCOPES.key).expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
  });
});

@Catch()
class RecordingFilter implements ExceptionFilter {
  static seen: ApiKeyHttpException | undefined;
  /** Whether the refused request carried `apiKey`, as the filter found it. */
  static requestHadApiKey: boolean | undefined;
  catch(exception: ApiKeyHttpException, host: ArgumentsHost) {
    RecordingFilter.seen = exception;
    RecordingFilter.requestHadApiKey = 'apiKey' in host.switchToHttp().getRequest<object>();
    const response = host.switchToHttp().getResponse();
    const status = exception.getStatus();
    const body = { problem: exception.code };
    if (typeof response.status === 'function' && typeof response.json === 'function')
      response.status(status).json(body);
    else response.code(status).send(body);
  }
}

describe.each(platforms)('application exception filters on $name', (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp(
      {
        imports: [ApiKeyModule.forRoot({ keys: TEST_KEYS })],
        controllers: [OrdersController],
        providers: [{ provide: APP_FILTER, useClass: RecordingFilter }],
      },
      platform,
    );
  });
  afterAll(() => app.close());

  it('see the guard’s exceptions, with their code, and the challenge header stays on the response', async () => {
    const res = await request(app.getHttpServer()).get('/orders/whoami');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ problem: 'API_KEY_MISSING' });
    expect(res.headers['www-authenticate']).toBe('ApiKey realm="api"');
    expect(RecordingFilter.seen?.headers['WWW-Authenticate']).toBe('ApiKey realm="api"');
  });

  it('see no principal on a request refused for a missing scope (403)', async () => {
    const res = await request(app.getHttpServer()).get('/orders/write').set('X-API-Key', READER.key);
    expect([res.status, res.body]).toEqual([403, { problem: 'API_KEY_INSUFFICIENT_SCOPE' }]);
    expect(RecordingFilter.requestHadApiKey).toBe(false);
  });
});
