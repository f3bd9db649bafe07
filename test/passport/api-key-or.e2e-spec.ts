import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Controller,
  ForbiddenException,
  Get,
  Inject,
  Injectable,
  Scope,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { JwtModule, JwtService } from '@nestjs/jwt';
import { AuthGuard } from '@nestjs/passport';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { APP_GUARD, REQUEST } from '@nestjs/core';
import {
  ApiKey,
  ApiKeyGuard,
  ApiKeyHasher,
  ApiKeyModule,
  ApiKeyOr,
  OptionalApiKey,
  Public,
  RequireScopes,
  type ApiKeyPrincipal,
  type ApiKeyRecord,
} from 'nestjs-api-key';
import { ApiKeyRateLimitModule } from 'nestjs-api-key/rate-limit';
import { FaultRepository } from '../support/fault-repository.js';
import { platforms, startApp } from '../support/platforms.js';
import { cleanRedis, connectRedis, uniquePrefix } from '../rate-limit/support.js';
import { caller, JWT_SECRET, JwtStrategy, UserOf } from './jwt-login.js';

/** Keys in the store (never real ones). */
const READER_KEY = 'or-reader-key-00000000001';
const WRITER_KEY = 'or-writer-key-00000000002';
const UNKNOWN_KEY = 'or-unknown-key-0000000009';
const hasher = new ApiKeyHasher();
const record = (key: string, name: string, scopes: string[]): ApiKeyRecord => ({
  id: name,
  name,
  hash: hasher.hash(key),
  scopes,
});

/** A key or the app's JWT login. */
@Controller('or')
@UseGuards(ApiKeyOr(AuthGuard('jwt')))
class KeyOrJwtController {
  @Get()
  get(@ApiKey() key: ApiKeyPrincipal | null | undefined, @UserOf() user: unknown) {
    return caller(user, key);
  }

  @Get('scoped')
  @RequireScopes('orders:write')
  scoped(@ApiKey() key: ApiKeyPrincipal | null | undefined, @UserOf() user: unknown) {
    return caller(user, key);
  }

  @Get('public')
  @Public()
  open(@ApiKey() key: ApiKeyPrincipal | null | undefined, @UserOf() user: unknown) {
    return caller(user, key);
  }
}

/** A third way in, after the JWT: callers that say `X-Internal: yes`; others get its own 403. */
@Injectable()
class InternalCallerGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const internal = context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>().headers['x-internal'];
    if (internal === 'yes') return true;
    throw new ForbiddenException('Internal callers only');
  }
}

/** A key, the JWT, or the internal header, tried in that order. */
@Controller('or-two')
@UseGuards(ApiKeyOr(AuthGuard('jwt'), InternalCallerGuard))
class KeyOrTwoController {
  @Get()
  get(@ApiKey() key: ApiKeyPrincipal | null | undefined, @UserOf() user: unknown) {
    return caller(user, key);
  }
}

describe.each(platforms)('ApiKeyOr(AuthGuard(jwt)) on $name', (platform) => {
  const repository = new FaultRepository();
  let app: INestApplication;
  let jwt: string;

  beforeAll(async () => {
    app = await startApp(
      {
        imports: [ApiKeyModule.forRoot({ repository }), JwtModule.register({ secret: JWT_SECRET })],
        controllers: [KeyOrJwtController, KeyOrTwoController],
        providers: [JwtStrategy],
      },
      platform,
    );
    jwt = app.get(JwtService).sign({ sub: 'user-1' });
  });
  afterAll(() => app.close());

  const healthy = () => {
    repository.reset();
    repository.save(record(READER_KEY, 'reader', ['orders:read']));
    repository.save(record(WRITER_KEY, 'writer', ['orders:read', 'orders:write']));
  };
  const get = (path: string, headers: Record<string, string> = {}) => {
    const call = request(app.getHttpServer()).get(path);
    for (const [name, value] of Object.entries(headers)) call.set(name, value);
    return call;
  };
  const bearer = () => ({ Authorization: `Bearer ${jwt}` });
  /** The answer and how many times the store was read for it. */
  const withReads = async (path: string, headers: Record<string, string> = {}) => {
    healthy();
    const response = await get(path, headers);
    return { response, reads: repository.calls };
  };

  it('admits a key alone, read once: @ApiKey() is its principal', async () => {
    const { response, reads } = await withReads('/or', { 'X-API-Key': READER_KEY });
    expect([response.status, response.body.apiKey, reads]).toEqual([200, 'reader', 1]);
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('admits a JWT alone without reading the store: request.user is the JWT user, @ApiKey() is null', async () => {
    const { response, reads } = await withReads('/or', bearer());
    expect([response.status, reads]).toEqual([200, 0]);
    expect(response.body).toEqual({ user: { userId: 'user-1' }, apiKey: null });
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('admits a valid key beside a valid JWT as the key, read once', async () => {
    const { response, reads } = await withReads('/or', { 'X-API-Key': READER_KEY, ...bearer() });
    expect([response.status, response.body.apiKey, reads]).toEqual([200, 'reader', 1]);
  });

  it('refuses an invalid key beside a valid JWT with the key’s 401 and its challenge', async () => {
    const { response, reads } = await withReads('/or', { 'X-API-Key': UNKNOWN_KEY, ...bearer() });
    expect([response.status, response.body.code, reads]).toEqual([401, 'API_KEY_INVALID', 1]);
    expect(response.headers['www-authenticate']).toBe('ApiKey realm="api"');
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('refuses neither with the JWT guard’s 401, adding the key’s challenge and no-store', async () => {
    const { response, reads } = await withReads('/or');
    expect([response.status, response.body, reads]).toEqual([401, { message: 'Unauthorized', statusCode: 401 }, 0]);
    expect(response.headers['www-authenticate']).toBe('ApiKey realm="api"');
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('refuses two different keys with 400, a valid JWT beside them or not', async () => {
    for (const extra of [{}, bearer()]) {
      const response = await get('/or', extra).set('X-API-Key', [READER_KEY, WRITER_KEY] as unknown as string);
      expect([response.status, response.body.code]).toEqual([400, 'API_KEY_CONFLICT']);
    }
  });

  it('fails closed on a presented key when the store is down (503), even beside a valid JWT; a JWT alone passes', async () => {
    healthy();
    repository.fault = () => Promise.reject(new Error('connection refused'));
    const refused = await get('/or', { 'X-API-Key': READER_KEY, ...bearer() });
    expect([refused.status, refused.body.code]).toEqual([503, 'API_KEY_STORE_UNAVAILABLE']);
    expect(refused.headers['cache-control']).toBe('no-store');
    expect((await get('/or', bearer())).status).toBe(200);
  });

  it('checks the scopes of key callers only: a key without them gets 403, a JWT caller passes', async () => {
    healthy();
    const refused = await get('/or/scoped', { 'X-API-Key': READER_KEY });
    expect([refused.status, refused.body.code]).toEqual([403, 'API_KEY_INSUFFICIENT_SCOPE']);
    expect((await get('/or/scoped', { 'X-API-Key': WRITER_KEY })).body.apiKey).toBe('writer');
    expect((await get('/or/scoped', bearer())).body).toEqual({ user: { userId: 'user-1' }, apiKey: null });
  });

  it('lets @Public() win: no key read, no JWT needed', async () => {
    const { response, reads } = await withReads('/or/public', { 'X-API-Key': UNKNOWN_KEY });
    expect([response.status, response.body.apiKey, reads]).toEqual([200, 'undefined', 0]);
  });

  describe('with two other guards', () => {
    it('admits through the first of them that admits, in order', async () => {
      expect((await get('/or-two', bearer())).body).toEqual({ user: { userId: 'user-1' }, apiKey: null });
      const internal = await get('/or-two', { 'X-Internal': 'yes' });
      expect([internal.status, internal.body.apiKey]).toEqual([200, null]);
    });

    it('answers with the last one’s refusal when none admits', async () => {
      const response = await get('/or-two');
      expect([response.status, response.body.message]).toEqual([403, 'Internal callers only']);
      expect(response.headers['www-authenticate']).toBeUndefined(); // a 403 is no challenge
    });

    it('still decides a presented key alone', async () => {
      healthy();
      const response = await get('/or-two', { 'X-API-Key': UNKNOWN_KEY, 'X-Internal': 'yes' });
      expect([response.status, response.body.code]).toEqual([401, 'API_KEY_INVALID']);
    });
  });
});

/** Under a global `ApiKeyGuard`: `@OptionalApiKey()` lets callers without a key on to `ApiKeyOr`. */
@Controller('global')
@OptionalApiKey()
@UseGuards(ApiKeyOr(AuthGuard('jwt')))
class UnderGlobalGuardController {
  @Get()
  get(@ApiKey() key: ApiKeyPrincipal | null | undefined, @UserOf() user: unknown) {
    return caller(user, key);
  }
}

describe.each(platforms)('ApiKeyOr under a global ApiKeyGuard on $name', (platform) => {
  const repository = new FaultRepository();
  let app: INestApplication;
  let jwt: string;
  beforeAll(async () => {
    app = await startApp(
      {
        imports: [ApiKeyModule.forRoot({ repository }), JwtModule.register({ secret: JWT_SECRET })],
        controllers: [UnderGlobalGuardController],
        providers: [JwtStrategy, { provide: APP_GUARD, useClass: ApiKeyGuard }],
      },
      platform,
    );
    jwt = app.get(JwtService).sign({ sub: 'user-1' });
  });
  afterAll(() => app.close());
  const get = (headers: Record<string, string>) => {
    repository.reset();
    repository.save(record(READER_KEY, 'reader', ['orders:read']));
    const call = request(app.getHttpServer()).get('/global');
    for (const [name, value] of Object.entries(headers)) call.set(name, value);
    return call;
  };

  it('admits a key read once (the second pass reuses the global guard’s principal), and a JWT', async () => {
    const byKey = await get({ 'X-API-Key': READER_KEY });
    expect([byKey.status, byKey.body.apiKey, repository.calls]).toEqual([200, 'reader', 1]);
    const byJwt = await get({ Authorization: `Bearer ${jwt}` });
    expect([byJwt.status, byJwt.body]).toEqual([200, { user: { userId: 'user-1' }, apiKey: null }]);
  });

  it('still refuses a caller with neither (the optional key does not make the route anonymous), and an invalid key', async () => {
    expect((await get({})).status).toBe(401);
    const invalid = await get({ 'X-API-Key': UNKNOWN_KEY, Authorization: `Bearer ${jwt}` });
    expect([invalid.status, invalid.body.code]).toEqual([401, 'API_KEY_INVALID']);
  });
});

/** Guarded by nothing of its own: the global guard is `ApiKeyOr`. */
@Controller('everywhere')
class GloballyGuardedController {
  @Get()
  get(@ApiKey() key: ApiKeyPrincipal | null | undefined, @UserOf() user: unknown) {
    return caller(user, key);
  }

  /** Its own `ApiKeyGuard`: a key is required here, whatever the global guard admits. */
  @Get('key-only')
  @UseGuards(ApiKeyGuard)
  keyOnly(@ApiKey() key: ApiKeyPrincipal | null | undefined, @UserOf() user: unknown) {
    return caller(user, key);
  }
}

describe.each(platforms)('ApiKeyOr as the global guard (APP_GUARD) on $name', (platform) => {
  let app: INestApplication;
  let jwt: string;
  beforeAll(async () => {
    app = await startApp(
      {
        imports: [
          ApiKeyModule.forRoot({ keys: [{ name: 'global', key: READER_KEY }] }),
          JwtModule.register({ secret: JWT_SECRET }),
        ],
        controllers: [GloballyGuardedController],
        providers: [JwtStrategy, { provide: APP_GUARD, useClass: ApiKeyOr(AuthGuard('jwt')) }],
      },
      platform,
    );
    jwt = app.get(JwtService).sign({ sub: 'user-1' });
  });
  afterAll(() => app.close());

  it('admits a key or a JWT, and refuses neither and an invalid key beside a JWT', async () => {
    const server = app.getHttpServer();
    expect((await request(server).get('/everywhere').set('X-API-Key', READER_KEY)).body.apiKey).toBe('global');
    const byJwt = await request(server).get('/everywhere').set('Authorization', `Bearer ${jwt}`);
    expect(byJwt.body).toEqual({ user: { userId: 'user-1' }, apiKey: null });
    expect((await request(server).get('/everywhere')).status).toBe(401);
    const invalid = await request(server)
      .get('/everywhere')
      .set('X-API-Key', UNKNOWN_KEY)
      .set('Authorization', `Bearer ${jwt}`);
    expect([invalid.status, invalid.body.code]).toEqual([401, 'API_KEY_INVALID']);
  });

  it('requires a key on a route of its own ApiKeyGuard: a JWT alone is refused there', async () => {
    const server = app.getHttpServer();
    const byJwt = await request(server).get('/everywhere/key-only').set('Authorization', `Bearer ${jwt}`);
    expect([byJwt.status, byJwt.body.code]).toEqual([401, 'API_KEY_MISSING']);
    const byKey = await request(server).get('/everywhere/key-only').set('X-API-Key', READER_KEY);
    expect([byKey.status, byKey.body.apiKey]).toEqual([200, 'global']);
  });
});

/** A request-scoped provider: the tenant a request names in `X-Tenant`. */
@Injectable({ scope: Scope.REQUEST })
class RequestTenant {
  readonly name: unknown;
  constructor(@Inject(REQUEST) request: { headers: Record<string, unknown> }) {
    this.name = request.headers['x-tenant'];
  }
}

/** A guard with a request-scoped dependency: admits the `acme` tenant. */
@Injectable()
class TenantGuard implements CanActivate {
  constructor(private readonly tenant: RequestTenant) {}
  canActivate(): boolean {
    if (this.tenant.name === 'acme') return true;
    throw new ForbiddenException('Tenant callers only');
  }
}

@Controller('tenant')
@UseGuards(ApiKeyOr(TenantGuard))
class TenantController {
  @Get()
  get(@ApiKey() key: ApiKeyPrincipal | null | undefined) {
    return { apiKey: key === null ? null : key?.name };
  }
}

describe.each(platforms)('ApiKeyOr with a guard that depends on a request-scoped provider on $name', (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp(
      {
        imports: [ApiKeyModule.forRoot({ keys: [{ name: 'tenant-key', key: READER_KEY }] })],
        controllers: [TenantController],
        providers: [RequestTenant],
      },
      platform,
    );
  });
  afterAll(() => app.close());

  it('builds the guard for each request without a key, with that request', async () => {
    const server = app.getHttpServer();
    for (const round of [1, 2]) {
      const admitted = await request(server).get('/tenant').set('X-Tenant', 'acme');
      expect([round, admitted.status, admitted.body]).toEqual([round, 200, { apiKey: null }]);
      const refused = await request(server).get('/tenant').set('X-Tenant', 'other');
      expect([round, refused.status, refused.body.message]).toEqual([round, 403, 'Tenant callers only']);
    }
    const byKey = await request(server).get('/tenant').set('X-API-Key', READER_KEY);
    expect([byKey.status, byKey.body]).toEqual([200, { apiKey: 'tenant-key' }]);
  });
});

describe('ApiKeyOr without guards', () => {
  it('throws a TypeError', () => {
    expect(() => ApiKeyOr()).toThrow(TypeError);
  });
});

describe.each(platforms)('ApiKeyOr with the rate limits of nestjs-api-key/rate-limit (Redis) on $name', (platform) => {
  const prefix = uniquePrefix();
  let redis: Redis;
  let app: INestApplication;
  let jwt: string;
  beforeAll(async () => {
    redis = await connectRedis();
    app = await startApp(
      {
        imports: [
          ApiKeyModule.forRoot({ keys: [{ name: 'limited', key: READER_KEY }], isGlobal: true }),
          ApiKeyRateLimitModule.forRoot({
            limit: { points: 2, durationMs: 60_000 },
            redis,
            redisKeyPrefix: prefix,
            timeoutMs: 2000,
          }),
          JwtModule.register({ secret: JWT_SECRET }),
        ],
        controllers: [KeyOrJwtController],
        providers: [JwtStrategy],
      },
      platform,
    );
    jwt = app.get(JwtService).sign({ sub: 'user-1' });
  });
  afterAll(async () => {
    await app.close();
    await cleanRedis(redis, prefix);
    redis.disconnect();
  });

  it('counts a key’s requests and refuses it past its limit with 429; a JWT caller is not limited by it', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await request(app.getHttpServer()).get('/or').set('X-API-Key', READER_KEY)).status);
    expect(statuses).toEqual([200, 200, 429]);
    const refused = await request(app.getHttpServer()).get('/or').set('X-API-Key', READER_KEY);
    expect(refused.body.code).toBe('API_KEY_RATE_LIMITED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const byJwt = await request(app.getHttpServer()).get('/or').set('Authorization', `Bearer ${jwt}`);
    expect(byJwt.status).toBe(200);
  });
});
