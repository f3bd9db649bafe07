import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Module, UseGuards, type INestApplication, type INestMicroservice } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import {
  ClientProxyFactory,
  MessagePattern,
  RmqRecordBuilder,
  Transport,
  type ClientProxy,
} from '@nestjs/microservices';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { io } from 'socket.io-client';
import { firstValueFrom } from 'rxjs';
import { ApiKey, ApiKeyGuard, ApiKeyService, RequireScopes } from 'nestjs-api-key';
import { TransportRecorder } from '../support/transport-app.js';

const QUEUE = `api-key-second-pass-${process.pid}-${Date.now()}`;
const RMQ = {
  urls: ['amqp://guest:guest@127.0.0.1:5672'],
  queue: QUEUE,
  queueOptions: { durable: false, autoDelete: true },
};

@WebSocketGateway()
@UseGuards(ApiKeyGuard)
class Gateway {
  @SubscribeMessage('whoami')
  @RequireScopes('orders:read')
  whoami(@ApiKey('name') name: string) {
    return { event: 'whoami', data: name };
  }
}

@Controller()
@UseGuards(ApiKeyGuard)
class Handlers {
  @MessagePattern('whoami')
  @RequireScopes('orders:read')
  whoami(@ApiKey('name') name: string) {
    return name;
  }
}

const authenticated = (recorder: TransportRecorder) =>
  recorder.sink.events.filter((event) => event.type === 'api-key.authenticated').length;

describe('a global ApiKeyGuard plus @UseGuards(ApiKeyGuard) verify each message once', () => {
  const recorder = new TransportRecorder();
  const global = { provide: APP_GUARD, useClass: ApiKeyGuard };
  let app: INestApplication;
  let micro: INestMicroservice;
  let key: string;

  beforeAll(async () => {
    @Module({ imports: [recorder.module({ isGlobal: true })], providers: [Gateway, global], controllers: [Handlers] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: recorder.logger });
    app.useWebSocketAdapter(new IoAdapter(app));
    micro = app.connectMicroservice({ transport: Transport.RMQ, options: RMQ }, { inheritAppConfig: true });
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    key = (await app.get(ApiKeyService).create({ name: 'reader', scopes: ['orders:read'] })).key;
  });
  afterAll(() => app.close());

  it('on a socket.io gateway', async () => {
    const port = (app.getHttpServer().address() as { port: number }).port;
    const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], extraHeaders: { 'x-api-key': key } });
    try {
      const before = authenticated(recorder);
      for (let n = 0; n < 3; n++) {
        const reply = new Promise((resolve) => socket.once('whoami', resolve));
        socket.emit('whoami');
        expect(await reply).toBe('reader');
      }
      expect(authenticated(recorder) - before).toBe(3);
    } finally {
      socket.close();
    }
  });

  it('on RabbitMQ message handlers', async () => {
    expect(micro).toBeDefined();
    const client = ClientProxyFactory.create({ transport: Transport.RMQ, options: RMQ }) as ClientProxy;
    try {
      const before = authenticated(recorder);
      for (let n = 0; n < 3; n++) {
        const record = new RmqRecordBuilder(n).setOptions({ headers: { 'x-api-key': key } }).build();
        expect(await firstValueFrom(client.send('whoami', record))).toBe('reader');
      }
      expect(authenticated(recorder) - before).toBe(3);
    } finally {
      await client.close();
    }
  });
});
