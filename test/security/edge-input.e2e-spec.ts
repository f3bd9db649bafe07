import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Options, UseGuards } from '@nestjs/common';
import { ApiKeyGuard, ApiKeyHasher, ApiKeyModule } from 'nestjs-api-key';
import { READER, TEST_KEYS } from '../support/keys.js';
import { platforms } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';
import { FaultRepository } from '../support/fault-repository.js';
import { authorizationValues, nearMisses } from '../support/hostile-input.js';
import { LeakRecorder } from '../support/leak-recorder.js';
import { send, type RawResponse } from '../support/raw-http.js';
import { startSecurityApp, type SecurityApp } from '../support/security-app.js';
import { CHALLENGE, EVERY_SOURCE, sources } from '../support/sources.js';

const leaks = new LeakRecorder();

/** Counts hashing, to prove over-long keys are refused before it. */
class CountingHasher extends ApiKeyHasher {
  hashed = 0;
  override candidates(key: string): string[] {
    this.hashed++;
    return super.candidates(key);
  }
}

/** A guarded OPTIONS handler next to a GET, to see what CORS preflight does with the guard. */
@Controller('cors')
@UseGuards(ApiKeyGuard)
class CorsController {
  static reached = 0;
  @Get()
  get() {
    CorsController.reached++;
    return { reached: true };
  }
  @Options()
  options() {
    CorsController.reached++;
    return { reached: true };
  }
}

describe.each(platforms)('edge input on $name', (platform) => {
  const repository = new FaultRepository();
  const hasher = new CountingHasher();
  let server: SecurityApp;
  beforeAll(async () => {
    server = await startSecurityApp(
      {
        imports: [ApiKeyModule.forRoot({ keys: TEST_KEYS, repository, sources: EVERY_SOURCE, maxKeyLength: 64 })],
        controllers: [OrdersController, CorsController],
      },
      platform,
      leaks,
      (builder) => builder.overrideProvider(ApiKeyHasher).useValue(hasher),
      (app) => app.enableCors(),
    );
  });
  afterAll(() => server.app.close());

  const missing = (res: RawResponse) => {
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(CHALLENGE.missing);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(res.body)).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      code: 'API_KEY_MISSING',
      message: 'An API key is required',
    });
  };
  const invalid = (res: RawResponse) => {
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(CHALLENGE.invalid);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(res.body)).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      code: 'API_KEY_INVALID',
      message: 'The API key is not valid',
    });
  };

  describe.each(sources)('in the $name source', (source) => {
    it('gives byte-identical 401s for an absent, empty or whitespace-only key, without touching storage', async () => {
      repository.reset();
      const absent = await send(server.port, { path: '/orders/whoami' });
      missing(absent);
      for (const value of ['', ' ', '  \t ']) {
        const res = await send(server.port, source.present('/orders/whoami', value));
        expect(res.head).toBe(absent.head);
        expect(res.body).toBe(absent.body);
      }
      expect(repository.calls).toBe(0);
    });

    it('answers an unknown key of valid shape like a missing one, except for code, message and error="invalid_token"', async () => {
      repository.reset();
      const res = await send(server.port, source.present('/orders/whoami', 'unknown-key-of-valid-shape-0001'));
      invalid(res);
      expect(repository.calls).toBe(1);
      const absent = await send(server.port, { path: '/orders/whoami' });
      const normalise = (r: RawResponse) =>
        r.head
          .replace(/, error="invalid_token"/, '')
          .replace(/content-length: \d+/i, '')
          .replace(/etag: .*/i, '');
      expect(normalise(res)).toBe(normalise(absent));
    });

    it.each(nearMisses(READER.key))('answers a key %s with the invalid 401, never a 5xx', async (_, value) => {
      invalid(await send(server.port, source.present('/orders/whoami', value)));
    });

    it('refuses a 4 KB key, a key just over maxKeyLength and a malformed key with the invalid 401 before hashing or storage', async () => {
      repository.reset();
      hasher.hashed = 0;
      invalid(await send(server.port, source.present('/orders/whoami', 'k'.repeat(4096))));
      invalid(await send(server.port, source.present('/orders/whoami', 'k'.repeat(65))));
      invalid(await send(server.port, source.present('/orders/whoami', `has"quote-${READER.key}`)));
      expect(hasher.hashed).toBe(0);
      expect(repository.calls).toBe(0);
      invalid(await send(server.port, source.present('/orders/whoami', 'k'.repeat(64))));
      expect(hasher.hashed).toBe(1);
    });
  });

  it('answers headers longer than the server accepts with the server’s own 431, before any guard', async () => {
    repository.reset();
    const res = await send(server.port, { path: '/orders/whoami', headers: [['X-API-Key', 'k'.repeat(20_000)]] });
    expect(res.status).toBe(431);
    expect(repository.calls).toBe(0);
  });

  it.each([
    [
      'X-API-Key sent twice (Node joins it into "k1, k2")',
      [
        ['X-API-Key', READER.key],
        ['X-API-Key', 'unknown-key-of-valid-shape-0002'],
      ],
    ],
    [
      'Authorization sent twice (Node keeps only the first)',
      [
        ['Authorization', `Bearer ${READER.key}`],
        ['Authorization', 'Bearer unknown-key-of-valid-shape-03'],
      ],
    ],
    [
      'a key in the header and another in a cookie',
      [
        ['X-API-Key', 'unknown-key-of-valid-shape-0004'],
        ['Cookie', `api_key=${READER.key}`],
      ],
    ],
    ['a cookie repeated', [['Cookie', `api_key=${READER.key}; api_key=unknown-key-of-valid-shape-05`]]],
    [
      'a cookie repeated across two Cookie headers',
      [
        ['Cookie', `api_key=${READER.key}`],
        ['Cookie', 'api_key=unknown-key-of-valid-shape-06'],
      ],
    ],
  ] as const)('answers 400 to %s, without authenticating or touching storage', async (_, headers) => {
    repository.reset();
    const res = await send(server.port, { path: '/orders/whoami', headers });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: 'API_KEY_CONFLICT',
      message: 'Send exactly one API key per request',
    });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(repository.calls).toBe(0);
  });

  it('answers 400 to a repeated query parameter and to a query key next to a header key', async () => {
    for (const request of [
      { path: `/orders/whoami?api_key=${READER.key}&api_key=unknown-key-of-valid-shape-07` },
      {
        path: `/orders/whoami?api_key=${READER.key}`,
        headers: [['X-API-Key', 'unknown-key-of-valid-shape-08']] as const,
      },
    ]) {
      expect((await send(server.port, request)).status).toBe(400);
    }
  });

  it.each(authorizationValues(READER.key))(
    'answers the Authorization value %j with the 401 of %s, never a 5xx',
    async (value, code) => {
      const res = await send(server.port, { path: '/orders/whoami', headers: [['Authorization', value]] });
      (code === 'API_KEY_MISSING' ? missing : invalid)(res);
    },
  );

  describe('CORS with app.enableCors()', () => {
    it('answers a preflight itself, with no key, and reaches neither the guard nor the handler', async () => {
      repository.reset();
      CorsController.reached = 0;
      const res = await send(server.port, {
        method: 'OPTIONS',
        path: '/cors',
        headers: [
          ['Origin', 'https://app.example'],
          ['Access-Control-Request-Method', 'GET'],
          ['Access-Control-Request-Headers', 'x-api-key'],
        ],
      });
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(CorsController.reached).toBe(0);
    });

    it('lets no other OPTIONS request reach a guarded handler without a key', async () => {
      CorsController.reached = 0;
      const res = await send(server.port, { method: 'OPTIONS', path: '/cors' });
      // Express's cors middleware answers every OPTIONS itself (204); Fastify's refuses a non-preflight one (400).
      expect(platform.name === 'express' ? 204 : 400).toBe(res.status);
      expect(CorsController.reached).toBe(0);
    });

    it('guards the cross-origin request itself: 401 without a key (readable by the page), 200 with one', async () => {
      CorsController.reached = 0;
      const refused = await send(server.port, { path: '/cors', headers: [['Origin', 'https://app.example']] });
      missing(refused);
      expect(refused.headers['access-control-allow-origin']).toBe('*');
      expect(CorsController.reached).toBe(0);
      const allowed = await send(server.port, {
        path: '/cors',
        headers: [
          ['Origin', 'https://app.example'],
          ['X-API-Key', READER.key],
        ],
      });
      expect(allowed.status).toBe(200);
      expect(CorsController.reached).toBe(1);
    });
  });
});

leaks.expectNoLeaks();
