import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ApiKey,
  ApiKeyEventSink,
  ApiKeyEventType,
  ApiKeyGuard,
  ApiKeyHasher,
  ApiKeyModule,
  InMemoryApiKeyStore,
  ApiKeyService,
  RequireScopes,
  type ApiKeyEvent,
  type ApiKeyModuleOptions,
  type ApiKeyPrincipal,
} from 'nestjs-api-key';
import { UseGuards } from '@nestjs/common';
import { join } from 'node:path';
import { createSqliteApiKeyStore } from 'nestjs-api-key/sqlite';
import { tempDir } from '../support/databases.js';

@Controller()
@UseGuards(ApiKeyGuard)
class WhoAmIController {
  @Get('whoami')
  whoami(@ApiKey() key: ApiKeyPrincipal): { id: string } {
    return { id: key.id };
  }

  @Get('admin')
  @RequireScopes('admin')
  admin(): { ok: true } {
    return { ok: true };
  }
}

class RecordingSink extends ApiKeyEventSink {
  readonly events: ApiKeyEvent[] = [];
  emit(event: ApiKeyEvent): void {
    this.events.push(event);
  }
}

interface Reply {
  readonly status: number;
  readonly body: { id?: string; code?: string; message?: string };
}

/** Where a request comes from: the server address it connects to and the local address it binds. */
interface From {
  readonly host: '127.0.0.1' | '::1';
  readonly localAddress?: string;
}
const V4: From = { host: '127.0.0.1' };
const V4_OTHER: From = { host: '127.0.0.1', localAddress: '127.0.0.2' };
const V6: From = { host: '::1' };

type PlatformName = 'express' | 'fastify';

/** Starts the app listening on every address (`::`, dual stack: IPv4 clients appear IPv4-mapped). */
async function start(
  platform: PlatformName,
  trustProxy: boolean,
  sink: RecordingSink,
  options: Omit<ApiKeyModuleOptions, 'events'> = {},
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [ApiKeyModule.forRoot({ ...options, events: sink })],
    controllers: [WhoAmIController],
  }).compile();
  const adapter =
    platform === 'express' ? new ExpressAdapter() : new FastifyAdapter({ trustProxy: trustProxy && 'loopback' });
  const app = moduleRef.createNestApplication(adapter, { logger: false });
  if (platform === 'express' && trustProxy) (app as NestExpressApplication).set('trust proxy', 'loopback');
  await app.listen(0, '::');
  return app;
}

function get(app: INestApplication, path: string, from: From, headers: Record<string, string>): Promise<Reply> {
  const { port } = (app.getHttpServer() as { address(): AddressInfo }).address();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: from.host, port, path, localAddress: from.localAddress, headers, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Reply['body'] }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe.each<PlatformName>(['express', 'fastify'])('per-key network restrictions on %s', (platform) => {
  const sink = new RecordingSink();
  let app: INestApplication;
  let service: ApiKeyService;
  beforeAll(async () => {
    app = await start(platform, false, sink);
    service = app.get(ApiKeyService);
  });
  afterAll(() => app.close());
  beforeEach(() => {
    sink.events.length = 0;
  });

  const keyFor = async (allowedNetworks: string[] | null, scopes: string[] = []) =>
    (await service.create({ name: 'restricted', allowedNetworks, scopes })).key;
  const statusOf = async (key: string, from: From, headers: Record<string, string> = {}) =>
    (await get(app, '/whoami', from, { 'x-api-key': key, ...headers })).status;

  it('admits a key without restrictions from every address', async () => {
    const key = await keyFor(null);
    for (const from of [V4, V4_OTHER, V6]) expect(await statusOf(key, from)).toBe(200);
  });

  it('refuses a restricted key from outside its networks with 403 API_KEY_RESTRICTED and an event, and admits it inside', async () => {
    const { key, apiKey } = await service.create({ name: 'office', allowedNetworks: ['127.0.0.2/32'] });
    const inside = await get(app, '/whoami', V4_OTHER, { 'x-api-key': key });
    expect(inside).toEqual({ status: 200, body: { id: apiKey.id } });
    const outside = await get(app, '/whoami', V4, { 'x-api-key': key });
    expect(outside.status).toBe(403);
    expect(outside.body).toMatchObject({
      code: 'API_KEY_RESTRICTED',
      message: 'The API key may not be used from this network',
    });
    expect(await statusOf(key, V6)).toBe(403);
    const restricted = sink.events.filter((event) => event.type === ApiKeyEventType.Restricted);
    expect(restricted).toEqual([
      expect.objectContaining({ keyId: apiKey.id, reason: 'network', address: '::ffff:127.0.0.1', origin: null }),
      expect.objectContaining({ keyId: apiKey.id, reason: 'network', address: '::1' }),
    ]);
  });

  it.each<[string, string[], From[], From[]]>([
    ['0.0.0.0/0 (every IPv4 client, mapped ones included)', ['0.0.0.0/0'], [V4, V4_OTHER], [V6]],
    ['::/0 (every client)', ['::/0'], [V4, V4_OTHER, V6], []],
    ['127.0.0.1/32', ['127.0.0.1/32'], [V4], [V4_OTHER, V6]],
    ['a bare IPv4 address (a /32)', ['127.0.0.2'], [V4_OTHER], [V4, V6]],
    ['::1/128', ['::1/128'], [V6], [V4, V4_OTHER]],
    ['127.0.0.0/8', ['127.0.0.0/8'], [V4, V4_OTHER], [V6]],
    ['an IPv4-mapped IPv6 network (::ffff:127.0.0.0/104)', ['::ffff:127.0.0.0/104'], [V4, V4_OTHER], [V6]],
    ['an IPv4-mapped IPv6 host (::ffff:127.0.0.2/128)', ['::ffff:127.0.0.2/128'], [V4_OTHER], [V4, V6]],
    ['an IPv6 network around ::1 (::/127)', ['::/127'], [V6], [V4]],
    ['networks that hold none of the clients', ['10.0.0.0/8', '2001:db8::/32', '127.0.0.3/32'], [], [V4, V4_OTHER, V6]],
    ['a list of both families', ['192.0.2.0/24', '::1/128', '127.0.0.2/32'], [V6, V4_OTHER], [V4]],
  ])('with %s', async (_, networks, allowed, refused) => {
    const key = await keyFor(networks);
    for (const from of allowed) expect([from, await statusOf(key, from)]).toEqual([from, 200]);
    for (const from of refused) expect([from, await statusOf(key, from)]).toEqual([from, 403]);
  });

  it('never reads X-Forwarded-For when the app trusts no proxy', async () => {
    const key = await keyFor(['127.0.0.2/32']);
    expect(await statusOf(key, V4, { 'x-forwarded-for': '127.0.0.2' })).toBe(403);
    expect(await statusOf(key, V4_OTHER, { 'x-forwarded-for': '10.1.1.1' })).toBe(200);
  });

  it('takes a change of networks into account on the next request', async () => {
    const { key, apiKey } = await service.create({ name: 'moving', allowedNetworks: ['127.0.0.2/32'] });
    expect(await statusOf(key, V4)).toBe(403);
    await service.update(apiKey.id, { allowedNetworks: ['127.0.0.1/32'] });
    expect(await statusOf(key, V4)).toBe(200);
    expect(await statusOf(key, V4_OTHER)).toBe(403);
    await service.update(apiKey.id, { allowedNetworks: null });
    expect(await statusOf(key, V4_OTHER)).toBe(200);
  });

  it('admits a key restricted to origins only with an allowed Origin header, and refuses it without one', async () => {
    const { key, apiKey } = await service.create({
      name: 'browser',
      allowedOrigins: ['https://App.example.com', 'http://localhost:3000'],
    });
    expect(apiKey.allowedOrigins).toEqual(['https://app.example.com', 'http://localhost:3000']);
    expect(await statusOf(key, V4, { origin: 'https://app.example.com' })).toBe(200);
    expect(await statusOf(key, V6, { origin: 'http://localhost:3000' })).toBe(200);
    const other = await get(app, '/whoami', V4, { 'x-api-key': key, origin: 'https://evil.example' });
    expect(other).toEqual({
      status: 403,
      body: expect.objectContaining({
        code: 'API_KEY_RESTRICTED',
        message: 'The API key may not be used from this origin',
      }) as Reply['body'],
    });
    expect(await statusOf(key, V4)).toBe(403);
    expect(await statusOf(key, V4, { origin: 'null' })).toBe(403);
    expect(sink.events).toContainEqual(
      expect.objectContaining({ keyId: apiKey.id, reason: 'origin', origin: 'https://evil.example' }),
    );
  });

  it('requires both the network and the origin of a key restricted by both', async () => {
    const key = (
      await service.create({ name: 'both', allowedNetworks: ['::1/128'], allowedOrigins: ['https://a.example'] })
    ).key;
    expect(await statusOf(key, V6, { origin: 'https://a.example' })).toBe(200);
    expect(await statusOf(key, V4, { origin: 'https://a.example' })).toBe(403);
    expect(await statusOf(key, V6, { origin: 'https://b.example' })).toBe(403);
  });

  it('refuses malformed networks and origins with invalid_input, writing nothing', async () => {
    const before = (await service.list()).length;
    for (const allowedNetworks of [['10.0.0.0/33'], ['10.0.0.1/8'], ['not-a-network'], 'a' as unknown as string[]])
      await expect(service.create({ name: 'bad', allowedNetworks })).rejects.toMatchObject({ code: 'invalid_input' });
    const badOrigin = service.create({ name: 'bad', allowedOrigins: ['https://a.example/path'] });
    await expect(badOrigin).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(badOrigin).rejects.toThrow('allowedOrigins: "https://a.example/path" is not an origin');
    const { apiKey } = await service.create({ name: 'good' });
    const badPrefix = service.update(apiKey.id, { allowedNetworks: ['::1/129'] });
    await expect(badPrefix).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(badPrefix).rejects.toThrow('allowedNetworks: "::1/129" has an invalid prefix length');
    expect((await service.list()).length).toBe(before + 1);
    expect((await service.get(apiKey.id)).allowedNetworks).toBeNull();
  });

  it('answers the restriction before the scope check, and an invalid key with 401 as ever', async () => {
    const key = await keyFor(['127.0.0.2/32']);
    expect((await get(app, '/admin', V4, { 'x-api-key': key })).body.code).toBe('API_KEY_RESTRICTED');
    expect((await get(app, '/admin', V4_OTHER, { 'x-api-key': key })).body.code).toBe('API_KEY_INSUFFICIENT_SCOPE');
    expect(await statusOf(`${key}x`, V4)).toBe(401);
  });
});

describe.each<PlatformName>(['express', 'fastify'])('network restrictions behind a trusted proxy on %s', (platform) => {
  const sink = new RecordingSink();
  let app: INestApplication;
  let service: ApiKeyService;
  beforeAll(async () => {
    app = await start(platform, true, sink);
    service = app.get(ApiKeyService);
  });
  afterAll(() => app.close());

  it('checks the client address the trusted proxy forwarded, not the proxy', async () => {
    const { key } = await service.create({
      name: 'behind proxy',
      allowedNetworks: ['203.0.113.0/24', '2001:db8::/32'],
    });
    const status = async (from: From, forwarded?: string) =>
      (await get(app, '/whoami', from, { 'x-api-key': key, ...(forwarded ? { 'x-forwarded-for': forwarded } : {}) }))
        .status;
    expect(await status(V4, '203.0.113.7')).toBe(200);
    expect(await status(V6, '2001:db8::7')).toBe(200);
    expect(await status(V4, '198.51.100.7')).toBe(403);
    // The proxy (loopback) itself is not in the key's networks.
    expect(await status(V4)).toBe(403);
    // An untrusted hop in front of the client is where the chain stops: the spoofed left-most value is ignored.
    expect(await status(V4, '203.0.113.7, 198.51.100.7')).toBe(403);
    expect(sink.events).toContainEqual(
      expect.objectContaining({ type: 'api-key.restricted', reason: 'network', address: '198.51.100.7' }),
    );
  });
});

describe.each<PlatformName>(['express', 'fastify'])(
  'restrictions kept by a SQLite store and by the cache on %s',
  (platform) => {
    const dir = tempDir();
    afterAll(() => dir.remove());

    it.each<[string, () => Promise<Omit<ApiKeyModuleOptions, 'events'>>]>([
      [
        'SQLite',
        async () => ({
          repository: await createSqliteApiKeyStore({ database: join(dir.path, `${platform}.db`), migrate: true }),
        }),
      ],
      ['the in-memory store behind the cache', async () => ({ cache: true })],
    ])('%s: a restricted key is refused outside its networks and admitted inside', async (_, options) => {
      const app = await start(platform, false, new RecordingSink(), await options());
      try {
        const service = app.get(ApiKeyService);
        const { key, apiKey } = await service.create({ name: 'stored', allowedNetworks: ['127.0.0.2/32'] });
        expect((await service.get(apiKey.id)).allowedNetworks).toEqual(['127.0.0.2/32']);
        for (let pass = 0; pass < 2; pass++) {
          // The second pass reads the verified record the store or the cache kept.
          expect((await get(app, '/whoami', V4_OTHER, { 'x-api-key': key })).status).toBe(200);
          expect((await get(app, '/whoami', V4, { 'x-api-key': key })).status).toBe(403);
        }
        await service.update(apiKey.id, { allowedNetworks: null });
        expect((await get(app, '/whoami', V4, { 'x-api-key': key })).status).toBe(200);
      } finally {
        await app.close();
      }
    });
  },
);

describe.each<PlatformName>(['express', 'fastify'])('a stored record with malformed restrictions on %s', (platform) => {
  it('is refused with 503, never let through', async () => {
    const key = 'key-with-a-malformed-network-0001';
    const repository = new InMemoryApiKeyStore([
      { id: 'bad', name: 'bad', hash: new ApiKeyHasher([]).hash(key), scopes: [], allowedNetworks: ['10.0.0.1/8'] },
    ]);
    const app = await start(platform, false, new RecordingSink(), { repository });
    try {
      const reply = await get(app, '/whoami', V4, { 'x-api-key': key });
      expect([reply.status, reply.body.code]).toEqual([503, 'API_KEY_STORE_UNAVAILABLE']);
    } finally {
      await app.close();
    }
  });
});
