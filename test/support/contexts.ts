import {
  Controller,
  Module,
  UseGuards,
  type INestApplication,
  type INestApplicationContext,
  type LoggerService,
  type ModuleMetadata,
  type Type,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { Query, Resolver, Subscription } from '@nestjs/graphql';
import {
  ClientProxyFactory,
  GrpcMethod,
  MessagePattern,
  NatsRecordBuilder,
  RmqRecordBuilder,
  Transport,
  type ClientProxy,
} from '@nestjs/microservices';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WsAdapter } from '@nestjs/platform-ws';
import { OnGatewayConnection, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createClient } from 'graphql-ws';
import type { IncomingMessage } from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { firstValueFrom } from 'rxjs';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import {
  ApiKey,
  ApiKeyGuard,
  ApiKeyModule,
  ApiKeySubscriptions,
  Public,
  RequireScopes,
  rememberWebSocketHandshake,
  type ApiKeyModuleOptions,
  type ApiKeyPrincipal,
} from 'nestjs-api-key';
import { drivers } from '../graphql/drivers.js';
import { KEY_QUERY, type Alphabet, type Credential } from './hostile-input.js';
import { installedMajor, natsPackage, natsSkip } from './nest-version.js';
import { send as sendRaw } from './raw-http.js';

/**
 * The non-HTTP contexts of the guard, each as one app and a client that presents credentials the
 * way its transport carries them: GraphQL over HTTP (Apollo on Express, Mercurius on Fastify) and
 * over graphql-ws, socket.io and ws gateways (handshake headers), NATS and RabbitMQ message
 * headers, gRPC metadata. Every app has `ApiKeyGuard` both global (`APP_GUARD`) and on its
 * handlers (`@UseGuards`): a message is verified once all the same.
 */

/** The installed Nest major (CI runs the suites on 12 and 11). */
const nestMajor = installedMajor('@nestjs/core');

/** The handlers every context serves: guarded, guarded with scope `orders:read`, `@Public()`. */
export type Target = 'whoami' | 'orders' | 'ping';

/** What the client got: the handler's answer, or a refusal with its stable code and HTTP-equivalent status. */
export interface ContextReply {
  /** The id of the principal the handler saw (`null` on a public handler without one); absent when refused. */
  readonly keyId?: string | null;
  /** The refusal's stable code (`API_KEY_MISSING`, ...). */
  readonly code?: string;
  /** The refusal's status as on HTTP (gRPC statuses and WebSocket close codes mapped back). */
  readonly status?: number;
  /** Everything the client received, for leak checks. */
  readonly raw: unknown;
}

/** Extra headers of a message beside its credentials (`origin`); a message transport has no client address. */
export type ExtraHeaders = Readonly<Record<string, string>>;

export interface RunningContext {
  readonly app: INestApplicationContext;
  send(target: Target, credentials: readonly Credential[], extra?: ExtraHeaders): Promise<ContextReply>;
  close(): Promise<void>;
}

export interface Context {
  readonly name: string;
  /** `graphql` and `ws` messages come with a client address and an `Origin`; `rpc` messages without. */
  readonly kind: 'graphql' | 'ws' | 'rpc';
  /** Whether the connection is authenticated before any handler runs (graphql-ws with `ApiKeySubscriptions`). */
  readonly connectionAuth: boolean;
  /** Whether messages have a cookie and a URL (HTTP requests and handshakes), so the cookie and query sources apply. */
  readonly readsCookieAndQuery: boolean;
  /** What the transport's client can carry in a credential's value, beyond printable ASCII. */
  readonly carries: ReadonlySet<Alphabet>;
  /**
   * Whether a header sent twice reaches the server as one value joined with `, ` (gRPC metadata
   * over HTTP/2): two keys then look like one malformed key.
   */
  readonly joinsRepeatedHeaders?: boolean;
  /**
   * Credentials the transport's client cannot send twice (grpc-js refuses a second
   * `authorization`; socket.io-client keeps the last value of a query parameter).
   */
  readonly singleValueCredentials?: ReadonlySet<string>;
  /** Why the context cannot run here, if it cannot. */
  readonly skip?: string;
  /** Starts the app with these module options (the module is made global) and this logger. */
  start(options: ApiKeyModuleOptions, logger: LoggerService): Promise<RunningContext>;
}

/** Every alphabet: a JSON payload or an AMQP table carries any string. */
const ALPHABETS: Alphabet[] = ['tab', 'latin1', 'control', 'line-break', 'unicode'];

/** Unique per run: parallel runs on the shared brokers never answer each other. */
const RUN = `api-key-contexts-${process.pid}-${Date.now()}`;
const PROTO = fileURLToPath(new URL('../contexts/contexts.proto', import.meta.url));
const RMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';
/** Longer than any answer here takes; a refusal that never arrives fails the test instead of hanging it. */
const REPLY_TIMEOUT_MS = 5_000;

const typeDefs = /* GraphQL */ `
  type Query {
    whoami: String!
    orders: String!
    ping: String
  }
  type Subscription {
    whoami: String!
    orders: String!
    ping: String
  }
`;

@Resolver()
@UseGuards(ApiKeyGuard)
class ContextsResolver {
  @Query('whoami')
  whoami(@ApiKey('id') id: string) {
    return id;
  }
  @Query('orders')
  @RequireScopes('orders:read')
  orders(@ApiKey('id') id: string) {
    return id;
  }
  @Query('ping')
  @Public()
  ping(@ApiKey() key: ApiKeyPrincipal | undefined) {
    return key?.id ?? null;
  }
  @Subscription('whoami')
  async *whoamiFeed(@ApiKey('id') id: string) {
    yield { whoami: id };
  }
  @Subscription('orders')
  @RequireScopes('orders:read')
  async *ordersFeed(@ApiKey('id') id: string) {
    yield { orders: id };
  }
  @Subscription('ping')
  @Public()
  async *pingFeed(@ApiKey() key: ApiKeyPrincipal | undefined) {
    yield { ping: key?.id ?? null };
  }
}

@WebSocketGateway()
@UseGuards(ApiKeyGuard)
class ContextsGateway implements OnGatewayConnection {
  handleConnection(client: object, request: IncomingMessage): void {
    rememberWebSocketHandshake(client, request);
  }
  @SubscribeMessage('whoami')
  whoami(@ApiKey('id') id: string) {
    return { event: 'whoami', data: { keyId: id } };
  }
  @SubscribeMessage('orders')
  @RequireScopes('orders:read')
  orders(@ApiKey('id') id: string) {
    return { event: 'orders', data: { keyId: id } };
  }
  @SubscribeMessage('ping')
  @Public()
  ping(@ApiKey() key: ApiKeyPrincipal | undefined) {
    return { event: 'ping', data: { keyId: key?.id ?? null } };
  }
}

@Controller()
@UseGuards(ApiKeyGuard)
class ContextsHandlers {
  @MessagePattern(`${RUN}.whoami`)
  whoami(@ApiKey('id') id: string) {
    return { keyId: id };
  }
  @MessagePattern(`${RUN}.orders`)
  @RequireScopes('orders:read')
  orders(@ApiKey('id') id: string) {
    return { keyId: id };
  }
  @MessagePattern(`${RUN}.ping`)
  @Public()
  ping(@ApiKey() key: ApiKeyPrincipal | undefined) {
    return { keyId: key?.id ?? null };
  }
}

/** The same handlers as gRPC methods (a handler has one pattern). */
@Controller()
@UseGuards(ApiKeyGuard)
class ContextsGrpcHandlers {
  @GrpcMethod('ContextsService', 'Whoami')
  whoami(@ApiKey('id') id: string) {
    return { keyId: id };
  }
  @GrpcMethod('ContextsService', 'Orders')
  @RequireScopes('orders:read')
  orders(@ApiKey('id') id: string) {
    return { keyId: id };
  }
  @GrpcMethod('ContextsService', 'Ping')
  @Public()
  ping(@ApiKey() key: ApiKeyPrincipal | undefined) {
    // gRPC has no null string: the client reads an empty one.
    return { keyId: key?.id ?? '' };
  }
}

/** The module, global (the GraphQL drivers inject `ApiKeySubscriptions`), and the guard as `APP_GUARD`. */
function appModule(
  options: ApiKeyModuleOptions,
  metadata: Pick<ModuleMetadata, 'imports' | 'providers' | 'controllers'>,
): Type<unknown> {
  @Module({
    imports: [ApiKeyModule.forRoot({ ...options, isGlobal: true }), ...(metadata.imports ?? [])],
    providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }, ...(metadata.providers ?? [])],
    controllers: metadata.controllers ?? [],
  })
  class ContextsAppModule {}
  return ContextsAppModule;
}

/** The credentials but the query ones, and the query string those make (`?api_key=...`, or empty). */
function urlParts(credentials: readonly Credential[]): { headers: Credential[]; search: string } {
  const query = credentials.flatMap(([name, value]) =>
    name === 'query' ? [`${KEY_QUERY}=${encodeURIComponent(value)}`] : [],
  );
  return {
    headers: credentials.filter(([name]) => name !== 'query'),
    search: query.length > 0 ? `?${query.join('&')}` : '',
  };
}

/** Credential pairs as a header record: a repeated name becomes an array. */
function headerRecord(credentials: readonly Credential[], extra: ExtraHeaders = {}): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = { ...extra };
  for (const [name, value] of credentials) {
    const present = headers[name];
    headers[name] = present === undefined ? value : [present, value].flat();
  }
  return headers;
}

/**
 * Credentials as a table with one value per name (AMQP headers, a JSON payload): a repeated name
 * is written in another spelling (`x-api-key`, `X-API-KEY`, `X-Api-Key`), which names the same header.
 */
function spelledApart(credentials: Iterable<readonly [string, string]>): Record<string, string> {
  const table: Record<string, string> = {};
  for (const [name, value] of credentials) {
    const spellings = [name, name.toUpperCase(), name.replace(/(^|-)\w/g, (c) => c.toUpperCase())];
    table[spellings.find((spelling) => !(spelling in table))!] = value;
  }
  return table;
}

const HTTP_STATUS_OF_CLOSE: Readonly<Record<number, number>> = { 4400: 400, 4401: 401, 4403: 403, 1013: 503 };
const HTTP_STATUS_OF_GRPC: Readonly<Record<number, number>> = {
  [grpc.status.INVALID_ARGUMENT]: 400,
  [grpc.status.UNAUTHENTICATED]: 401,
  [grpc.status.PERMISSION_DENIED]: 403,
  [grpc.status.RESOURCE_EXHAUSTED]: 429,
  [grpc.status.UNAVAILABLE]: 503,
};

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer to ${what}`)), REPLY_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A refusal body (`WsException`, `RpcException` over NATS/RabbitMQ) as a reply. */
function bodyReply(body: unknown): ContextReply {
  const { code, statusCode } = (body ?? {}) as { code?: string; statusCode?: number };
  return { code, status: statusCode, raw: body };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startHttpApp(
  module: Type<unknown>,
  platform: (typeof drivers)[number]['platform'],
  logger: LoggerService,
  configure: (app: INestApplication) => void = () => undefined,
) {
  const moduleRef = await Test.createTestingModule({ imports: [module] }).compile();
  const app = moduleRef.createNestApplication(platform.createAdapter(), { logger });
  configure(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return { app, port };
}

/** GraphQL queries over HTTP, sent raw (header values reach the server as written). */
const graphqlHttp = (driver: (typeof drivers)[number]): Context => ({
  name: `GraphQL over HTTP (${driver.name})`,
  kind: 'graphql',
  connectionAuth: false,
  readsCookieAndQuery: true,
  carries: new Set(['tab', 'latin1']),
  async start(options, logger) {
    const module = appModule(options, {
      imports: [driver.module({ typeDefs })],
      providers: [ContextsResolver],
    });
    const { app, port } = await startHttpApp(module, driver.platform, logger);
    return {
      app,
      async send(target, credentials, extra = {}) {
        const { headers, search } = urlParts(credentials);
        const res = await sendRaw(port, {
          method: 'POST',
          path: `/graphql${search}`,
          headers: [['Content-Type', 'application/json'], ...Object.entries(extra), ...headers],
          body: JSON.stringify({ query: `{ ${target} }` }),
        });
        const raw = { status: res.status, head: res.head, body: res.body };
        if (res.status >= 500) return { status: res.status, raw };
        const body = JSON.parse(res.body) as {
          data?: Record<string, string | null> | null;
          errors?: Array<{ extensions?: { apiKeyCode?: string; statusCode?: number } }>;
        };
        const error = body.errors?.[0]?.extensions;
        if (error) return { code: error.apiKeyCode, status: error.statusCode, raw };
        return { keyId: body.data?.[target] ?? null, raw };
      },
      close: () => app.close(),
    };
  },
});

/** GraphQL subscriptions over graphql-ws, authenticated by `ApiKeySubscriptions`: credentials in the connection_init payload. */
const graphqlWs = (driver: (typeof drivers)[number]): Context => ({
  name: `GraphQL subscriptions over graphql-ws (${driver.name})`,
  kind: 'graphql',
  connectionAuth: true,
  readsCookieAndQuery: true,
  carries: new Set(ALPHABETS),
  async start(options, logger) {
    const graphql =
      driver.name === 'apollo'
        ? drivers[0].moduleAsync((subscriptions: ApiKeySubscriptions) => ({
            typeDefs,
            subscriptions: { 'graphql-ws': subscriptions.graphqlWs() },
          }))
        : drivers[1].moduleAsync((subscriptions: ApiKeySubscriptions) => ({
            typeDefs,
            subscription: subscriptions.mercurius(),
          }));
    const module = appModule(options, { imports: [graphql], providers: [ContextsResolver] });
    const { app, port } = await startHttpApp(module, driver.platform, logger);
    return {
      app,
      send(target, credentials, extra = {}) {
        // The handshake carries the extra headers (a browser's Origin); the payload the credentials.
        const Handshake = class extends WebSocket {
          constructor(address: string, protocols?: string | string[]) {
            super(address, protocols, { headers: extra });
          }
        };
        const { headers, search } = urlParts(credentials);
        const payload = spelledApart(headers);
        return withTimeout(
          new Promise<ContextReply>((resolve) => {
            const client = createClient({
              url: `ws://127.0.0.1:${port}/graphql${search}`,
              webSocketImpl: Handshake,
              connectionParams: payload,
              retryAttempts: 0,
              on: {
                closed: (event) => {
                  const { code, reason } = event as { code: number; reason: string };
                  resolve({ code: String(reason), status: HTTP_STATUS_OF_CLOSE[code] ?? code, raw: { code, reason } });
                },
              },
            });
            const done = (reply: ContextReply) => {
              resolve(reply);
              void client.dispose();
            };
            client.subscribe(
              { query: `subscription { ${target} }` },
              {
                next: (value) => {
                  const error = value.errors?.[0]?.extensions as
                    { apiKeyCode?: string; statusCode?: number } | undefined;
                  done(
                    error
                      ? { code: error.apiKeyCode, status: error.statusCode, raw: value }
                      : { keyId: (value.data as Record<string, string | null>)[target] ?? null, raw: value },
                  );
                },
                error: (error) => {
                  const first = (Array.isArray(error) ? error[0] : undefined) as
                    { extensions?: { apiKeyCode?: string; statusCode?: number } } | undefined;
                  if (first)
                    done({ code: first.extensions?.apiKeyCode, status: first.extensions?.statusCode, raw: error });
                },
                complete: () => undefined,
              },
            );
          }),
          `subscription { ${target} }`,
        );
      },
      close: () => app.close(),
    };
  },
});

/** A gateway on socket.io or ws; each send opens a connection whose handshake carries the credentials. */
const gateway = (name: 'socket.io' | 'ws', carrier: 'handshake headers' | 'auth payload'): Context => ({
  name: `${name} gateway (${carrier})`,
  kind: 'ws',
  connectionAuth: false,
  readsCookieAndQuery: true,
  // The auth payload is JSON; the handshake's headers are HTTP's.
  carries: new Set(carrier === 'auth payload' ? ALPHABETS : ['tab', 'latin1']),
  singleValueCredentials: new Set(name === 'socket.io' ? ['query'] : []),
  // Nest 11's exception filter never sends an exception to a native ws client.
  skip: name === 'ws' && nestMajor < 12 ? "Nest 11's ws adapter sends no refusal to the client" : undefined,
  async start(options, logger) {
    const module = appModule(options, { providers: [ContextsGateway] });
    const { app, port } = await startHttpApp(module, drivers[0].platform, logger, (app) =>
      app.useWebSocketAdapter(name === 'socket.io' ? new IoAdapter(app) : new WsAdapter(app)),
    );
    const open = new Set<{ close(): void }>();
    return {
      app,
      async send(target, credentials, extra = {}) {
        // With the auth payload, the key header's first value goes there (socket.io reads it as one more value).
        const parts = urlParts(credentials);
        const inAuth =
          carrier === 'auth payload' ? parts.headers.find(([header]) => header === 'x-api-key') : undefined;
        const headers = headerRecord(
          parts.headers.filter((credential) => credential !== inAuth),
          extra,
        ) as Record<string, string>;
        if (name === 'socket.io') {
          const socket = io(`http://127.0.0.1:${port}/${parts.search}`, {
            transports: ['websocket'],
            extraHeaders: headers,
            auth: inAuth ? { apiKey: inAuth[1] } : {},
            reconnection: false,
          });
          open.add(socket);
          try {
            return await withTimeout(
              new Promise<ContextReply>((resolve, reject) => {
                socket.once('connect_error', reject);
                socket.once(target, (data: { keyId: string | null }) => resolve({ keyId: data.keyId, raw: data }));
                socket.once('exception', (data: unknown) => resolve(bodyReply(data)));
                socket.emit(target);
              }),
              `socket.io ${target}`,
            );
          } finally {
            socket.close();
            open.delete(socket);
          }
        }
        const socket = new WebSocket(`ws://127.0.0.1:${port}/${parts.search}`, { headers });
        open.add(socket);
        try {
          return await withTimeout(
            new Promise<ContextReply>((resolve, reject) => {
              socket.once('error', reject);
              socket.once('open', () => socket.send(JSON.stringify({ event: target })));
              socket.once('message', (raw) => {
                const { event, data } = JSON.parse(String(raw)) as { event: string; data: { keyId: string | null } };
                resolve(event === 'exception' ? bodyReply(data) : { keyId: data.keyId, raw: data });
              });
            }),
            `ws ${target}`,
          );
        } finally {
          socket.close();
          open.delete(socket);
        }
      },
      async close() {
        for (const socket of open) socket.close();
        await app.close();
      },
    };
  },
});

async function startMicroservice(
  options: ApiKeyModuleOptions,
  logger: LoggerService,
  server: { transport: Transport; options?: object },
) {
  const handlers = server.transport === Transport.GRPC ? ContextsGrpcHandlers : ContextsHandlers;
  const module = appModule(options, { controllers: [handlers] });
  const moduleRef = await Test.createTestingModule({ imports: [module] }).compile();
  const app = moduleRef.createNestMicroservice({ ...server, logger } as never);
  await app.listen();
  return app;
}

/** A ClientProxy context: the refusal is the error body the client's `send` rejects with. */
function proxyContext(
  name: string,
  carries: Alphabet[],
  server: () => { transport: Transport; options?: object },
  client: () => Promise<{
    proxy: ClientProxy;
    record: (credentials: ReadonlyArray<readonly [string, string]>) => unknown;
  }>,
  skip?: string,
): Context {
  return {
    name,
    kind: 'rpc',
    connectionAuth: false,
    readsCookieAndQuery: false,
    carries: new Set(carries),
    skip,
    async start(options, logger) {
      const app = await startMicroservice(options, logger, server());
      const { proxy, record } = await client();
      await proxy.connect();
      return {
        app,
        async send(target, credentials, extra = {}) {
          try {
            const reply = await withTimeout(
              firstValueFrom(
                proxy.send<{ keyId: string | null }>(
                  `${RUN}.${target}`,
                  record([...Object.entries(extra), ...credentials]),
                ),
              ),
              `${name} ${target}`,
            );
            return { keyId: reply.keyId, raw: reply };
          } catch (error) {
            if (error instanceof Error && error.message.startsWith('no answer')) throw error;
            return bodyReply(error);
          }
        },
        async close() {
          await proxy.close();
          await app.close();
        },
      };
    },
  };
}

const nats = proxyContext(
  'NATS message headers',
  ['tab', 'latin1', 'control', 'unicode'],
  () => ({ transport: Transport.NATS, options: { servers: ['nats://127.0.0.1:4222'], queue: RUN } }),
  async () => {
    const { headers: natsHeaders } = (await import(natsPackage)) as {
      headers: () => { append(name: string, value: string): void };
    };
    const proxy = ClientProxyFactory.create({
      transport: Transport.NATS,
      options: { servers: ['nats://127.0.0.1:4222'] },
    }) as ClientProxy;
    return {
      proxy,
      record: (credentials) => {
        const hdrs = natsHeaders();
        for (const [name, value] of credentials) hdrs.append(name, value);
        return new NatsRecordBuilder({}).setHeaders(hdrs).build();
      },
    };
  },
  natsSkip,
);

const RMQ_QUEUE = { queue: RUN, queueOptions: { durable: false, autoDelete: true } };
const rabbitMq = proxyContext(
  'RabbitMQ message headers',
  ALPHABETS,
  () => ({ transport: Transport.RMQ, options: { urls: [RMQ_URL], ...RMQ_QUEUE } }),
  async () => ({
    proxy: ClientProxyFactory.create({
      transport: Transport.RMQ,
      options: { urls: [RMQ_URL], ...RMQ_QUEUE },
    }) as ClientProxy,
    record: (credentials) => new RmqRecordBuilder({}).setOptions({ headers: spelledApart(credentials) }).build(),
  }),
);

/** gRPC metadata (printable ASCII only: grpc-js refuses other values before sending). */
const grpcContext: Context = {
  name: 'gRPC metadata',
  kind: 'rpc',
  connectionAuth: false,
  readsCookieAndQuery: false,
  carries: new Set(),
  joinsRepeatedHeaders: true,
  singleValueCredentials: new Set(['authorization']),
  async start(options, logger) {
    const url = `127.0.0.1:${await freePort()}`;
    const app = await startMicroservice(options, logger, {
      transport: Transport.GRPC,
      options: { package: 'contexts', protoPath: PROTO, url },
    });
    const definition = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO)) as any;
    const stub = new definition.contexts.ContextsService(url, grpc.credentials.createInsecure());
    const methods = { whoami: 'Whoami', orders: 'Orders', ping: 'Ping' } as const;
    return {
      app,
      send(target, credentials, extra = {}) {
        const metadata = new grpc.Metadata();
        for (const [name, value] of [...Object.entries(extra), ...credentials]) metadata.add(name, value);
        return withTimeout(
          new Promise<ContextReply>((resolve) =>
            stub[methods[target]]({}, metadata, (error: grpc.ServiceError | null, reply: { keyId: string }) => {
              if (!error) return resolve({ keyId: reply.keyId === '' ? null : reply.keyId, raw: reply });
              resolve({
                code: error.metadata.get('api-key-error-code')[0] as string | undefined,
                status: HTTP_STATUS_OF_GRPC[error.code] ?? 500,
                raw: { code: error.code, details: error.details, metadata: error.metadata.getMap() },
              });
            }),
          ),
          `gRPC ${target}`,
        );
      },
      async close() {
        stub.close();
        await app.close();
      },
    };
  },
};

/** Every context, for `describe.each(contexts)`. */
export const contexts: readonly Context[] = [
  graphqlHttp(drivers[0]),
  graphqlHttp(drivers[1]),
  graphqlWs(drivers[0]),
  graphqlWs(drivers[1]),
  gateway('socket.io', 'handshake headers'),
  gateway('socket.io', 'auth payload'),
  gateway('ws', 'handshake headers'),
  nats,
  rabbitMq,
  grpcContext,
];
