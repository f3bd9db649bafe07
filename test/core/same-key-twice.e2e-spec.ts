import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { ApiKeyHasher, ApiKeyModule, type ApiKeyAuthenticatedEvent } from 'nestjs-api-key';
import { READER, TEST_KEYS } from '../support/keys.js';
import { platforms } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';
import { LeakRecorder } from '../support/leak-recorder.js';
import { send, type RawRequest } from '../support/raw-http.js';
import { startSecurityApp, type SecurityApp } from '../support/security-app.js';
import { EVERY_SOURCE } from '../support/sources.js';

const leaks = new LeakRecorder();

/** Counts verifications: each one hashes the presented key once. */
class CountingHasher extends ApiKeyHasher {
  hashed = 0;
  override candidates(key: string): string[] {
    this.hashed++;
    return super.candidates(key);
  }
}

const OTHER = 'unknown-key-of-valid-shape-0009';

/** The same key, or two keys, in the places a generated client or Swagger UI puts them. */
const together = (header: string, bearer: string): RawRequest => ({
  path: '/orders/whoami',
  headers: [
    ['X-API-Key', header],
    ['Authorization', `Bearer ${bearer}`],
  ],
});

describe.each(platforms)('the same key in several sources on $name', (platform) => {
  const hasher = new CountingHasher();
  let server: SecurityApp;
  const events: ApiKeyAuthenticatedEvent[] = [];
  beforeAll(async () => {
    server = await startSecurityApp(
      {
        imports: [EventEmitterModule.forRoot(), ApiKeyModule.forRoot({ keys: TEST_KEYS, sources: EVERY_SOURCE })],
        controllers: [OrdersController],
      },
      platform,
      leaks,
      (builder) => builder.overrideProvider(ApiKeyHasher).useValue(hasher),
    );
    server.app.get(EventEmitter2).on('api-key.authenticated', (event: ApiKeyAuthenticatedEvent) => events.push(event));
  });
  afterAll(() => server.app.close());

  /** Status, body, verifications and authenticated events (without their time) of one request. */
  async function outcome(request: RawRequest) {
    const [hashedBefore, eventsBefore] = [hasher.hashed, events.length];
    const res = await send(server.port, request);
    return {
      status: res.status,
      body: JSON.parse(res.body) as unknown,
      verifications: hasher.hashed - hashedBefore,
      events: events.slice(eventsBefore).map(({ at: _at, ...event }) => event),
    };
  }

  it.each([
    ['X-API-Key and Authorization: Bearer', together(READER.key, READER.key)],
    [
      'Authorization: Bearer, a cookie and the query',
      {
        path: `/orders/whoami?api_key=${READER.key}`,
        headers: [
          ['Authorization', `Bearer ${READER.key}`],
          ['Cookie', `api_key=${READER.key}`],
        ],
      } satisfies RawRequest,
    ],
    [
      'X-API-Key twice',
      {
        path: '/orders/whoami',
        headers: [
          ['X-API-Key', READER.key],
          ['X-API-Key', READER.key],
        ],
      } satisfies RawRequest,
    ],
  ])(
    'is one credential when sent in %s: the answer, event and single verification of one source',
    async (_, request) => {
      const single = await outcome({ path: '/orders/whoami', headers: [['X-API-Key', READER.key]] });
      expect(single).toMatchObject({ status: 200, verifications: 1 });
      expect(single.events).toEqual([{ type: 'api-key.authenticated', keyId: 'reader' }]);
      expect(await outcome(request)).toEqual(single);
    },
  );

  it('still answers 400 API_KEY_CONFLICT to two different keys, verifying neither', async () => {
    for (const request of [together(READER.key, OTHER), together(OTHER, READER.key)]) {
      const res = await outcome(request);
      expect(res).toEqual({
        status: 400,
        body: {
          statusCode: 400,
          error: 'Bad Request',
          code: 'API_KEY_CONFLICT',
          message: 'Send exactly one API key per request',
        },
        verifications: 0,
        events: [],
      });
    }
  });

  leaks.expectNoLeaks();
});
