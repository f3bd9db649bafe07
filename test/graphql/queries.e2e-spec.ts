import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ApiKeyEventSink,
  ApiKeyEventType,
  ApiKeyHasher,
  ApiKeyModule,
  type ApiKeyEvent,
  type ApiKeyRecord,
} from 'nestjs-api-key';
import request from 'supertest';
import { FaultRepository } from '../support/fault-repository.js';
import { READER, TEST_KEYS, WRITER } from '../support/keys.js';
import { LeakRecorder } from '../support/leak-recorder.js';
import { startSecurityApp, type SecurityApp } from '../support/security-app.js';
import { drivers } from './drivers.js';
import { OrderFieldsResolver, OrdersResolver } from './graphql-app.js';

const leaks = new LeakRecorder();
const hasher = new ApiKeyHasher();
const STORED = 'stored-graphql-key-of-valid-shape-1';
const record: ApiKeyRecord = { id: 'stored-1', name: 'stored', hash: hasher.hash(STORED), scopes: ['orders:read'] };

/** Keeps every event, and hands it to the leak recorder. */
class RecordingSink extends ApiKeyEventSink {
  readonly events: ApiKeyEvent[] = [];
  emit(event: ApiKeyEvent): void {
    this.events.push(event);
    leaks.record([event]);
  }
}

describe.each(drivers)('GraphQL queries and mutations on $name', (driver) => {
  const repository = new FaultRepository();
  const sink = new RecordingSink();
  let server: SecurityApp;
  beforeAll(async () => {
    repository.save(record);
    server = await startSecurityApp(
      {
        imports: [ApiKeyModule.forRoot({ keys: TEST_KEYS, repository, events: sink }), driver.module()],
        providers: [OrdersResolver, OrderFieldsResolver],
      },
      driver.platform,
      leaks,
    );
  });
  afterAll(() => server.app.close());

  const gql = (query: string, key?: string) => {
    const call = request(server.url).post('/graphql').send({ query });
    return key === undefined ? call : call.set('x-api-key', key);
  };
  /** The HTTP status of a refusal: Mercurius answers it when there is no data; Nest's Apollo driver always 200. */
  const status = (code: number) => (driver.name === 'mercurius' ? code : 200);

  it('answers a query with the principal through @ApiKey() and @ApiKey(field)', async () => {
    const res = await gql('{ whoami { id name scopes } owner }', READER.key);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: { whoami: { id: 'reader', name: 'reader', scopes: ['orders:read'] }, owner: 'team-a' },
    });
  });

  it('runs a mutation with the required scope', async () => {
    const res = await gql('mutation { placeOrder(id: "o-9") { id } }', WRITER.key);
    expect(res.body).toEqual({ data: { placeOrder: { id: 'o-9' } } });
  });

  it('admits a stored key, emits its authenticated event and records its use', async () => {
    sink.events.length = 0;
    const res = await gql('{ orders { id } }', STORED);
    expect(res.body).toEqual({ data: { orders: [{ id: 'order-1' }] } });
    expect(sink.events).toContainEqual(
      expect.objectContaining({ type: ApiKeyEventType.Authenticated, keyId: 'stored-1' }),
    );
  });

  it('answers a @Public() query without a key', async () => {
    const res = await gql('{ health }');
    expect(res.body).toEqual({ data: { health: 'ok' } });
  });

  it('refuses a missing key with UNAUTHENTICATED / API_KEY_MISSING and the challenge', async () => {
    const res = await gql('{ whoami { id } }');
    expect(res.status).toBe(status(401));
    expect(res.headers['www-authenticate']).toBe('ApiKey realm="api"');
    expect(res.body.data).toBeNull();
    expect(res.body.errors).toEqual([
      expect.objectContaining({
        message: 'An API key is required',
        path: ['whoami'],
        extensions: { code: 'UNAUTHENTICATED', apiKeyCode: 'API_KEY_MISSING', statusCode: 401 },
      }),
    ]);
  });

  it('refuses an invalid key with UNAUTHENTICATED / API_KEY_INVALID and emits the failure', async () => {
    sink.events.length = 0;
    const res = await gql('{ whoami { id } }', 'not-a-valid-key-at-all-000001');
    expect(res.status).toBe(status(401));
    expect(res.body.errors[0].extensions).toEqual({
      code: 'UNAUTHENTICATED',
      apiKeyCode: 'API_KEY_INVALID',
      statusCode: 401,
    });
    expect(sink.events).toContainEqual(expect.objectContaining({ type: ApiKeyEventType.AuthenticationFailed }));
  });

  it('refuses a mutation without its scope with FORBIDDEN and the required scopes', async () => {
    const res = await gql('mutation { placeOrder(id: "o-1") { id } }', READER.key);
    expect(res.status).toBe(status(403));
    expect(res.body.errors[0].extensions).toEqual({
      code: 'FORBIDDEN',
      apiKeyCode: 'API_KEY_INSUFFICIENT_SCOPE',
      statusCode: 403,
      requiredScopes: ['orders:write'],
      scopeMode: 'all',
    });
  });

  it('guards a field resolver by its own scope', async () => {
    const res = await gql('{ orders { id secretNote } }', READER.key);
    expect(res.body.errors).toEqual([
      expect.objectContaining({
        path: ['orders', 0, 'secretNote'],
        extensions: expect.objectContaining({ code: 'FORBIDDEN', requiredScopes: ['orders:notes'] }),
      }),
    ]);
  });

  it('refuses two keys in one request with BAD_REQUEST / API_KEY_CONFLICT', async () => {
    const res = await request(server.url)
      .post('/graphql')
      // Two header lines (superagent sends one per array item; its types only allow that for cookies).
      .set('x-api-key', [READER.key, WRITER.key] as unknown as string)
      .send({ query: '{ whoami { id } }' });
    expect(res.body.errors[0].extensions).toEqual(
      expect.objectContaining({ code: 'BAD_REQUEST', apiKeyCode: 'API_KEY_CONFLICT' }),
    );
  });

  it('fails closed with SERVICE_UNAVAILABLE when the key store fails', async () => {
    repository.fault = () => Promise.reject(new Error('connection refused'));
    try {
      const res = await gql('{ orders { id } }', STORED);
      expect(res.status).toBe(status(503));
      expect(res.body.data).toBeNull();
      expect(res.body.errors[0].extensions).toEqual({
        code: 'SERVICE_UNAVAILABLE',
        apiKeyCode: 'API_KEY_STORE_UNAVAILABLE',
        statusCode: 503,
      });
    } finally {
      repository.fault = undefined;
    }
  });
});

leaks.expectNoLeaks();

it('logs no refusal as an unexpected error', () => {
  expect(leaks.logs.filter((line) => /ApiKeyGraphQLError|ExceptionsHandler|API key/.test(line))).toEqual([]);
});
