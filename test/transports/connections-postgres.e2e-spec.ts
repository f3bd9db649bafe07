import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Module, UseGuards, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { ExpressAdapter } from '@nestjs/platform-express';
import { OnGatewayInit, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { createClient } from 'graphql-ws';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import {
  ApiKey,
  ApiKeyGuard,
  ApiKeyModule,
  ApiKeyService,
  ApiKeySubscriptions,
  ApiKeyWebSockets,
} from 'nestjs-api-key';
import { createPostgresApiKeyStore, PostgresApiKeyStore } from 'nestjs-api-key/postgres';
import { drivers } from '../graphql/drivers.js';
import { TicksResolver } from '../graphql/graphql-app.js';
import { dropSchema, POSTGRES_URL, uniqueSchema } from '../support/databases.js';
import { LeakRecorder } from '../support/leak-recorder.js';
import { startSecurityApp } from '../support/security-app.js';

const PEPPER = 'connections-postgres-pepper-0123456789';
/** Far beyond any test: only a change notification can close a connection in time. */
const RECHECK_MS = 600_000;

@WebSocketGateway()
@UseGuards(ApiKeyGuard)
class WhoamiGateway implements OnGatewayInit {
  constructor(private readonly webSockets: ApiKeyWebSockets) {}

  afterInit(server: { use(middleware: ReturnType<ApiKeyWebSockets['socketIo']>): unknown }): void {
    server.use(this.webSockets.socketIo({ recheckIntervalMs: RECHECK_MS }));
  }

  @SubscribeMessage('whoami')
  whoami(@ApiKey('name') name: string) {
    return { event: 'whoami', data: name };
  }
}

describe('open connections on two instances sharing one PostgreSQL database', () => {
  const schema = uniqueSchema();
  const leaks = new LeakRecorder();
  const repository = () => new PostgresApiKeyStore({ connection: { connectionString: POSTGRES_URL }, schema });
  const sockets: Socket[] = [];
  const disposers: Array<() => void> = [];
  /** Express with a socket.io gateway, its keys cached (the cache listens for changes). */
  let a: INestApplication;
  let aPort: number;
  /** Fastify with Mercurius subscriptions, without a cache (ApiKeyChanges listens to the store itself). */
  let b: INestApplication;
  let bUrl: string;

  beforeAll(async () => {
    await (await createPostgresApiKeyStore({ connection: POSTGRES_URL, schema, migrate: true })).close();
    @Module({
      imports: [ApiKeyModule.forRoot({ repository: repository(), pepper: PEPPER, cache: { ttlMs: 600_000 } })],
      providers: [WhoamiGateway],
    })
    class GatewayModule {}
    a = (await Test.createTestingModule({ imports: [GatewayModule] }).compile()).createNestApplication(
      new ExpressAdapter(),
      { logger: false },
    );
    a.useWebSocketAdapter(new IoAdapter(a));
    await a.listen(0, '127.0.0.1');
    aPort = (a.getHttpServer().address() as { port: number }).port;
    const graphql = drivers[1].moduleAsync((subscriptions: ApiKeySubscriptions) => ({
      subscription: subscriptions.mercurius({ recheckIntervalMs: RECHECK_MS }),
    }));
    const started = await startSecurityApp(
      {
        imports: [ApiKeyModule.forRoot({ repository: repository(), pepper: PEPPER, isGlobal: true }), graphql],
        providers: [TicksResolver],
      },
      drivers[1].platform,
      leaks,
    );
    ({ app: b, url: bUrl } = started);
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    for (const dispose of disposers) dispose();
    await Promise.all([a?.close(), b?.close()]);
    await dropSchema(schema);
  });

  it('closes a socket.io connection on one instance when its key is revoked on the other', async () => {
    const { key, apiKey } = await a.get(ApiKeyService).create({ name: 'revoked-elsewhere' });
    const socket = io(`http://127.0.0.1:${aPort}`, {
      transports: ['websocket'],
      extraHeaders: { 'x-api-key': key },
      reconnection: false,
    });
    sockets.push(socket);
    const exceptions: Array<{ code?: string }> = [];
    socket.on('exception', (data: { code?: string }) => exceptions.push(data));
    const disconnected = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()));
    const name = await new Promise((resolve) => {
      socket.once('whoami', resolve);
      socket.emit('whoami');
    });
    expect(name).toBe('revoked-elsewhere');
    await b.get(ApiKeyService).revoke(apiKey.id);
    await disconnected;
    expect(exceptions).toEqual([expect.objectContaining({ code: 'API_KEY_INVALID' })]);
  });

  it('closes a graphql-ws subscription on one instance when its key is revoked on the other', async () => {
    const { key, apiKey } = await a.get(ApiKeyService).create({ name: 'subscriber', scopes: ['orders:read'] });
    let close: { code: number; reason: string } | undefined;
    let ticked!: () => void;
    const first = new Promise<void>((resolve) => (ticked = resolve));
    const client = createClient({
      url: `${bUrl.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { 'x-api-key': key },
      retryAttempts: 0,
      on: { closed: (event) => (close = event as { code: number; reason: string }) },
    });
    disposers.push(() => void client.dispose());
    const done = new Promise<void>((resolve) =>
      client.subscribe(
        { query: 'subscription { ticks }' },
        { next: ticked, error: () => resolve(), complete: resolve },
      ),
    );
    await first;
    await a.get(ApiKeyService).revoke(apiKey.id);
    await done;
    expect({ code: close?.code, reason: String(close?.reason) }).toEqual({ code: 4401, reason: 'API_KEY_INVALID' });
  });
});
