import { afterAll, describe, expect, it } from '@jest/globals';
import {
  Catch,
  Controller,
  Get,
  HttpException,
  Req,
  UseGuards,
  type ArgumentsHost,
  type ExceptionFilter,
  type INestApplication,
} from '@nestjs/common';
import { APP_FILTER, HttpAdapterHost } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  ApiKeyConfigurationError,
  ApiKeyGuard,
  ApiKeyModule,
  RequireScopes,
  type ApiKeyModuleOptions,
  type ApiKeyPrincipal,
} from 'nestjs-api-key';
import { READER } from '../support/keys.js';
import { platforms, startApp } from '../support/platforms.js';

type ProbedRequest = Record<string, ApiKeyPrincipal | undefined>;

/** Reports what the request carries where passport users and `@ApiKey()` look. */
@Controller('probe')
@UseGuards(ApiKeyGuard)
class ProbeController {
  @Get()
  probe(@Req() req: ProbedRequest) {
    return { user: req.user?.id ?? null, principal: req.principal?.id ?? null, same: req.user === req.apiKey };
  }

  @Get('write')
  @RequireScopes('orders:write')
  write() {
    return { written: true };
  }
}

/** Answers a refusal with what the refused request carries, instead of the usual body. */
@Catch(HttpException)
class RefusalProbe implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}
  catch(exception: HttpException, host: ArgumentsHost) {
    const http = host.switchToHttp();
    const req = http.getRequest<ProbedRequest>();
    const carried = { user: req.user ?? null, apiKey: req.apiKey ?? null };
    this.adapterHost.httpAdapter.reply(http.getResponse(), carried, exception.getStatus());
  }
}

describe.each(platforms)('userProperty on $name', (platform) => {
  const apps: INestApplication[] = [];
  afterAll(() => Promise.all(apps.map((app) => app.close())));
  const start = async (options: ApiKeyModuleOptions) => {
    const app = await startApp(
      {
        imports: [ApiKeyModule.forRoot(options)],
        controllers: [ProbeController],
        providers: [{ provide: APP_FILTER, useClass: RefusalProbe }],
      },
      platform,
    );
    apps.push(app);
    return request(app.getHttpServer());
  };

  it("userProperty: 'user' puts the principal on request.user too, the same object as request.apiKey", async () => {
    const http = await start({ keys: [READER], userProperty: 'user' });
    const { body } = await http.get('/probe').set('X-API-Key', READER.key).expect(200);
    expect(body).toEqual({ user: 'reader', principal: null, same: true });
  });

  it('any identifier works (request.principal)', async () => {
    const http = await start({ keys: [READER], userProperty: 'principal' });
    const { body } = await http.get('/probe').set('X-API-Key', READER.key).expect(200);
    expect(body).toMatchObject({ user: null, principal: 'reader' });
  });

  it('without it, request.user stays unset', async () => {
    const http = await start({ keys: [READER] });
    const { body } = await http.get('/probe').set('X-API-Key', READER.key).expect(200);
    expect(body).toMatchObject({ user: null, principal: null });
  });

  it('a refused request (401 without or with a wrong key, 403 for a missing scope) carries neither', async () => {
    const http = await start({ keys: [READER], userProperty: 'user' });
    const refusals = [
      await http.get('/probe'),
      await http.get('/probe').set('X-API-Key', 'not-a-configured-key-00001'),
      await http.get('/probe/write').set('X-API-Key', READER.key),
    ];
    expect(refusals.map((r) => [r.status, r.body])).toEqual([
      [401, { user: null, apiKey: null }],
      [401, { user: null, apiKey: null }],
      [403, { user: null, apiKey: null }],
    ]);
  });
});

describe('userProperty misconfiguration', () => {
  it.each(['', 'not valid', 'apiKey', '__proto__', 5])('refuses %j', async (userProperty) => {
    const error = await Test.createTestingModule({
      imports: [ApiKeyModule.forRoot({ keys: [READER], userProperty } as ApiKeyModuleOptions)],
    })
      .compile()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiKeyConfigurationError);
    expect((error as Error).message).toContain(
      'userProperty must be a JavaScript identifier other than apiKey and __proto__ (such as "user"), got ',
    );
  });
});
