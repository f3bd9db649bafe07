import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiKeyHasher, ApiKeyModule, type ApiKeyRecord } from 'nestjs-api-key';
import { platforms } from '../support/platforms.js';
import { OrdersController } from '../support/test-controllers.js';
import { FaultRepository } from '../support/fault-repository.js';
import { LeakRecorder } from '../support/leak-recorder.js';
import { send } from '../support/raw-http.js';
import { startSecurityApp, type SecurityApp } from '../support/security-app.js';
import { EVERY_SOURCE, sources } from '../support/sources.js';

// Scope semantics (all-of, any-of, namespaces, case, class vs handler) are in test/core/scopes.e2e-spec.ts
// and lib/guard/api-key.scopes.spec.ts; this file covers what depends on the source and on stored keys.
const leaks = new LeakRecorder();
const hasher = new ApiKeyHasher();
const KEY = 'scoped-key-of-valid-shape-00001';
const base: ApiKeyRecord = { id: 'sc-1', name: 'scoped', hash: hasher.hash(KEY), scopes: ['orders:read'] };

describe.each(platforms)('scopes of stored keys on $name', (platform) => {
  const repository = new FaultRepository();
  let server: SecurityApp;
  beforeAll(async () => {
    repository.save(base);
    server = await startSecurityApp(
      { imports: [ApiKeyModule.forRoot({ repository, sources: EVERY_SOURCE })], controllers: [OrdersController] },
      platform,
      leaks,
    );
  });
  afterAll(() => server.app.close());

  it.each(sources)(
    'answers a valid key without the route’s scopes with 403, never 401, in the $name source',
    async (source) => {
      repository.save(base);
      const res = await send(server.port, source.present('/orders/write', KEY));
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({
        code: 'API_KEY_INSUFFICIENT_SCOPE',
        requiredScopes: ['orders:read', 'orders:write'],
        scopeMode: 'all',
      });
      expect(res.headers['www-authenticate']).toBeUndefined();
      expect((await send(server.port, source.present('/orders', KEY))).status).toBe(200);
    },
  );

  it('applies a removed or added scope on the very next request', async () => {
    const status = async (scopes: string[]) => {
      repository.save({ ...base, scopes });
      return (await send(server.port, { path: '/orders', headers: [['X-API-Key', KEY]] })).status;
    };
    expect(await status(['orders:read'])).toBe(200);
    expect(await status([])).toBe(403);
    expect(await status(['orders:*'])).toBe(200);
    expect(await status(['*'])).toBe(403);
  });
});

leaks.expectNoLeaks();
