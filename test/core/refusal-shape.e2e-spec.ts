import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Controller,
  Get,
  HttpException,
  Injectable,
  UseGuards,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import request from 'supertest';
import { ApiKeyGuard, ApiKeyModule, RequireScopes, type ApiKeyHttpException } from 'nestjs-api-key';
import { READER, TEST_KEYS } from '../support/keys.js';
import { platforms, startApp } from '../support/platforms.js';

/** A guard that answers every refusal as an RFC 9457 problem, naming the route it refused. */
@Injectable()
class ProblemGuard extends ApiKeyGuard {
  protected override throwRefusal(error: unknown, context: ExecutionContext): never {
    if (!(error instanceof HttpException)) throw error;
    const status = error.getStatus();
    const code = (error as Partial<ApiKeyHttpException>).code;
    throw new HttpException({ type: `urn:problem:${code}`, status, route: context.getHandler().name }, status);
  }
}

@Controller('problems')
@UseGuards(ProblemGuard)
class ProblemController {
  @Get('write')
  @RequireScopes('orders:write')
  write() {
    return { written: true };
  }
}

describe.each(platforms)('a guard subclass reshaping refusals (throwRefusal) on $name', (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp(
      { imports: [ApiKeyModule.forRoot({ keys: TEST_KEYS })], controllers: [ProblemController] },
      platform,
    );
  });
  afterAll(() => app.close());

  it('answers a missing key with its own body, keeping the status and the challenge header', async () => {
    const res = await request(app.getHttpServer()).get('/problems/write');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ type: 'urn:problem:API_KEY_MISSING', status: 401, route: 'write' });
    expect(res.headers['www-authenticate']).toBe('ApiKey realm="api"');
  });

  it('answers an invalid key and a missing scope with its own body', async () => {
    const invalid = await request(app.getHttpServer())
      .get('/problems/write')
      .set('X-API-Key', 'test-unknown-key-000000009');
    expect([invalid.status, invalid.body]).toEqual([
      401,
      { type: 'urn:problem:API_KEY_INVALID', status: 401, route: 'write' },
    ]);
    const forbidden = await request(app.getHttpServer()).get('/problems/write').set('X-API-Key', READER.key);
    expect([forbidden.status, forbidden.body]).toEqual([
      403,
      { type: 'urn:problem:API_KEY_INSUFFICIENT_SCOPE', status: 403, route: 'write' },
    ]);
  });
});
