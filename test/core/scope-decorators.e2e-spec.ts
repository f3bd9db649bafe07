import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { ApiKeyModule, RequireScopes } from 'nestjs-api-key';
import { NO_SCOPES, READER, WILDCARD, WRITER } from '../support/keys.js';
import { platforms, startApp } from '../support/platforms.js';
import { OrdersController, ReportsController } from '../support/test-controllers.js';

const REPORTER = { name: 'reporter', key: 'test-reporter-key-00000005', scopes: ['reports:read'] };
const LOOKALIKE = { name: 'lookalike', key: 'test-lookalike-key-0000006', scopes: ['ordersx:*', 'Orders:read'] };

describe.each(platforms)('scopes on $name', (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp(
      {
        imports: [ApiKeyModule.forRoot({ keys: [READER, WRITER, WILDCARD, NO_SCOPES, REPORTER, LOOKALIKE] })],
        controllers: [OrdersController, ReportsController],
      },
      platform,
    );
  });
  afterAll(() => app.close());

  const status = async (path: string, key: string) =>
    (await request(app.getHttpServer()).get(path).set('X-API-Key', key)).status;

  it('lets any valid key reach a guarded route without scope requirements, even one with no scopes', async () => {
    expect(await status('/orders/whoami', NO_SCOPES.key)).toBe(200);
  });

  it('requires every scope of @RequireScopes', async () => {
    expect(await status('/orders/write', WRITER.key)).toBe(200);
    expect(await status('/orders/write', READER.key)).toBe(403);
    expect(await status('/orders', NO_SCOPES.key)).toBe(403);
  });

  it('requires one scope of @RequireAnyScope', async () => {
    expect(await status('/orders/any', WRITER.key)).toBe(200);
    expect(await status('/orders/any', REPORTER.key)).toBe(200);
    expect(await status('/orders/any', READER.key)).toBe(403);
  });

  it('grants a namespace with a ":*" scope, nested namespaces included, and nothing outside it', async () => {
    expect(await status('/orders', WILDCARD.key)).toBe(200);
    expect(await status('/orders/write', WILDCARD.key)).toBe(200);
    expect(await status('/orders/items', WILDCARD.key)).toBe(200);
    expect(await status('/reports', WILDCARD.key)).toBe(403);
  });

  it('matches case-sensitively and does not let "ordersx:*" grant "orders:..."', async () => {
    expect(await status('/orders', LOOKALIKE.key)).toBe(403);
  });

  it('applies class-level scopes to every handler, and a handler’s own requirement replaces them', async () => {
    expect(await status('/reports', REPORTER.key)).toBe(200);
    expect(await status('/reports', READER.key)).toBe(403);
    expect(await status('/reports/orders', READER.key)).toBe(200);
    expect(await status('/reports/orders', REPORTER.key)).toBe(403);
  });
});

describe('scope decorators', () => {
  it('refuse an empty scope list or empty scope names at decoration time', () => {
    expect(() => RequireScopes()).toThrow('@RequireScopes() needs at least one non-empty scope');
    expect(() => RequireScopes('orders:read', ' ')).toThrow(TypeError);
  });
});
