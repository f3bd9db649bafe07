import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Module, UseGuards, type INestMicroservice } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  ClientProxyFactory,
  Ctx,
  EventPattern,
  GrpcMethod,
  MessagePattern,
  MqttRecordBuilder,
  NatsRecordBuilder,
  Payload,
  RmqRecordBuilder,
  Transport,
  type ClientProxy,
} from '@nestjs/microservices';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import { firstValueFrom } from 'rxjs';
import { ApiKey, ApiKeyGuard, ApiKeyService, Public, RequireScopes, type ApiKeyPrincipal } from 'nestjs-api-key';
import { natsPackage, natsSkip } from '../support/nest-version.js';
import { INVALID_KEY, TransportRecorder } from '../support/transport-app.js';

/** Unique per run, so parallel runs on the shared brokers never answer each other. */
const RUN = `api-key-${process.pid}-${Date.now()}`;
const PROTO = fileURLToPath(new URL('./orders.proto', import.meta.url));
const received: unknown[] = [];

@Controller()
@UseGuards(ApiKeyGuard)
class OrdersController {
  @MessagePattern(`${RUN}.orders`)
  @RequireScopes('orders:read')
  orders(@Payload() data: { n: number }, @ApiKey() key: ApiKeyPrincipal) {
    return { keyId: key.id, n: data.n };
  }

  @MessagePattern(`${RUN}.ping`)
  @Public()
  ping(@ApiKey() key: ApiKeyPrincipal | undefined) {
    return { key: key ?? null };
  }

  @EventPattern(`${RUN}.created`)
  @RequireScopes('orders:read')
  created(@Payload() data: unknown, @Ctx() _context: unknown) {
    received.push(data);
  }

  @GrpcMethod('OrdersService', 'Find')
  @RequireScopes('orders:read')
  find(@Payload() data: { n: number }, @ApiKey('id') id: string) {
    return { keyId: id, n: data.n };
  }
}

/** A refusal as the client sees it: the error body (NATS, RabbitMQ) or a gRPC status. */
interface Refusal {
  code: string | undefined;
  statusCode?: number;
  grpcStatus?: number;
}

interface Client {
  /** Sends one request with these credential headers (a value per entry; a repeated name as an array). */
  send(
    headers: Record<string, string | string[]>,
    n?: number,
    pattern?: string,
  ): Promise<{ keyId?: string; n?: number }>;
  emit(headers: Record<string, string>, data: unknown): Promise<void>;
  close(): Promise<void>;
}

interface TransportCase {
  name: string;
  skip?: string;
  server: () => object;
  client: () => Promise<Client>;
  /** Reads the refusal out of what the client's send rejected with. */
  refusal: (error: unknown) => Refusal;
}

const RMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';
/** Mosquitto; user properties (the headers) need MQTT 5 on both ends. */
const MQTT_OPTIONS = { url: 'mqtt://127.0.0.1:1883', protocolVersion: 5 } as const;
const GRPC_URL = `127.0.0.1:${40000 + (process.pid % 20000)}`;

async function proxyClient(
  proxy: ClientProxy,
  record: (data: unknown, headers: Record<string, string | string[]>) => unknown,
): Promise<Client> {
  await proxy.connect();
  return {
    send: (headers, n = 1, pattern = `${RUN}.orders`) => firstValueFrom(proxy.send(pattern, record({ n }, headers))),
    emit: (headers, data) =>
      firstValueFrom(proxy.emit(`${RUN}.created`, record(data, headers)), { defaultValue: undefined }),
    close: () => proxy.close(),
  };
}

const bodyRefusal = (error: unknown): Refusal => error as Refusal;

const transports: TransportCase[] = [
  {
    name: 'NATS',
    skip: natsSkip,
    server: () => ({ transport: Transport.NATS, options: { servers: ['nats://127.0.0.1:4222'], queue: RUN } }),
    client: async () => {
      const nats = (await import(natsPackage)) as { headers: () => { append(k: string, v: string): void } };
      const proxy = ClientProxyFactory.create({
        transport: Transport.NATS,
        options: { servers: ['nats://127.0.0.1:4222'] },
      });
      return proxyClient(proxy as ClientProxy, (data, headers) => {
        const hdrs = nats.headers();
        for (const [name, values] of Object.entries(headers)) for (const v of [values].flat()) hdrs.append(name, v);
        return new NatsRecordBuilder(data).setHeaders(hdrs).build();
      });
    },
    refusal: bodyRefusal,
  },
  {
    name: 'RabbitMQ',
    server: () => ({
      transport: Transport.RMQ,
      options: { urls: [RMQ_URL], queue: RUN, queueOptions: { durable: false, autoDelete: true } },
    }),
    client: () =>
      proxyClient(
        ClientProxyFactory.create({
          transport: Transport.RMQ,
          options: { urls: [RMQ_URL], queue: RUN, queueOptions: { durable: false, autoDelete: true } },
        }) as ClientProxy,
        // AMQP headers are a table: one value per name.
        (data, headers) =>
          new RmqRecordBuilder(data).setOptions({ headers: headers as Record<string, string> }).build(),
      ),
    refusal: bodyRefusal,
  },
  {
    name: 'MQTT',
    server: () => ({ transport: Transport.MQTT, options: MQTT_OPTIONS }),
    client: () =>
      proxyClient(
        ClientProxyFactory.create({ transport: Transport.MQTT, options: MQTT_OPTIONS }) as ClientProxy,
        // A request with an empty user-properties list got no reply here: one without headers has none.
        (data, headers) =>
          Object.keys(headers).length === 0
            ? data
            : new MqttRecordBuilder(data).setProperties({ userProperties: headers }).build(),
      ),
    refusal: bodyRefusal,
  },
  {
    name: 'gRPC',
    server: () => ({ transport: Transport.GRPC, options: { package: 'orders', protoPath: PROTO, url: GRPC_URL } }),
    client: async () => {
      const definition = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO)) as any;
      const stub = new definition.orders.OrdersService(GRPC_URL, grpc.credentials.createInsecure());
      return {
        send: (headers, n = 1) =>
          new Promise((resolve, reject) => {
            const metadata = new grpc.Metadata();
            for (const [name, values] of Object.entries(headers))
              for (const v of [values].flat()) metadata.add(name, v);
            stub.Find({ n }, metadata, (error: unknown, reply: { keyId: string; n: number }) =>
              error ? reject(error) : resolve(reply),
            );
          }),
        emit: () => Promise.resolve(),
        close: async () => stub.close(),
      };
    },
    refusal: (error) => {
      const e = error as grpc.ServiceError;
      return { code: e.metadata.get('api-key-error-code')[0] as string | undefined, grpcStatus: e.code };
    },
  },
];

const GRPC_STATUS = {
  400: grpc.status.INVALID_ARGUMENT,
  401: grpc.status.UNAUTHENTICATED,
  403: grpc.status.PERMISSION_DENIED,
  503: grpc.status.UNAVAILABLE,
};

describe.each(transports)('ApiKeyGuard on $name message handlers', ({ name, skip, server, client, refusal }) => {
  const recorder = new TransportRecorder();
  let app: INestMicroservice;
  let service: ApiKeyService;
  let keys: Awaited<ReturnType<TransportRecorder['keys']>>;
  let c: Client;
  const test = skip ? it.skip : it;

  /** Sends and expects a refusal with this stable code and HTTP status (a gRPC status over gRPC). */
  async function expectRefused(
    headers: Record<string, string | string[]>,
    code: string,
    statusCode: 400 | 401 | 403 | 503,
  ) {
    const error = await c.send(headers).then(
      (reply) => ({ reply }),
      (e: unknown) => e,
    );
    const seen = refusal(error);
    expect(seen.code).toBe(code);
    if (name === 'gRPC') expect(seen.grpcStatus).toBe(GRPC_STATUS[statusCode]);
    else expect(seen).toEqual(expect.objectContaining({ statusCode, code }));
  }

  beforeAll(async () => {
    if (skip) return;
    @Module({
      imports: [recorder.module({ sources: { header: 'X-API-Key', bearer: true } })],
      controllers: [OrdersController],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestMicroservice({ ...server(), logger: recorder.logger } as never);
    await app.listen();
    service = app.get(ApiKeyService);
    keys = await recorder.keys(service);
    c = await client();
  });
  afterAll(async () => {
    if (skip) return;
    await c.close();
    await app.close();
  });

  test('admits a message with a valid key in its headers, with @ApiKey() its principal', async () => {
    expect(await c.send({ 'x-api-key': keys.reader }, 7)).toEqual({ keyId: keys.readerId, n: 7 });
    expect(await c.send({ authorization: `Bearer ${keys.reader}` }, 8)).toEqual({ keyId: keys.readerId, n: 8 });
  });

  test('refuses a message without a key with API_KEY_MISSING', () => expectRefused({}, 'API_KEY_MISSING', 401));

  test('refuses an invalid key with API_KEY_INVALID', () =>
    expectRefused({ 'x-api-key': INVALID_KEY }, 'API_KEY_INVALID', 401));

  test('refuses a key without the scope with API_KEY_INSUFFICIENT_SCOPE', () =>
    expectRefused({ 'x-api-key': keys.noScope }, 'API_KEY_INSUFFICIENT_SCOPE', 403));

  test('refuses two different keys in one message (one credential per message)', () =>
    expectRefused({ 'x-api-key': keys.reader, authorization: `Bearer ${keys.noScope}` }, 'API_KEY_CONFLICT', 400));

  test('fails closed with API_KEY_STORE_UNAVAILABLE while the store fails', async () => {
    recorder.store.failing = true;
    try {
      await expectRefused({ 'x-api-key': keys.reader }, 'API_KEY_STORE_UNAVAILABLE', 503);
    } finally {
      recorder.store.failing = false;
    }
  });

  test('refuses a key with restrictions: a message has no client address nor Origin (API_KEY_RESTRICTED)', async () => {
    const { key } = await service.create({ name: 'office', scopes: ['orders:read'], allowedNetworks: ['0.0.0.0/0'] });
    await expectRefused({ 'x-api-key': key }, 'API_KEY_RESTRICTED', 403);
  });

  test('refuses the next message once the key is revoked', async () => {
    const { key, apiKey } = await service.create({ name: 'soon-revoked', scopes: ['orders:read'] });
    expect((await c.send({ 'x-api-key': key })).keyId).toBe(apiKey.id);
    await service.revoke(apiKey.id);
    await expectRefused({ 'x-api-key': key }, 'API_KEY_INVALID', 401);
  });

  if (name !== 'gRPC') {
    test('keeps @Public() handlers open, where @ApiKey() is undefined even when the payload says otherwise', async () => {
      const reply = await c.send({}, 1, `${RUN}.ping`);
      expect(reply).toEqual({ key: null });
    });

    test('handles a guarded event only with a key that has the scope', async () => {
      await c.emit({ 'x-api-key': keys.noScope }, { id: 'refused' });
      await c.emit({ 'x-api-key': keys.reader }, { id: 'admitted' });
      // Sent last on one connection: once the admitted event arrived, the refused one was handled.
      for (let i = 0; i < 100 && !received.some((e) => (e as { id: string }).id === 'admitted'); i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(received).toEqual([{ id: 'admitted' }]);
      received.length = 0;
    });
  }

  test('emits events and logs without any presented key', () => {
    recorder.expectNoLeak([keys.reader, keys.noScope, INVALID_KEY]);
    expect(recorder.sink.events.some((e) => e.type === 'api-key.authenticated' && e.keyId === keys.readerId)).toBe(
      true,
    );
  });
});
