import { describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { ApiKeyRepository, type InMemoryApiKeyStore } from 'nestjs-api-key';
import { DEMO_KEYS } from '../../sample-app/api-key.config.js';
import { useSampleApp } from '../support/sample-app.js';

describe.each(['express', 'fastify'])('sample app admin key API on %s', (adapter) => {
  const { http, app } = useSampleApp(adapter);
  const admin = (req: request.Test) => req.set('X-API-Key', DEMO_KEYS.DEMO_ADMIN_KEY);

  it('is closed to callers without the admin scope', async () => {
    await http().get('/admin/keys').expect(401);
    await http().get('/admin/keys').set('X-API-Key', DEMO_KEYS.DEMO_EDITOR_KEY).expect(403);
    await http().post('/admin/keys').set('X-API-Key', DEMO_KEYS.DEMO_READER_KEY).send({ name: 'x' }).expect(403);
  });

  it('creates a key that works at once, lists it without any secret, rotates and revokes it', async () => {
    const created = await admin(http().post('/admin/keys'))
      .send({ name: 'partner', scopes: ['catalogue:read'] })
      .expect(201);
    const { key, apiKey } = created.body;
    expect(key).toMatch(/^sample_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$/);
    expect(apiKey).toMatchObject({
      name: 'partner',
      scopes: ['catalogue:read'],
      ownerId: 'admin',
      revokedAt: null,
      disabled: false,
    });
    expect((await http().get('/me').set('X-API-Key', key).expect(200)).body).toMatchObject({
      id: apiKey.id,
      name: 'partner',
    });

    const listed = await admin(http().get('/admin/keys')).expect(200);
    expect(listed.body.map((k: { id: string }) => k.id)).toContain(apiKey.id);
    expect(JSON.stringify(listed.body)).not.toContain(key.slice(-38));

    const rotated = await admin(http().post(`/admin/keys/${apiKey.id}/rotate`))
      .send({ gracePeriodSeconds: 0 })
      .expect(200);
    expect(rotated.body.key).not.toBe(key);
    await http().get('/me').set('X-API-Key', key).expect(401);
    await http().get('/me').set('X-API-Key', rotated.body.key).expect(200);

    const revoked = await admin(http().post(`/admin/keys/${apiKey.id}/revoke`)).expect(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    await http().get('/me').set('X-API-Key', rotated.body.key).expect(401);
    await admin(http().post(`/admin/keys/${apiKey.id}/rotate`))
      .send({ gracePeriodSeconds: 0 })
      .expect(409);
  });

  it('lists the keys of one owner and revokes them all in one call', async () => {
    const owner = 'admin'; // keys created through the admin API belong to the admin key that created them
    const created = [];
    for (const name of ['owned-1', 'owned-2'])
      created.push((await admin(http().post('/admin/keys')).send({ name }).expect(201)).body);
    const listed = await admin(http().get(`/admin/keys?ownerId=${owner}`)).expect(200);
    expect(listed.body.every((k: { ownerId: string }) => k.ownerId === owner)).toBe(true);
    const ids = created.map(({ apiKey }) => apiKey.id);
    expect(listed.body.map((k: { id: string }) => k.id)).toEqual(expect.arrayContaining(ids));
    const revoked = await admin(http().post(`/admin/keys/by-owner/${owner}/revoke`)).expect(200);
    expect(revoked.body.ownerId).toBe(owner);
    expect(revoked.body.revoked).toEqual(expect.arrayContaining(ids));
    for (const { key } of created) await http().get('/me').set('X-API-Key', key).expect(401);
    await http().get('/me').set('X-API-Key', DEMO_KEYS.DEMO_ADMIN_KEY).expect(200); // a configured key has no stored owner
    expect((await admin(http().post(`/admin/keys/by-owner/${owner}/revoke`)).expect(200)).body.revoked).toEqual([]);
  });

  it('restricts a key to networks and origins, and changes them with PATCH', async () => {
    const created = await admin(http().post('/admin/keys'))
      .send({ name: 'office', scopes: ['catalogue:read'], allowedNetworks: ['192.0.2.0/24'] })
      .expect(201);
    const { key, apiKey } = created.body;
    expect(apiKey).toMatchObject({ allowedNetworks: ['192.0.2.0/24'], allowedOrigins: null });
    const refused = await http().get('/me').set('X-API-Key', key).expect(403);
    expect(refused.body).toMatchObject({ code: 'API_KEY_RESTRICTED' });
    const patched = await admin(http().patch(`/admin/keys/${apiKey.id}`))
      .send({ allowedNetworks: ['127.0.0.0/8', '::1/128'], allowedOrigins: ['https://shop.example'] })
      .expect(200);
    expect(patched.body).toMatchObject({
      allowedNetworks: ['127.0.0.0/8', '::1/128'],
      allowedOrigins: ['https://shop.example'],
    });
    await http().get('/me').set('X-API-Key', key).set('Origin', 'https://shop.example').expect(200);
    await http().get('/me').set('X-API-Key', key).set('Origin', 'https://other.example').expect(403);
    await admin(http().patch(`/admin/keys/${apiKey.id}`))
      .send({ allowedOrigins: null })
      .expect(200);
    await http().get('/me').set('X-API-Key', key).expect(200);
    const bad = await admin(http().patch(`/admin/keys/${apiKey.id}`)).send({ allowedNetworks: ['10.0.0.0/33'] });
    expect([bad.status, bad.body.message]).toEqual([400, expect.stringContaining('invalid prefix length')]);
    await admin(http().post('/admin/keys'))
      .send({ name: 'x', allowedOrigins: ['shop.example'] })
      .expect(400);
  });

  it('reports its lifetime policy and applies it to the keys it creates and rotates', async () => {
    const DAY = 86_400_000;
    expect((await admin(http().get('/admin/keys/lifetime')).expect(200)).body).toEqual({
      maxMs: 366 * DAY,
      defaultMs: 90 * DAY,
    });
    const before = Date.now();
    const { apiKey } = (await admin(http().post('/admin/keys')).send({ name: 'default life' }).expect(201)).body;
    const lifetime = Date.parse(apiKey.expiresAt) - before;
    expect(lifetime).toBeGreaterThanOrEqual(90 * DAY);
    expect(lifetime).toBeLessThanOrEqual(90 * DAY + 60_000);
    const tooLong = new Date(Date.now() + 367 * DAY).toISOString();
    await admin(http().post('/admin/keys')).send({ name: 'x', expiresAt: tooLong }).expect(400);
    await admin(http().post('/admin/keys')).send({ name: 'x', expiresAt: null }).expect(400);
    const soon = new Date(Date.now() + 10 * DAY).toISOString();
    const rotated = await admin(http().post(`/admin/keys/${apiKey.id}/rotate`))
      .send({ expiresAt: soon })
      .expect(200);
    expect(rotated.body.apiKey.expiresAt).toBe(soon);
  });

  it('answers bad input with 400 and unknown ids with 404', async () => {
    await admin(http().post('/admin/keys')).send({ name: '' }).expect(400);
    await admin(http().post('/admin/keys')).send({ name: 'x', expiresAt: '2001-01-01T00:00:00Z' }).expect(400);
    await admin(http().post('/admin/keys/nope/revoke')).expect(404);
    await admin(http().post('/admin/keys/nope/rotate')).send({ gracePeriodSeconds: 'soon' }).expect(400);
    await admin(http().post('/admin/keys/nope/rotate')).send({ gracePeriodSeconds: 1e15 }).expect(400); // ends past the latest Date
    await admin(http().get('/admin/keys?after=a&after=b')).expect(400);
    await admin(http().post('/admin/keys/%00/revoke')).expect(404);
  });

  it('answers a write the store failed with a generic 503, without the store’s error text', async () => {
    const { apiKey } = (await admin(http().post('/admin/keys')).send({ name: 'store fails' }).expect(201)).body;
    const store = app().get(ApiKeyRepository) as InMemoryApiKeyStore;
    const update = store.update.bind(store);
    store.update = () => Promise.reject(new Error('connection reset by db-internal-7'));
    try {
      const res = await admin(http().post(`/admin/keys/${apiKey.id}/revoke`)).expect(503);
      expect(res.body.message).toBe('The key store failed; the change may or may not have been applied');
      expect(JSON.stringify(res.body)).not.toContain('db-internal-7');
    } finally {
      store.update = update;
    }
  });
});
