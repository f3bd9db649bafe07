import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Module, UseGuards, type INestApplication, type Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WsAdapter } from '@nestjs/platform-ws';
import {
  OnGatewayConnection,
  OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
  type WsResponse,
} from '@nestjs/websockets';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { io, Manager } from 'socket.io-client';
import WebSocket from 'ws';
import {
  ApiKey,
  ApiKeyClock,
  ApiKeyEventType,
  ApiKeyGuard,
  ApiKeyService,
  ApiKeyWebSockets,
  RequireScopes,
  type ApiKeyPrincipal,
} from 'nestjs-api-key';
import { ApiKeyRateLimitModule } from 'nestjs-api-key/rate-limit';
import { eventually } from '../rate-limit/support.js';
import { ManualClock } from '../support/clock.js';
import { INVALID_KEY, TransportRecorder } from '../support/transport-app.js';

const manifest = new URL('../../node_modules/@nestjs/websockets/package.json', import.meta.url);
const nestMajor = Number((JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version.split('.')[0]);

/** Long enough that only a change notification, never the periodic re-check, can close a connection in a test. */
const RECHECK_MS = 600_000;

/** The handlers both gateways serve. */
@UseGuards(ApiKeyGuard)
class OrdersHandlers {
  @SubscribeMessage('orders')
  @RequireScopes('orders:read')
  orders(@ApiKey() key: ApiKeyPrincipal): WsResponse<{ keyId: string }> {
    return { event: 'orders', data: { keyId: key.id } };
  }
}

/** socket.io: the key is verified by a middleware, before the connection exists. */
@WebSocketGateway()
class IoGateway extends OrdersHandlers implements OnGatewayInit {
  constructor(private readonly webSockets: ApiKeyWebSockets) {
    super();
  }

  afterInit(server: { use(middleware: ReturnType<ApiKeyWebSockets['socketIo']>): unknown }): void {
    server.use(this.webSockets.socketIo({ recheckIntervalMs: RECHECK_MS }));
  }
}

/** ws: the key is verified in handleConnection, which closes a refused connection; an admitted one is told `ready`. */
@WebSocketGateway()
class WsGateway extends OrdersHandlers implements OnGatewayConnection {
  private readonly verify: ReturnType<ApiKeyWebSockets['ws']>;

  constructor(webSockets: ApiKeyWebSockets) {
    super();
    this.verify = webSockets.ws({ recheckIntervalMs: RECHECK_MS });
  }

  async handleConnection(client: WebSocket, request: IncomingMessage): Promise<void> {
    if (await this.verify(client, request)) client.send(JSON.stringify({ event: 'ready' }));
  }
}

/** How a connection ended or was refused: the refusal's code, the close code (ws), the error body (socket.io). */
interface Ending {
  readonly code: string | undefined;
  readonly closeCode?: number;
  readonly data?: Record<string, unknown>;
}

/** An admitted connection. */
interface Client {
  send(event: string): Promise<{ event: string; data: any }>;
  /** Resolves once the server ended the connection, with why. */
  ended(): Promise<Ending>;
  close(): void;
}

interface Transport {
  readonly name: string;
  readonly gateway: Type;
  readonly adapter: (app: INestApplication) => object;
  /** Connects; resolves to the admitted client, or to the refusal of the handshake. */
  readonly connect: (port: number, headers: Record<string, string>) => Promise<Client | Ending>;
}

const transports: Transport[] = [
  {
    name: 'socket.io',
    gateway: IoGateway,
    adapter: (app) => new IoAdapter(app),
    connect: (port, headers) =>
      new Promise((resolve) => {
        const socket = io(`http://127.0.0.1:${port}`, {
          transports: ['websocket'],
          extraHeaders: headers,
          reconnection: false,
        });
        let exception: Record<string, unknown> | undefined;
        socket.on('exception', (data: Record<string, unknown>) => (exception = data));
        const ended = new Promise<Ending>((settle) =>
          socket.once('disconnect', () => settle({ code: exception?.code as string | undefined, data: exception })),
        );
        socket.once('connect_error', (error: Error & { data?: Record<string, unknown> }) =>
          resolve({ code: error.data?.code as string | undefined, data: error.data }),
        );
        socket.once('connect', () =>
          resolve({
            send: (event) =>
              new Promise((reply) => {
                socket.once(event, (data) => reply({ event, data }));
                socket.once('exception', (data) => reply({ event: 'exception', data }));
                socket.emit(event);
              }),
            ended: () => ended,
            close: () => socket.close(),
          }),
        );
      }),
  },
  {
    name: 'ws',
    gateway: WsGateway,
    adapter: (app) => new WsAdapter(app),
    connect: (port, headers) =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}`, { headers });
        const ended = new Promise<Ending>((settle) =>
          socket.once('close', (closeCode, reason) => settle({ code: String(reason), closeCode })),
        );
        socket.once('error', reject);
        // The server accepts the upgrade, then verifies the key: it closes a refused connection, and
        // the gateway says `ready` on an admitted one.
        const client: Client = {
          send: (event) =>
            new Promise((reply) => {
              socket.once('message', (raw) => reply(JSON.parse(String(raw))));
              socket.send(JSON.stringify({ event }));
            }),
          ended: () => ended,
          close: () => socket.close(),
        };
        socket.once('message', () => resolve(client));
        void ended.then(resolve);
      }),
  },
];

function isClient(outcome: Client | Ending): outcome is Client {
  return 'send' in outcome;
}

/** Starts an app serving `transport`'s gateway with `imports`, listening on a loopback port. */
async function startGatewayApp(
  transport: Transport,
  recorder: TransportRecorder,
  imports: unknown[],
  clock?: ManualClock,
) {
  @Module({ imports: imports as never[], providers: [transport.gateway] })
  class AppModule {}
  let builder = Test.createTestingModule({ imports: [AppModule] });
  if (clock) builder = builder.overrideProvider(ApiKeyClock).useValue(clock);
  const app = (await builder.compile()).createNestApplication({ logger: recorder.logger });
  app.useWebSocketAdapter(transport.adapter(app) as never);
  await app.listen(0, '127.0.0.1');
  return { app, port: (app.getHttpServer().address() as { port: number }).port };
}

describe.each(transports)('ApiKeyWebSockets: verification at the handshake on $name', (transport) => {
  // Nest 11's exception filter never sends a refused message's exception to a native ws client.
  const refusedMessage = transport.name === 'ws' && nestMajor < 12 ? it.skip : it;
  const recorder = new TransportRecorder();
  const clock = new ManualClock();
  let app: INestApplication;
  let port: number;
  let service: ApiKeyService;
  let keys: Awaited<ReturnType<TransportRecorder['keys']>>;
  const open: Client[] = [];
  const connect = async (headers: Record<string, string>) => {
    const outcome = await transport.connect(port, headers);
    if (isClient(outcome)) open.push(outcome);
    return outcome;
  };
  const admitted = async (headers: Record<string, string>) => {
    const outcome = await connect(headers);
    if (!isClient(outcome)) throw new Error(`refused: ${JSON.stringify(outcome)}`);
    return outcome;
  };
  const refused = async (headers: Record<string, string>) => {
    const outcome = await connect(headers);
    if (isClient(outcome)) throw new Error('admitted');
    return outcome;
  };
  /** The refusal each transport reports for `code` with HTTP `status` (and ws close code `closeCode`). */
  const refusal = (code: string, status: number, closeCode: number): Ending =>
    transport.name === 'ws'
      ? { code, closeCode }
      : { code, data: expect.objectContaining({ status: 'error', statusCode: status, code }) as never };

  beforeAll(async () => {
    ({ app, port } = await startGatewayApp(transport, recorder, [recorder.module()], clock));
    service = app.get(ApiKeyService);
    keys = await recorder.keys(service);
  });
  afterAll(async () => {
    for (const client of open) client.close();
    await app.close();
  });

  it('refuses a handshake without a key (API_KEY_MISSING)', async () => {
    expect(await refused({})).toEqual(refusal('API_KEY_MISSING', 401, 4401));
  });

  it('refuses a handshake with an invalid key (API_KEY_INVALID)', async () => {
    expect(await refused({ 'x-api-key': INVALID_KEY })).toEqual(refusal('API_KEY_INVALID', 401, 4401));
  });

  it('refuses a handshake while the store fails: fails closed (API_KEY_STORE_UNAVAILABLE)', async () => {
    recorder.store.failing = true;
    try {
      expect(await refused({ 'x-api-key': keys.reader })).toEqual(refusal('API_KEY_STORE_UNAVAILABLE', 503, 1013));
    } finally {
      recorder.store.failing = false;
    }
  });

  it('refuses a key used from outside its allowed networks (API_KEY_RESTRICTED)', async () => {
    const { key } = await service.create({
      name: 'office',
      scopes: ['orders:read'],
      allowedNetworks: ['192.0.2.0/24'],
    });
    expect(await refused({ 'x-api-key': key })).toEqual(refusal('API_KEY_RESTRICTED', 403, 4403));
  });

  it("admits a valid key, whose messages reuse the connection's principal without another lookup", async () => {
    const authenticated = () =>
      recorder.sink.events.filter((e) => e.type === ApiKeyEventType.Authenticated && e.keyId === keys.readerId).length;
    const [lookups, events] = [recorder.store.lookups, authenticated()];
    const client = await admitted({ 'x-api-key': keys.reader });
    for (let n = 0; n < 5; n++)
      expect(await client.send('orders')).toEqual({ event: 'orders', data: { keyId: keys.readerId } });
    expect(recorder.store.lookups - lookups).toBe(1);
    expect(authenticated() - events).toBe(1);
  });

  it('closes an open connection once its key is revoked through ApiKeyService', async () => {
    const { key, apiKey } = await service.create({ name: 'revoked-while-open', scopes: ['orders:read'] });
    const client = await admitted({ 'x-api-key': key });
    expect((await client.send('orders')).data).toEqual({ keyId: apiKey.id });
    await service.revoke(apiKey.id);
    expect(await client.ended()).toEqual(refusal('API_KEY_INVALID', 401, 4401));
  });

  refusedMessage(
    'survives an event sink that throws during a re-check: its messages are verified meanwhile',
    async () => {
      const { key, apiKey } = await service.create({ name: 'sink-throws', scopes: ['orders:read'] });
      const client = await admitted({ 'x-api-key': key });
      const emit = recorder.sink.emit;
      let thrown = 0;
      recorder.sink.emit = (event) => {
        if (event.type !== ApiKeyEventType.Restricted || thrown++ > 0) return emit.call(recorder.sink, event);
        throw new Error('the sink is broken');
      };
      try {
        await service.update(apiKey.id, { allowedNetworks: ['192.0.2.0/24'] });
        await eventually(() => thrown > 0, 'the re-check to reach the sink');
        expect(recorder.said.some((line) => line.includes('A re-check of an open connection failed'))).toBe(true);
        const reply = await client.send('orders');
        expect(reply.data).toEqual(expect.objectContaining({ code: 'API_KEY_RESTRICTED' }));
      } finally {
        recorder.sink.emit = emit;
      }
    },
  );

  it('closes the open connections of every key of an owner whose keys are revoked', async () => {
    const issued = await Promise.all(
      ['first', 'second'].map((name) => service.create({ name, ownerId: 'team-x', scopes: ['orders:read'] })),
    );
    const clients = await Promise.all(issued.map(({ key }) => admitted({ 'x-api-key': key })));
    await service.revokeOwner('team-x');
    expect(await Promise.all(clients.map((client) => client.ended()))).toEqual([
      refusal('API_KEY_INVALID', 401, 4401),
      refusal('API_KEY_INVALID', 401, 4401),
    ]);
  });

  it('re-checks the connections of many changed keys a few keys at a time, with one lookup per key', async () => {
    const issued = await Promise.all(
      Array.from({ length: 24 }, (_, n) =>
        service.create({ name: `many-${n}`, ownerId: 'team-many', scopes: ['orders:read'] }),
      ),
    );
    const keysOfClients = [...issued, issued[0]!].map(({ key }) => key); // the first key twice
    const clients = await Promise.all(keysOfClients.map((key) => admitted({ 'x-api-key': key })));
    const lookups = recorder.store.lookups;
    const release = recorder.store.hold();
    try {
      await service.revokeOwner('team-many');
      // The re-checks have begun and wait for the store: not one lookup per key at once.
      expect(recorder.store.lookups - lookups).toBeGreaterThan(0);
      expect(recorder.store.lookups - lookups).toBeLessThan(issued.length);
    } finally {
      release();
    }
    const endings = await Promise.all(clients.map((client) => client.ended()));
    expect(endings).toEqual(clients.map(() => refusal('API_KEY_INVALID', 401, 4401)));
    expect(recorder.store.lookups - lookups).toBe(issued.length);
  });

  refusedMessage('verifies each message while a change cannot be re-checked (store down), failing closed', async () => {
    const { key, apiKey } = await service.create({ name: 'unsure', scopes: ['orders:read'] });
    const client = await admitted({ 'x-api-key': key });
    recorder.store.failing = true;
    try {
      await service.update(apiKey.id, { name: 'renamed' });
      expect((await client.send('orders')).data.code).toBe('API_KEY_STORE_UNAVAILABLE');
    } finally {
      recorder.store.failing = false;
    }
    expect(await client.send('orders')).toEqual({ event: 'orders', data: { keyId: apiKey.id } });
  });

  refusedMessage('verifies each message after a revocation whose acknowledgement was lost', async () => {
    const { key, apiKey } = await service.create({ name: 'lost-ack', scopes: ['orders:read'] });
    const client = await admitted({ 'x-api-key': key });
    recorder.store.losingAcknowledgements = true;
    recorder.store.failing = true; // lookups fail: a re-check cannot decide
    try {
      await expect(service.revoke(apiKey.id)).rejects.toMatchObject({ code: 'store_failed' });
      expect((await client.send('orders')).data.code).toBe('API_KEY_STORE_UNAVAILABLE');
    } finally {
      recorder.store.losingAcknowledgements = false;
      recorder.store.failing = false;
    }
    expect((await client.send('orders')).data.code).toBe('API_KEY_INVALID');
  });

  refusedMessage('applies a scope change to the next message of an open connection', async () => {
    const { key, apiKey } = await service.create({ name: 'narrowed', scopes: ['orders:read'] });
    const client = await admitted({ 'x-api-key': key });
    await service.update(apiKey.id, { scopes: [] });
    const reply = await client.send('orders');
    expect(reply.event).toBe('exception');
    expect(reply.data.code).toBe('API_KEY_INSUFFICIENT_SCOPE');
  });

  it('forgets a connection whose client left during the verification', async () => {
    const { key, apiKey } = await service.create({ name: 'left-early', scopes: ['orders:read'] });
    // The server's end of the next connection (the tests run one at a time): closed once the server saw the client leave.
    const closed = new Promise((resolve) =>
      (app.getHttpServer() as Server).once('connection', (socket: Socket) => socket.once('close', resolve)),
    );
    const until = async (condition: () => boolean) => {
      while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    const lookups = recorder.store.lookups;
    const release = recorder.store.hold();
    try {
      const client =
        transport.name === 'ws'
          ? new WebSocket(`ws://127.0.0.1:${port}`, { headers: { 'x-api-key': key } })
          : io(`http://127.0.0.1:${port}`, {
              transports: ['websocket'],
              extraHeaders: { 'x-api-key': key },
              reconnection: false,
            });
      // The server is verifying the key (its lookup waits); the client leaves, and the server sees it.
      await until(() => recorder.store.lookups > lookups);
      client.close();
      await closed;
    } finally {
      release();
    }
    // The verification ends (valid), after the client left.
    await new Promise((resolve) => setImmediate(resolve));
    // A change to the key re-checks its open connections: it has none left.
    const settled = recorder.store.lookups;
    await service.update(apiKey.id, { name: 'renamed' });
    expect(recorder.store.lookups).toBe(settled);
  });

  it('does not reuse the principal past the key’s expiry', async () => {
    const expiresAt = new Date(clock.now().getTime() + 60_000);
    const { key } = await service.create({ name: 'expiring', scopes: ['orders:read'], expiresAt });
    const client = await admitted({ 'x-api-key': key });
    clock.advance(60_000);
    void client.send('orders');
    expect(await client.ended()).toEqual(
      // The guard refuses the message (its exception, on socket.io) and closes the connection.
      transport.name === 'ws' ? { code: '', closeCode: 1008 } : refusal('API_KEY_INVALID', 401, 4401),
    );
  });

  it('emits events and logs without any presented key', () => {
    recorder.expectNoLeak([keys.reader, keys.noScope, INVALID_KEY]);
  });
});

describe.each(transports)('ApiKeyWebSockets with the rate limiter on $name', (transport) => {
  const recorder = new TransportRecorder();
  let app: INestApplication;
  let port: number;
  let keys: Awaited<ReturnType<TransportRecorder['keys']>>;
  const open: Client[] = [];
  beforeAll(async () => {
    const window = { points: 2, durationMs: 60_000 };
    ({ app, port } = await startGatewayApp(transport, recorder, [
      recorder.module({ isGlobal: true }),
      ApiKeyRateLimitModule.forRoot({ limit: window, perAddress: window }),
    ]));
    keys = await recorder.keys(app.get(ApiKeyService));
  });
  afterAll(async () => {
    for (const client of open) client.close();
    await app.close();
  });
  const connect = async (headers: Record<string, string>) => {
    const outcome = await transport.connect(port, headers);
    if (isClient(outcome)) open.push(outcome);
    return outcome;
  };
  const codeOf = (outcome: Client | Ending) => (isClient(outcome) ? 'admitted' : outcome.code);

  it("counts each connection against its key's rate limit and refuses one over it (API_KEY_RATE_LIMITED)", async () => {
    const codes = [];
    for (let n = 0; n < 3; n++) codes.push(codeOf(await connect({ 'x-api-key': keys.reader })));
    expect(codes).toEqual(['admitted', 'admitted', 'API_KEY_RATE_LIMITED']);
  });

  it('counts handshakes with invalid keys against the peer address', async () => {
    const endings = [];
    for (let n = 0; n < 3; n++) endings.push(await connect({ 'x-api-key': INVALID_KEY }));
    expect(endings.map(codeOf)).toEqual(['API_KEY_INVALID', 'API_KEY_INVALID', 'API_KEY_RATE_LIMITED']);
    if (transport.name === 'ws') expect((endings[2] as Ending).closeCode).toBe(4429);
  });
});

/** A second socket.io namespace, verified by the same middleware, that records its server's sockets. */
@WebSocketGateway({ namespace: 'other' })
class OtherNamespaceGateway extends OrdersHandlers implements OnGatewayInit {
  static server: { sockets: Map<string, { conn: { listenerCount(event: string): number } }> };

  constructor(private readonly webSockets: ApiKeyWebSockets) {
    super();
  }

  afterInit(server: typeof OtherNamespaceGateway.server & Parameters<IoGateway['afterInit']>[0]): void {
    OtherNamespaceGateway.server = server;
    server.use(this.webSockets.socketIo({ recheckIntervalMs: RECHECK_MS }));
  }
}

describe('ApiKeyWebSockets on socket.io namespaces sharing one connection', () => {
  const recorder = new TransportRecorder();
  let app: INestApplication;
  let port: number;
  beforeAll(async () => {
    const transport = { ...transports[0]!, gateway: OtherNamespaceGateway };
    ({ app, port } = await startGatewayApp(transport, recorder, [recorder.module()]));
  });
  afterAll(() => app.close());

  it('keeps no close listener of a namespace socket that disconnected while its connection stays open', async () => {
    const { key } = await app.get(ApiKeyService).create({ name: 'namespaces', scopes: ['orders:read'] });
    const manager = new Manager(`http://127.0.0.1:${port}`, {
      transports: ['websocket'],
      extraHeaders: { 'x-api-key': key },
      reconnection: false,
    });
    // The default namespace has no gateway here; its socket keeps the shared connection open.
    const keeper = manager.socket('/');
    await new Promise<void>((resolve) => keeper.once('connect', resolve));
    try {
      const socket = manager.socket('/other');
      for (let n = 0; n <= 12; n++) {
        if (n > 0) {
          socket.disconnect();
          // Once the server forgot it: a connect sent with the disconnect in one batch goes unanswered.
          while (OtherNamespaceGateway.server.sockets.size > 0) await new Promise((resolve) => setTimeout(resolve, 5));
          socket.connect();
        }
        await new Promise<void>((resolve) => socket.once('connect', resolve));
      }
      const [server] = OtherNamespaceGateway.server.sockets.values();
      // The open socket's own listener (and socket.io's), not one per socket that came and went.
      expect(server!.conn.listenerCount('close')).toBeLessThan(5);
    } finally {
      keeper.disconnect();
    }
  });
});
