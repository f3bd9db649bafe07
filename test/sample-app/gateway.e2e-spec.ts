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

  type Options = { auth?: Record<string, string>; extraHeaders?: Record<string, string> };
  /** Connects to the /catalogue namespace with `options` (socket.io's `auth`, `extraHeaders`). */
  const attempt = (options: Options) => {
    const socket = io(`${url}/catalogue`, { transports: ['websocket'], reconnection: false, ...options });
    sockets.push(socket);
    return new Promise<{ socket: Socket } | { refusal: unknown }>((resolve) => {
      socket.once('connect', () => resolve({ socket }));
      socket.once('connect_error', (error: Error & { data?: unknown }) => resolve({ refusal: error.data }));
    });
  };
  const connect = async (options: Options) => {
    const outcome = await attempt(options);
    if (!('socket' in outcome)) throw new Error(`refused: ${JSON.stringify(outcome.refusal)}`);
    return outcome.socket;
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

  it('refuses a connection without a key at its handshake with API_KEY_MISSING', async () => {
    expect(await attempt({})).toEqual({
      refusal: expect.objectContaining({ status: 'error', statusCode: 401, code: 'API_KEY_MISSING' }),
    });
  });

  it('refuses an unknown key at its handshake with API_KEY_INVALID', async () => {
    expect(await attempt({ auth: { apiKey: 'sample_live_not-a-key' } })).toEqual({
      refusal: expect.objectContaining({ status: 'error', statusCode: 401, code: 'API_KEY_INVALID' }),
    });
  });

  it('closes an open connection once its key is revoked through the admin API', async () => {
    const { body } = await request(app.getHttpServer())
      .post('/admin/keys')
      .set('X-API-Key', DEMO_KEYS.DEMO_ADMIN_KEY)
      .send({ name: 'soon-revoked', scopes: ['catalogue:read'] })
      .expect(201);
    const socket = await connect({ auth: { apiKey: body.key } });
    expect((await askProducts(socket)).event).toBe('products');
    const refused = new Promise((resolve) => socket.once('exception', resolve));
    const closed = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()));
    await request(app.getHttpServer())
      .post(`/admin/keys/${body.apiKey.id}/revoke`)
      .set('X-API-Key', DEMO_KEYS.DEMO_ADMIN_KEY)
      .expect(200);
    await closed;
    expect(await refused).toEqual(expect.objectContaining({ statusCode: 401, code: 'API_KEY_INVALID' }));
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
