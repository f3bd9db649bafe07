import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Injectable, UseGuards, type INestApplication } from '@nestjs/common';
import { JwtModule, JwtService } from '@nestjs/jwt';
import { AuthGuard } from '@nestjs/passport';
import request from 'supertest';
import {
  ApiKey,
  ApiKeyEventSink,
  ApiKeyEventType,
  ApiKeyGuard,
  ApiKeyModule,
  ApiKeyRepository,
  ApiKeyService,
  OptionalApiKey,
  RequireScopes,
  type ApiKeyEvent,
  type ApiKeyPrincipal,
  type ApiKeyRecord,
} from 'nestjs-api-key';
import { ApiKeyStrategy } from 'nestjs-api-key/passport';
import { READER, WRITER } from '../support/keys.js';
import { platforms, startApp } from '../support/platforms.js';
import { caller, JWT_SECRET, JwtStrategy, UserOf } from './jwt-login.js';

@Controller('either')
@UseGuards(AuthGuard(['api-key', 'jwt']))
class EitherController {
  @Get()
  get(@ApiKey() key: ApiKeyPrincipal | undefined, @UserOf() user: unknown) {
    return caller(user, key);
  }
}

/** The order that stops at the JWT: the key is never read when the JWT is valid. */
@Controller('jwt-first')
@UseGuards(AuthGuard(['jwt', 'api-key']))
class JwtFirstController {
  @Get()
  get(@ApiKey() key: ApiKeyPrincipal | undefined, @UserOf() user: unknown) {
    return caller(user, key);
  }
}

/** Scopes of a key on a route that also takes a JWT: `ApiKeyGuard` after `AuthGuard`, the key optional. */
@Controller('scoped')
@UseGuards(AuthGuard(['api-key', 'jwt']), ApiKeyGuard)
@OptionalApiKey()
class ScopedController {
  @Get()
  @RequireScopes('orders:write')
  get(@ApiKey() key: ApiKeyPrincipal | undefined, @UserOf() user: unknown) {
    return caller(user, key);
  }
}

/** `ApiKeyGuard` first refuses an invalid key, whatever order the passport strategies come in. */
@Controller('guarded-first')
@UseGuards(ApiKeyGuard, AuthGuard(['jwt', 'api-key']))
@OptionalApiKey()
class GuardedFirstController {
  @Get()
  get(@ApiKey() key: ApiKeyPrincipal | undefined, @UserOf() user: unknown) {
    return caller(user, key);
  }
}

/** Records the authentication events: one per verification, so one per store read. */
class RecordingSink extends ApiKeyEventSink {
  readonly events: ApiKeyEvent[] = [];
  emit(event: ApiKeyEvent): void {
    this.events.push(event);
  }
}

describe.each(platforms)('ApiKeyStrategy with passport-jwt on $name', (platform) => {
  let app: INestApplication;
  let jwt: string;
  const sink = new RecordingSink();

  beforeAll(async () => {
    app = await startApp(
      {
        imports: [
          ApiKeyModule.forRoot({ keys: [READER, WRITER], events: sink }),
          JwtModule.register({ secret: JWT_SECRET }),
        ],
        controllers: [EitherController, JwtFirstController, ScopedController, GuardedFirstController],
        providers: [ApiKeyStrategy, JwtStrategy],
      },
      platform,
    );
    jwt = app.get(JwtService).sign({ sub: 'user-1' });
  });
  afterAll(() => app.close());

  const get = (path: string, headers: Record<string, string> = {}) => {
    const call = request(app.getHttpServer()).get(path);
    for (const [name, value] of Object.entries(headers)) call.set(name, value);
    return call;
  };
  const bearer = () => ({ Authorization: `Bearer ${jwt}` });
  const verifications = async (run: () => Promise<unknown>) => {
    const before = sink.events.length;
    await run();
    return sink.events.slice(before).map((event) => event.type);
  };

  describe("AuthGuard(['api-key', 'jwt'])", () => {
    it('admits a key alone: request.user and @ApiKey() hold its principal', async () => {
      const response = await get('/either', { 'X-API-Key': READER.key });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        user: expect.objectContaining({ name: 'reader', ownerId: 'team-a' }),
        apiKey: 'reader',
      });
    });

    it('admits a JWT alone: request.user is the JWT user, no key principal', async () => {
      const response = await get('/either', bearer());
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ user: { userId: 'user-1' }, apiKey: 'undefined' });
    });

    it('admits a valid key with a valid JWT as the key, the first way in of the list', async () => {
      const response = await get('/either', { 'X-API-Key': READER.key, ...bearer() });
      expect(response.status).toBe(200);
      expect(response.body.apiKey).toBe('reader');
    });

    it('refuses a request with neither (401)', async () => {
      expect((await get('/either')).status).toBe(401);
    });

    it('refuses an invalid key alongside a valid JWT with the guard’s 401, never falling through to the JWT', async () => {
      const response = await get('/either', { 'X-API-Key': 'test-unknown-key-000000009', ...bearer() });
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ statusCode: 401, code: 'API_KEY_INVALID' });
    });

    it('refuses two different keys (400), and a key with a JWT that is not valid as the key', async () => {
      const two = await get('/either').set('X-API-Key', [READER.key, WRITER.key] as unknown as string);
      expect(two.status).toBe(400);
      expect(two.body.code).toBe('API_KEY_CONFLICT');
      const badJwt = await get('/either', { 'X-API-Key': READER.key, Authorization: 'Bearer not-a-jwt' });
      expect([badJwt.status, badJwt.body.apiKey]).toEqual([200, 'reader']);
    });

    // Passport gives a strategy no response; Express's request leads to it, Fastify's does not (docs/passport.md).
    it('sets the refusal headers where the request leads to the response: WWW-Authenticate and no-store on Express', async () => {
      const invalid = await get('/either', { 'X-API-Key': 'test-unknown-key-000000009', ...bearer() });
      const two = await get('/either').set('X-API-Key', [READER.key, WRITER.key] as unknown as string);
      expect([invalid.status, invalid.body.code, two.status]).toEqual([401, 'API_KEY_INVALID', 400]);
      const headers = [
        invalid.headers['www-authenticate'],
        invalid.headers['cache-control'],
        two.headers['cache-control'],
      ];
      expect(headers).toEqual(
        platform.name === 'express'
          ? ['ApiKey realm="api"', 'no-store', 'no-store']
          : [undefined, undefined, undefined],
      );
    });

    it('verifies a key once per request', async () => {
      expect(await verifications(() => get('/either', { 'X-API-Key': READER.key }))).toEqual([
        ApiKeyEventType.Authenticated,
      ]);
      expect(await verifications(() => get('/either', bearer()))).toEqual([]);
    });
  });

  describe("AuthGuard(['jwt', 'api-key']) (passport stops at the first strategy that succeeds)", () => {
    it('admits a key alone, a JWT alone, and refuses neither', async () => {
      expect((await get('/jwt-first', { 'X-API-Key': READER.key })).body.apiKey).toBe('reader');
      expect((await get('/jwt-first', bearer())).body.user).toEqual({ userId: 'user-1' });
      expect((await get('/jwt-first')).status).toBe(401);
    });

    it('refuses an invalid key without a JWT', async () => {
      const response = await get('/jwt-first', { 'X-API-Key': 'test-unknown-key-000000009' });
      expect([response.status, response.body.code]).toEqual([401, 'API_KEY_INVALID']);
    });

    it('never reads the key when the JWT is valid: list api-key first, or use ApiKeyOr, to refuse an invalid one', async () => {
      const run = () => get('/jwt-first', { 'X-API-Key': 'test-unknown-key-000000009', ...bearer() });
      expect(await verifications(async () => expect((await run()).status).toBe(200))).toEqual([]);
    });
  });

  describe("with ApiKeyGuard before AuthGuard(['jwt', 'api-key']) on an @OptionalApiKey() route", () => {
    it('refuses an invalid key beside a valid JWT', async () => {
      const response = await get('/guarded-first', { 'X-API-Key': 'test-unknown-key-000000009', ...bearer() });
      expect([response.status, response.body.code]).toEqual([401, 'API_KEY_INVALID']);
    });

    it('admits a key alone, verified once (the strategy reuses the guard’s principal), and a JWT alone', async () => {
      let body: unknown;
      const types = await verifications(async () => {
        body = (await get('/guarded-first', { 'X-API-Key': READER.key })).body;
      });
      expect(types).toEqual([ApiKeyEventType.Authenticated]);
      expect(body).toEqual({ user: expect.objectContaining({ name: 'reader' }), apiKey: 'reader' });
      expect((await get('/guarded-first', bearer())).body).toEqual({ user: { userId: 'user-1' }, apiKey: null });
      expect((await get('/guarded-first')).status).toBe(401);
    });
  });

  describe('with ApiKeyGuard after AuthGuard on an @OptionalApiKey() route', () => {
    it('checks the key’s scopes (403), without reading the key a second time', async () => {
      const refused = await get('/scoped', { 'X-API-Key': READER.key });
      expect([refused.status, refused.body.code]).toEqual([403, 'API_KEY_INSUFFICIENT_SCOPE']);
      expect(await verifications(() => get('/scoped', { 'X-API-Key': WRITER.key }))).toEqual([
        ApiKeyEventType.Authenticated,
      ]);
      expect((await get('/scoped', { 'X-API-Key': WRITER.key })).body.apiKey).toBe('writer');
    });

    it('admits a JWT without a key, scopes applying to keys only', async () => {
      const response = await get('/scoped', bearer());
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ user: { userId: 'user-1' }, apiKey: null });
    });
  });
});

/** A key store that is down: every lookup fails. */
class DownRepository extends ApiKeyRepository {
  findByHash(): Promise<ApiKeyRecord | null> {
    return Promise.reject(new Error('connection refused'));
  }
}

describe.each(platforms)('ApiKeyStrategy with the key store down on $name', (platform) => {
  let app: INestApplication;
  let jwt: string;
  beforeAll(async () => {
    app = await startApp(
      {
        imports: [
          ApiKeyModule.forRoot({ repository: new DownRepository(), pepper: false }),
          JwtModule.register({ secret: JWT_SECRET }),
        ],
        controllers: [EitherController],
        providers: [ApiKeyStrategy, JwtStrategy],
      },
      platform,
    );
    jwt = app.get(JwtService).sign({ sub: 'user-1' });
  });
  afterAll(() => app.close());

  it('fails closed on a presented key (503), even beside a valid JWT', async () => {
    const response = await request(app.getHttpServer())
      .get('/either')
      .set('X-API-Key', 'test-stored-key-0000000001')
      .set('Authorization', `Bearer ${jwt}`);
    expect([response.status, response.body.code]).toEqual([503, 'API_KEY_STORE_UNAVAILABLE']);
    if (platform.name === 'express') expect(response.headers['cache-control']).toBe('no-store');
  });

  it('still admits a JWT alone: no key, no lookup', async () => {
    const response = await request(app.getHttpServer()).get('/either').set('Authorization', `Bearer ${jwt}`);
    expect(response.status).toBe(200);
  });
});

/** Gives passport the key's owner as its user, and refuses keys without one. */
@Injectable()
class OwnerStrategy extends ApiKeyStrategy {
  override validate(principal: ApiKeyPrincipal) {
    return principal.ownerId === null ? null : { owner: principal.ownerId };
  }
}

describe.each(platforms)('ApiKeyStrategy with its own validate on $name', (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp(
      {
        imports: [ApiKeyModule.forRoot({ keys: [READER, WRITER] })],
        controllers: [EitherController],
        providers: [{ provide: ApiKeyStrategy, useClass: OwnerStrategy }, JwtStrategy],
      },
      platform,
    );
  });
  afterAll(() => app.close());

  it('puts what validate returns on request.user, the principal staying on request.apiKey', async () => {
    const response = await request(app.getHttpServer()).get('/either').set('X-API-Key', READER.key);
    expect(response.body).toEqual({ user: { owner: 'team-a' }, apiKey: 'reader' });
  });

  it('refuses the key (401) when validate returns null', async () => {
    const response = await request(app.getHttpServer()).get('/either').set('X-API-Key', WRITER.key);
    expect([response.status, response.body.code]).toEqual([401, 'API_KEY_INVALID']);
  });
});

describe.each(platforms)('ApiKeyStrategy with a restricted key on $name', (platform) => {
  let app: INestApplication;
  let jwt: string;
  let elsewhere: string;
  let here: string;
  beforeAll(async () => {
    app = await startApp(
      {
        imports: [ApiKeyModule.forRoot({ keys: [READER] }), JwtModule.register({ secret: JWT_SECRET })],
        controllers: [EitherController, ScopedController],
        providers: [ApiKeyStrategy, JwtStrategy],
      },
      platform,
    );
    jwt = app.get(JwtService).sign({ sub: 'user-1' });
    const keys = app.get(ApiKeyService);
    const scopes = ['orders:write'];
    // The test client connects from the loopback address.
    elsewhere = (await keys.create({ name: 'office', scopes, allowedNetworks: ['192.0.2.0/24'] })).key;
    here = (await keys.create({ name: 'local', scopes, allowedNetworks: ['127.0.0.0/8', '::1'] })).key;
  });
  afterAll(() => app.close());

  it('refuses a key used from outside its allowed networks (403 API_KEY_RESTRICTED), even beside a valid JWT', async () => {
    for (const path of ['/either', '/scoped']) {
      for (const headers of [{}, { Authorization: `Bearer ${jwt}` }]) {
        const response = await request(app.getHttpServer()).get(path).set(headers).set('X-API-Key', elsewhere);
        expect([path, response.status, response.body.code]).toEqual([path, 403, 'API_KEY_RESTRICTED']);
      }
    }
  });

  it('admits a restricted key used from inside its allowed networks', async () => {
    const response = await request(app.getHttpServer()).get('/scoped').set('X-API-Key', here);
    expect([response.status, response.body.apiKey]).toEqual([200, 'local']);
  });
});
