import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, UseGuards, type INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import request from 'supertest';
import {
  ApiKey,
  ApiKeyGuard,
  ApiKeyModule,
  OptionalApiKey,
  Public,
  RequireScopes,
  type ApiKeyPrincipal,
} from 'nestjs-api-key';
import { READER, WRITER } from '../support/keys.js';
import { platforms, startApp } from '../support/platforms.js';

/** What the handler received from `@ApiKey()` and `@ApiKey('ownerId')` (`undefined` spelled out, JSON has none). */
function seen(key: ApiKeyPrincipal | null | undefined, ownerId: string | null | undefined) {
  const spell = (value: unknown) => (value === undefined ? 'undefined' : value);
  return { key: spell(key && key.name), ownerId: spell(ownerId) };
}

@Controller('feed')
@UseGuards(ApiKeyGuard)
class FeedController {
  @Get()
  @OptionalApiKey()
  feed(@ApiKey() key: ApiKeyPrincipal | null, @ApiKey('ownerId') ownerId: string | null) {
    return seen(key, ownerId);
  }

  @Get('drafts')
  @OptionalApiKey()
  @RequireScopes('orders:write')
  drafts(@ApiKey() key: ApiKeyPrincipal | null, @ApiKey('ownerId') ownerId: string | null) {
    return seen(key, ownerId);
  }

  @Get('private')
  private(@ApiKey() key: ApiKeyPrincipal) {
    return seen(key, key.ownerId);
  }
}

/** Optional on the class, `@Public()` on a handler, under a global guard (a second pass with `@UseGuards`). */
@Controller('catalog')
@OptionalApiKey()
@UseGuards(ApiKeyGuard)
class CatalogController {
  @Get()
  list(@ApiKey() key: ApiKeyPrincipal | null, @ApiKey('ownerId') ownerId: string | null) {
    return seen(key, ownerId);
  }

  @Get('open')
  @Public()
  open(@ApiKey() key: ApiKeyPrincipal | undefined) {
    return seen(key, undefined);
  }
}

describe.each(platforms)('@OptionalApiKey() on $name', (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp(
      {
        imports: [ApiKeyModule.forRoot({ keys: [READER, WRITER] })],
        controllers: [FeedController, CatalogController],
        providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }],
      },
      platform,
    );
  });
  afterAll(() => app.close());

  const get = (path: string, key?: string | string[]) => {
    const call = request(app.getHttpServer()).get(path);
    return key === undefined ? call : call.set('X-API-Key', key as string);
  };

  it('admits a caller without a key as anonymous: @ApiKey() is null', async () => {
    const response = await get('/feed');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ key: null, ownerId: null });
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('authenticates a presented key: @ApiKey() is its principal', async () => {
    const response = await get('/feed', READER.key);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ key: 'reader', ownerId: 'team-a' });
  });

  it('refuses a presented key that is not valid (401), never admitting it as anonymous', async () => {
    for (const key of ['test-unknown-key-000000009', 'bad key with spaces']) {
      const response = await get('/feed', key);
      expect([response.status, response.body.code]).toEqual([401, 'API_KEY_INVALID']);
      expect(response.headers['www-authenticate']).toBe('ApiKey realm="api"');
    }
  });

  it('refuses two different keys (400)', async () => {
    const response = await get('/feed', [READER.key, WRITER.key]);
    expect([response.status, response.body.code]).toEqual([400, 'API_KEY_CONFLICT']);
  });

  it('applies scopes only to a presented key: anonymous 200, a key without the scope 403, with it 200', async () => {
    expect((await get('/feed/drafts')).body).toEqual({ key: null, ownerId: null });
    const refused = await get('/feed/drafts', READER.key);
    expect([refused.status, refused.body.code]).toEqual([403, 'API_KEY_INSUFFICIENT_SCOPE']);
    expect((await get('/feed/drafts', WRITER.key)).body).toEqual({ key: 'writer', ownerId: null });
  });

  it('leaves the other routes of the controller requiring a key', async () => {
    expect((await get('/feed/private')).status).toBe(401);
    expect((await get('/feed/private', READER.key)).status).toBe(200);
  });

  it('applies on a controller, through both passes of a global guard plus @UseGuards', async () => {
    expect((await get('/catalog')).body).toEqual({ key: null, ownerId: null });
    expect((await get('/catalog', READER.key)).body).toEqual({ key: 'reader', ownerId: 'team-a' });
    expect((await get('/catalog', 'test-unknown-key-000000009')).status).toBe(401);
  });

  it('yields to @Public(): no key is read, and @ApiKey() is undefined', async () => {
    expect((await get('/catalog/open', 'test-unknown-key-000000009')).body).toEqual({
      key: 'undefined',
      ownerId: 'undefined',
    });
  });
});
