import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Catch, type ArgumentsHost, type ExceptionFilter, type INestApplication } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import request from 'supertest';
import { ApiKeyModule, ApiKeyRepository, type ApiKeyHttpException, type ApiKeyRecord } from 'nestjs-api-key';
import { NO_SCOPES, READER, TEST_KEYS } from '../support/keys.js';
import { platforms, startApp } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';

/** A repository whose behaviour each test sets. */
class ScriptedRepository extends ApiKeyRepository {
  calls = 0;
  behaviour: (hash: string) => Promise<ApiKeyRecord | null> = () => Promise.resolve(null);
  findByHash(hash: string): Promise<ApiKeyRecord | null> {
    this.calls++;
    return this.behaviour(hash);
  }
}

describe.each(platforms)('response contract on $name', (platform) => {
  const repository = new ScriptedRepository();
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp(
      { imports: [ApiKeyModule.forRoot({ keys: TEST_KEYS, repository, lookupTimeoutMs: 200, sources: { bearer: true } })], controllers: [OrdersController] },
      platform,
    );
  });
  afterAll(() => app.close());

  const get = (path = '/orders/whoami') => request(app.getHttpServer()).get(path);

  it('answers a missing key with 401, a challenge per scheme and no-store, without touching storage', async () => {
    repository.calls = 0;
    const res = await get();
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('ApiKey realm="api", Bearer realm="api"');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ statusCode: 401, error: 'Unauthorized', code: 'API_KEY_MISSING', message: 'An API key is required' });
    expect(repository.calls).toBe(0);
  });

  it('gives byte-identical 401s for absent, empty and whitespace-only keys', async () => {
    const responses = [await get(), await get().set('X-API-Key', ''), await get().set('X-API-Key', '   '), await get().set('Authorization', 'Bearer    ')];
    const shapes = responses.map((r) => [r.status, r.text, r.headers['www-authenticate'], r.headers['cache-control']]);
    for (const shape of shapes) expect(shape).toEqual(shapes[0]);
  });

  it('answers every invalid key with the same 401, naming invalid_token for bearer', async () => {
    repository.behaviour = () => Promise.resolve(null);
    const unknown = await get().set('X-API-Key', 'unknown-key-of-valid-shape-1');
    const malformed = await get().set('X-API-Key', 'bad key with spaces');
    const nonAscii = await get().set('X-API-Key', Buffer.from('clé-invalide-0000000000', 'utf8').toString('latin1'));
    const tooLong = await get().set('X-API-Key', 'k'.repeat(4096));
    for (const res of [unknown, malformed, nonAscii, tooLong]) {
      expect(res.status).toBe(401);
      expect(res.text).toBe(unknown.text);
      expect(res.headers['www-authenticate']).toBe('ApiKey realm="api", Bearer realm="api", error="invalid_token"');
      expect(res.headers['cache-control']).toBe('no-store');
    }
    expect(unknown.body.code).toBe('API_KEY_INVALID');
  });

  it('does not look up malformed or over-long keys', async () => {
    repository.calls = 0;
    await get().set('X-API-Key', 'k'.repeat(4096)).expect(401);
    await get().set('X-API-Key', 'has"quote-000000000000').expect(401);
    expect(repository.calls).toBe(0);
  });

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

  it('fails closed with 503 when the repository throws, without its error text', async () => {
    repository.behaviour = () => Promise.reject(new Error('connection refused to db at 10.0.0.1'));
    const res = await get().set('X-API-Key', 'unknown-key-of-valid-shape-2');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ statusCode: 503, error: 'Service Unavailable', code: 'API_KEY_STORE_UNAVAILABLE', message: 'Authentication is temporarily unavailable' });
    expect(res.text).not.toContain('10.0.0.1');
  });

  it('fails closed with 503 when the repository hangs past the timeout', async () => {
    repository.behaviour = () => new Promise(() => undefined);
    const started = Date.now();
    const res = await get().set('X-API-Key', 'unknown-key-of-valid-shape-3');
    expect(res.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it.each([
    ['a record without scopes', (hash: string) => ({ id: 'x', name: 'x', hash }) as unknown as ApiKeyRecord],
    ['a record for another hash', () => ({ id: 'x', name: 'x', hash: 'A'.repeat(43), scopes: [] })],
    ['a string', () => 'garbage' as unknown as ApiKeyRecord],
    ['an invalid expiry', (hash: string) => ({ id: 'x', name: 'x', hash, scopes: [], expiresAt: new Date('nope') })],
  ])('fails closed with 503 when the repository returns %s', async (_, make) => {
    repository.behaviour = (hash) => Promise.resolve(make(hash));
    await get().set('X-API-Key', 'unknown-key-of-valid-shape-4').expect(503);
  });

  it('still serves static keys while the repository is down', async () => {
    repository.behaviour = () => Promise.reject(new Error('down'));
    await get().set('X-API-Key', READER.key).expect(200);
  });
});

@Catch()
class RecordingFilter implements ExceptionFilter {
  static seen: ApiKeyHttpException | undefined;
  catch(exception: ApiKeyHttpException, host: ArgumentsHost) {
    RecordingFilter.seen = exception;
    const response = host.switchToHttp().getResponse();
    const status = exception.getStatus();
    const body = { problem: exception.code };
    if (typeof response.status === 'function' && typeof response.json === 'function') response.status(status).json(body);
    else response.code(status).send(body);
  }
}

describe.each(platforms)('application exception filters on $name', (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp(
      { imports: [ApiKeyModule.forRoot({ keys: TEST_KEYS })], controllers: [OrdersController], providers: [{ provide: APP_FILTER, useClass: RecordingFilter }] },
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
});
