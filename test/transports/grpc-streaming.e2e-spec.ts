import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Module, UseGuards, type INestMicroservice } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { GrpcMethod, GrpcStreamMethod, Payload, Transport } from '@nestjs/microservices';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import { from, map, reduce, type Observable } from 'rxjs';
import { ApiKey, ApiKeyGuard, ApiKeyService, RequireScopes } from 'nestjs-api-key';
import { INVALID_KEY, TransportRecorder } from '../support/transport-app.js';

const PROTO = fileURLToPath(new URL('./orders.proto', import.meta.url));
const GRPC_URL = `127.0.0.1:${20000 + (process.pid % 20000)}`;

interface Reply {
  keyId: string;
  n: number;
}

@Controller()
@UseGuards(ApiKeyGuard)
class StreamsController {
  /** Server streaming: `n` replies. */
  @GrpcMethod('OrdersService', 'List')
  @RequireScopes('orders:read')
  list(@Payload() data: { n: number }, @ApiKey('id') keyId: string): Observable<Reply> {
    return from(Array.from({ length: data.n }, (_, i) => i + 1)).pipe(map((n) => ({ keyId, n })));
  }

  /** Client streaming: the sum of the requests' `n`. */
  @GrpcStreamMethod('OrdersService', 'Sum')
  @RequireScopes('orders:read')
  sum(requests: Observable<{ n: number }>): Observable<Reply> {
    return requests.pipe(reduce((total, { n }) => ({ keyId: '', n: total.n + n }), { keyId: '', n: 0 }));
  }
}

/** What a call ended with: the replies, or the refusal's gRPC status and stable code. */
type Outcome = { replies: Reply[] } | { status: number; code: string | undefined };

function metadataOf(key: string | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (key !== undefined) metadata.set('x-api-key', key);
  return metadata;
}

function refusalOf(error: grpc.ServiceError): Outcome {
  return { status: error.code, code: error.metadata?.get('api-key-error-code')[0] as string | undefined };
}

describe('ApiKeyGuard on gRPC streaming methods', () => {
  const recorder = new TransportRecorder();
  let app: INestMicroservice;
  let service: ApiKeyService;
  let keys: Awaited<ReturnType<TransportRecorder['keys']>>;
  let stub: any;

  /** A server-streaming call: every reply until the stream ends, or its refusal. */
  function list(key: string | undefined, n: number): Promise<Outcome> {
    return new Promise((resolve) => {
      const replies: Reply[] = [];
      const call = stub.List({ n }, metadataOf(key));
      call.on('data', (reply: Reply) => replies.push(reply));
      call.on('error', (error: grpc.ServiceError) => resolve(refusalOf(error)));
      call.on('end', () => resolve({ replies }));
    });
  }

  /** A client-streaming call sending these numbers: its one reply, or its refusal. */
  function sum(key: string | undefined, numbers: number[]): Promise<Outcome> {
    return new Promise((resolve) => {
      const call = stub.Sum(metadataOf(key), (error: grpc.ServiceError | null, reply: Reply) =>
        resolve(error ? refusalOf(error) : { replies: [reply] }),
      );
      for (const n of numbers) call.write({ n });
      call.end();
    });
  }

  beforeAll(async () => {
    @Module({ imports: [recorder.module()], controllers: [StreamsController] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestMicroservice({
      transport: Transport.GRPC,
      options: { package: 'orders', protoPath: PROTO, url: GRPC_URL },
      logger: recorder.logger,
    } as never);
    await app.listen();
    service = app.get(ApiKeyService);
    keys = await recorder.keys(service);
    const definition = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO)) as any;
    stub = new definition.orders.OrdersService(GRPC_URL, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    stub?.close();
    await app?.close();
  });

  it('streams every reply to a valid key, with @ApiKey() its principal', async () => {
    expect(await list(keys.reader, 3)).toEqual({
      replies: [1, 2, 3].map((n) => ({ keyId: keys.readerId, n })),
    });
    expect(await sum(keys.reader, [1, 2, 3, 4])).toEqual({ replies: [{ keyId: '', n: 10 }] });
  });

  it.each([
    ['no key', undefined, grpc.status.UNAUTHENTICATED, 'API_KEY_MISSING'],
    ['an invalid key', INVALID_KEY, grpc.status.UNAUTHENTICATED, 'API_KEY_INVALID'],
    ['a key without the scope', 'noScope', grpc.status.PERMISSION_DENIED, 'API_KEY_INSUFFICIENT_SCOPE'],
  ])('refuses a stream opened with %s, before any reply', async (_, given, status, code) => {
    const key = given === 'noScope' ? keys.noScope : given;
    expect(await list(key, 3)).toEqual({ status, code });
    expect(await sum(key, [1, 2])).toEqual({ status, code });
  });

  it('fails closed with UNAVAILABLE while the store fails', async () => {
    recorder.store.failing = true;
    try {
      const refused = { status: grpc.status.UNAVAILABLE, code: 'API_KEY_STORE_UNAVAILABLE' };
      expect(await list(keys.reader, 3)).toEqual(refused);
      expect(await sum(keys.reader, [1])).toEqual(refused);
    } finally {
      recorder.store.failing = false;
    }
  });

  it('refuses the next stream of a revoked key', async () => {
    const { key, apiKey } = await service.create({ name: 'streamer', scopes: ['orders:read'] });
    expect(await list(key, 1)).toEqual({ replies: [{ keyId: apiKey.id, n: 1 }] });
    await service.revoke(apiKey.id);
    expect(await list(key, 1)).toEqual({ status: grpc.status.UNAUTHENTICATED, code: 'API_KEY_INVALID' });
  });

  it('logs and emits no presented key', () => {
    recorder.expectNoLeak([keys.reader, keys.noScope, INVALID_KEY]);
  });
});
