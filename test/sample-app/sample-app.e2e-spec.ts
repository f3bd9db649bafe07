import { describe, expect, it } from '@jest/globals';
import { DEMO_KEYS } from '../../sample-app/api-key.config.js';
import { useSampleApp } from '../support/sample-app.js';

describe.each(['express', 'fastify'])('sample app on %s', (adapter) => {
  const { http } = useSampleApp(adapter);

  it('serves public reads without a key', async () => {
    const res = await http().get('/products').expect(200);
    expect(res.body.length).toBeGreaterThan(0);
  });

  it('requires a key for /me and returns its principal', async () => {
    await http().get('/me').expect(401);
    const res = await http().get('/me').set('X-API-Key', DEMO_KEYS.DEMO_READER_KEY).expect(200);
    expect(res.body).toEqual({
      id: 'reader',
      name: 'reader',
      scopes: ['catalogue:read'],
      ownerId: 'demo-user',
      metadata: { plan: 'free' },
    });
  });

  it('lets the editor (catalogue:*) create products and refuses the reader with 403', async () => {
    await http()
      .post('/products')
      .set('X-API-Key', DEMO_KEYS.DEMO_READER_KEY)
      .send({ name: 'Cup', price: 3 })
      .expect(403);
    const res = await http()
      .post('/products')
      .set('Authorization', `Bearer ${DEMO_KEYS.DEMO_EDITOR_KEY}`)
      .send({ name: 'Cup', price: 3 })
      .expect(201);
    expect(res.body).toMatchObject({ name: 'Cup', createdBy: 'editor' });
  });

  it('keeps the admin area (@UseGuards + class scope) to admin keys', async () => {
    await http().get('/admin/stats').expect(401);
    await http().get('/admin/stats').set('X-API-Key', DEMO_KEYS.DEMO_EDITOR_KEY).expect(403);
    const res = await http().get('/admin/stats').set('X-API-Key', DEMO_KEYS.DEMO_ADMIN_KEY).expect(200);
    expect(res.body.caller).toBe('admin');
  });

  it('serves Swagger UI at /docs and the document at /docs-json, guarded operations secured, public ones not', async () => {
    expect((await http().get('/docs').expect(200)).text).toContain('swagger-ui');
    const { body } = await http().get('/docs-json').expect(200);
    const alternatives = [{ 'api-key': [] }, { 'api-key-bearer': [] }];
    expect(body.paths['/me'].get.security).toEqual(alternatives);
    expect(body.paths['/admin/stats'].get.security).toEqual(alternatives);
    expect(body.paths['/products'].post['x-api-key-scopes']).toEqual({ mode: 'all', scopes: ['catalogue:write'] });
    expect(body.paths['/products'].get.security).toBeUndefined();
    expect(Object.keys(body.components.securitySchemes)).toEqual(['api-key', 'api-key-bearer']);
  });
});

// Its own app instance, so that exhausting the reader's budget leaves the tests above alone.
describe.each(['express', 'fastify'])('sample app rate limits on %s', (adapter) => {
  const { http } = useSampleApp(adapter);

  it("limits each key by its plan: the editor's writes cost 5 of pro's 100, the reader (free) gets 60 a minute", async () => {
    const write = await http()
      .post('/products')
      .set('X-API-Key', DEMO_KEYS.DEMO_EDITOR_KEY)
      .send({ name: 'Mug', price: 4 })
      .expect(201);
    expect([write.headers['ratelimit-policy'], write.headers['ratelimit']]).toEqual([
      expect.stringMatching(/^"pro";q=100;w=60, "pro-quota";q=100000;w=\d+$/),
      expect.stringMatching(/^"pro";r=95;t=\d+, "pro-quota";r=99995;t=\d+$/),
    ]);
    const statuses: number[] = [];
    for (let i = 0; i < 62; i++)
      statuses.push((await http().get('/me').set('X-API-Key', DEMO_KEYS.DEMO_READER_KEY)).status);
    expect(statuses).toEqual([...Array(60).fill(200), 429, 429]);
  });
});

describe.each(['express', 'fastify'])('sample app GraphQL endpoint on %s', (adapter) => {
  const { http } = useSampleApp(adapter);

  it('answers `me` to a key and refuses a missing one with UNAUTHENTICATED', async () => {
    const me = await http()
      .post('/graphql')
      .set('X-API-Key', DEMO_KEYS.DEMO_READER_KEY)
      .send({ query: '{ me { name scopes } }' })
      .expect(200);
    expect(me.body).toEqual({ data: { me: { name: 'reader', scopes: ['catalogue:read'] } } });
    // The global guard's rate limit counts GraphQL operations too, with its headers.
    expect(me.headers['ratelimit-policy']).toBeDefined();
    expect(me.headers['cache-control']).toBe('no-store');
    const refused = await http().post('/graphql').send({ query: '{ me { name } }' });
    expect(refused.body.errors[0].extensions).toEqual({
      code: 'UNAUTHENTICATED',
      apiKeyCode: 'API_KEY_MISSING',
      statusCode: 401,
    });
  });
});
