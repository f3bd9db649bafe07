import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { DEMO_KEYS } from '../../sample-app/api-key.config.js';
import { createSampleApp } from '../../sample-app/create-sample-app.js';
import { tempDir } from '../support/databases.js';
import { useTemporarySampleDatabase } from '../support/sample-app.js';
import { generateClient, spectralLint } from './openapi-tools.js';

/** What the generated client exposes: namespaces of operation functions, and its auth hook. */
interface GeneratedApi {
  setSecurityData(key: string | null): void;
  [namespace: string]: unknown;
}
type Operation = (...args: unknown[]) => Promise<{ status: number; data: any }>;

/** A request the app received, and whether it carried a key. */
interface Received {
  method: string;
  path: string;
  withKey: boolean;
}

describe.each(['express', 'fastify'])('a client generated from the sample app’s live document, on %s', (adapter) => {
  useTemporarySampleDatabase();
  const output = tempDir();
  let app: INestApplication;
  let document: Record<string, any>;
  let api: GeneratedApi;
  const received: Received[] = [];
  const called = new Set<string>();

  beforeAll(async () => {
    app = await createSampleApp(adapter, { logger: false });
    await app.listen(0, '127.0.0.1');
    document = (await (await fetch(`${await app.getUrl()}/docs-json`)).json()) as Record<string, any>;
    const { Api } = (await import(await generateClient(document, output.path))) as {
      Api: new (config: object) => GeneratedApi;
    };
    // The only configuration: the generator's auth hook, used for the operations marked secure.
    api = new Api({ securityWorker: (key: string | null) => (key ? { headers: { 'X-API-Key': key } } : {}) });
    app.getHttpServer().on('request', (request: IncomingMessage) => {
      const path = request.url!.split('?')[0]!;
      if (!path.startsWith('/docs'))
        received.push({ method: request.method!, path, withKey: request.headers['x-api-key'] !== undefined });
    });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    output.remove();
  });

  /** Calls operation `name` (`namespace.method` of the client) as `key`; returns the status it got. */
  async function call(name: string, key: string | null, ...args: unknown[]): Promise<{ status: number; data: any }> {
    const [namespace, method] = name.split('.') as [string, string];
    called.add(name);
    api.setSecurityData(key);
    try {
      const response = await (api[namespace] as Record<string, Operation>)[method]!(...args);
      return { status: response.status, data: response.data };
    } catch (failure) {
      const response = failure as { status?: number; error?: unknown };
      if (typeof response.status !== 'number') throw failure;
      return { status: response.status, data: response.error };
    }
  }

  it('passes Spectral’s OpenAPI ruleset with no finding at all, and has a base URL', async () => {
    expect(await spectralLint({ sample: document })).toEqual([]);
    expect((await spectralLint({ broken: { openapi: '3.0.0' } })).length).toBeGreaterThan(0); // the linter does run
    expect(document.servers).toEqual([{ url: await app.getUrl(), description: 'This instance' }]);
  }, 60_000);

  it('calls every operation: public ones without a key, secured ones with it (2xx), 403 for a key lacking the scope', async () => {
    const { READER, EDITOR, ADMIN } = {
      READER: DEMO_KEYS.DEMO_READER_KEY,
      EDITOR: DEMO_KEYS.DEMO_EDITOR_KEY,
      ADMIN: DEMO_KEYS.DEMO_ADMIN_KEY,
    };
    // Public: the client sends no key even when it holds one.
    expect((await call('products.catalogueControllerList', READER)).status).toBe(200);
    expect((await call('products.catalogueControllerGet', READER, '1')).data.name).toBe('Teapot');
    expect((await call('health.healthControllerCheck', READER)).status).toBe(200);

    expect((await call('me.accountControllerWhoami', READER)).data.name).toBe('reader');
    expect((await call('admin.adminControllerStats', ADMIN)).data.caller).toBe('admin');
    expect((await call('admin.adminControllerStats', READER)).status).toBe(403);

    const product = await call('products.catalogueControllerCreate', EDITOR, { name: 'Mug', price: 4 });
    expect(product).toEqual({ status: 201, data: { id: 3, name: 'Mug', price: 4, createdBy: 'editor' } });
    expect((await call('products.catalogueControllerCreate', READER, { name: 'Cup' })).status).toBe(403);
    expect((await call('products.catalogueControllerRemove', READER, '3')).status).toBe(403);
    expect((await call('products.catalogueControllerRemove', EDITOR, '3')).status).toBe(204);

    const created = await call('admin.adminKeysControllerCreate', ADMIN, {
      name: 'generated',
      scopes: ['catalogue:read'],
    });
    expect(created.status).toBe(201);
    expect(created.data.apiKey).toMatchObject({ name: 'generated', scopes: ['catalogue:read'] });
    expect((await call('me.accountControllerWhoami', created.data.key)).data.name).toBe('generated');
    expect((await call('admin.adminKeysControllerCreate', READER, { name: 'nope' })).status).toBe(403);
    const second = await call('admin.adminKeysControllerCreate', ADMIN, { name: 'rotated' });
    const rotated = await call('admin.adminKeysControllerRotate', ADMIN, second.data.apiKey.id, {
      gracePeriodSeconds: 60,
    });
    expect(rotated.status).toBe(200);
    expect(rotated.data.apiKey.id).toBe(second.data.apiKey.id);
    const all = await call('admin.adminKeysControllerList', ADMIN); // its query parameters are optional
    expect(all.data.map((key: { name: string }) => key.name)).toEqual(expect.arrayContaining(['generated', 'rotated']));
    expect((await call('admin.adminKeysControllerList', ADMIN, { limit: 1 })).data).toHaveLength(1);
    const nobody = await call('admin.adminKeysControllerRevokeOwner', ADMIN, 'nobody');
    expect([nobody.status, nobody.data]).toEqual([200, { ownerId: 'nobody', revoked: [] }]);
    const restricted = await call('admin.adminKeysControllerUpdate', ADMIN, second.data.apiKey.id, {
      allowedNetworks: ['192.0.2.0/24'],
    });
    expect(restricted.data.allowedNetworks).toEqual(['192.0.2.0/24']);
    const refused = await call('me.accountControllerWhoami', rotated.data.key);
    expect([refused.status, refused.data.code]).toEqual([403, 'API_KEY_RESTRICTED']);
    expect((await call('admin.adminKeysControllerLifetime', ADMIN)).data.defaultMs).toBe(90 * 86_400_000);
    const revoked = await call('admin.adminKeysControllerRevoke', ADMIN, created.data.apiKey.id);
    expect(revoked.data.revokedAt).not.toBeNull();
    expect((await call('me.accountControllerWhoami', created.data.key)).status).toBe(401);

    const operations = Object.values(document.paths as Record<string, object>).flatMap((item) => Object.keys(item));
    expect(called.size).toBe(operations.length);
    const secured = new Set(
      Object.entries(document.paths as Record<string, Record<string, { security?: unknown }>>).flatMap(([path, item]) =>
        Object.entries(item)
          .filter(([, operation]) => operation.security)
          .map(([method]) => `${method.toUpperCase()} ${path}`),
      ),
    );
    const isSecured = ({ method, path }: Received) =>
      [...secured].some((operation) => {
        const [securedMethod, template] = operation.split(' ') as [string, string];
        return securedMethod === method && new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path);
      });
    expect(received.length).toBeGreaterThanOrEqual(called.size);
    for (const request of received) expect(request).toEqual({ ...request, withKey: isSecured(request) });
  }, 60_000);
});
