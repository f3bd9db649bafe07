import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { io, type Socket } from 'socket.io-client';
import request from 'supertest';
import { DEMO_KEYS } from '../../sample-app/api-key.config.js';
import { createSampleApp } from '../../sample-app/create-sample-app.js';
import { useTemporarySampleDatabase } from '../support/sample-app.js';

/** The first `products` reply or `exception` refusal of one message. */
type Reply = { event: 'products' | 'exception'; data: any };

// Express only: on Fastify the sample has no gateway (see AppModule.forAdapter).
describe('sample app socket.io gateway on express', () => {
  useTemporarySampleDatabase();
  let app: INestApplication;
  let url: string;
  const sockets: Socket[] = [];

  /** Connects to the /catalogue namespace with `options` (socket.io's `auth`, `extraHeaders`). */
  const connect = async (options: { auth?: Record<string, string>; extraHeaders?: Record<string, string> }) => {
    const socket = io(`${url}/catalogue`, { transports: ['websocket'], reconnection: false, ...options });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return socket;
  };
  const askProducts = (socket: Socket) =>
    new Promise<Reply>((resolve) => {
      socket.once('products', (data) => resolve({ event: 'products', data }));
      socket.once('exception', (data) => resolve({ event: 'exception', data }));
      socket.emit('products');
    });

  beforeAll(async () => {
    app = await createSampleApp('express', { logger: false });
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await app.close();
  });

  it('answers the reader key (socket.io auth) with the products GET /products lists', async () => {
    const reply = await askProducts(await connect({ auth: { apiKey: DEMO_KEYS.DEMO_READER_KEY } }));
    const { body } = await request(app.getHttpServer()).get('/products').expect(200);
    expect(reply).toEqual({ event: 'products', data: { caller: 'reader', products: body } });
  });

  it('reads the key from the X-API-Key handshake header too', async () => {
    const reply = await askProducts(await connect({ extraHeaders: { 'x-api-key': DEMO_KEYS.DEMO_EDITOR_KEY } }));
    expect(reply.data.caller).toBe('editor');
  });

  it('refuses a connection without a key with API_KEY_MISSING', async () => {
    expect(await askProducts(await connect({}))).toEqual({
      event: 'exception',
      data: expect.objectContaining({ status: 'error', statusCode: 401, code: 'API_KEY_MISSING' }),
    });
  });

  it('refuses an unknown key with API_KEY_INVALID and closes the connection', async () => {
    const socket = await connect({ auth: { apiKey: 'sample_live_not-a-key' } });
    const closed = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()));
    expect(await askProducts(socket)).toEqual({
      event: 'exception',
      data: expect.objectContaining({ status: 'error', statusCode: 401, code: 'API_KEY_INVALID' }),
    });
    await closed;
  });

  it('refuses a key without catalogue:read with API_KEY_INSUFFICIENT_SCOPE (403)', async () => {
    const { body } = await request(app.getHttpServer())
      .post('/admin/keys')
      .set('X-API-Key', DEMO_KEYS.DEMO_ADMIN_KEY)
      .send({ name: 'no-catalogue', scopes: ['admin'] })
      .expect(201);
    expect(await askProducts(await connect({ auth: { apiKey: body.key } }))).toEqual({
      event: 'exception',
      data: expect.objectContaining({
        statusCode: 403,
        code: 'API_KEY_INSUFFICIENT_SCOPE',
        requiredScopes: ['catalogue:read'],
      }),
    });
  });
});
