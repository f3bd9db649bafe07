import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConsoleLogger, type INestApplication } from '@nestjs/common';
import { createServer, type Server } from 'node:http';
import request from 'supertest';
import { DEMO_KEYS } from '../../sample-app/api-key.config.js';
import { signatureOf, signingKey } from '../leaks/leak-app.js';
import { startSampleApp, useTemporarySampleDatabase } from '../support/sample-app.js';

/** Keeps what the app logs. */
class CapturingLogger extends ConsoleLogger {
  readonly lines: string[] = [];
  protected override printMessages(messages: unknown[]): void {
    this.lines.push(...messages.map(String));
  }
}

const GITHUB = signingKey('sample-app-test-key');

describe.each(['express', 'fastify'])('the sample app’s leak receiver on %s', (adapter) => {
  useTemporarySampleDatabase();
  let keys: Server;
  let app: INestApplication;
  const logger = new CapturingLogger();
  const previous = process.env.SECRET_SCANNING_KEYS_URL;
  beforeAll(async () => {
    // GitHub's public-keys endpoint, served locally with the test's own key.
    keys = createServer((_, res) =>
      res.end(JSON.stringify({ public_keys: [{ key_identifier: GITHUB.identifier, key: GITHUB.publicPem }] })),
    );
    await new Promise<void>((resolve) => keys.listen(0, '127.0.0.1', resolve));
    process.env.SECRET_SCANNING_KEYS_URL = `http://127.0.0.1:${(keys.address() as { port: number }).port}/keys`;
    app = await startSampleApp(adapter, { logger });
  });
  afterAll(async () => {
    await app.close();
    await new Promise((resolve) => keys.close(resolve));
    if (previous === undefined) delete process.env.SECRET_SCANNING_KEYS_URL;
    else process.env.SECRET_SCANNING_KEYS_URL = previous;
  });

  it('revokes a key GitHub reports, logs who to tell, and leaves the guard’s routes closed to it', async () => {
    const http = () => request(app.getHttpServer());
    const created = await http()
      .post('/admin/keys')
      .set('X-API-Key', DEMO_KEYS.DEMO_ADMIN_KEY)
      .send({ name: 'ci-bot', scopes: ['catalogue:read'] })
      .expect(201);
    const { key, apiKey } = created.body as { key: string; apiKey: { id: string } };
    await http().get('/me').set('X-API-Key', key).expect(200);

    const body = JSON.stringify([
      { token: key, type: 'sample_live_api_key', url: 'https://github.com/o/r', source: 'content' },
    ]);
    const response = await http()
      .post('/github/secret-scanning')
      .set('content-type', 'application/json')
      .set('github-public-key-identifier', GITHUB.identifier)
      .set('github-public-key-signature', signatureOf(body, GITHUB))
      .send(body)
      .expect(200);
    expect(response.body).toEqual([expect.objectContaining({ label: 'true_positive' })]);
    await http().get('/me').set('X-API-Key', key).expect(401);
    const logs = logger.lines.join('\n');
    expect(logs).toContain(`api-key.leaked keyId=${apiKey.id} name=ci-bot ownerId=admin action=revoke applied=true`);
    expect(logs).not.toContain(key.slice(-38));
  });

  it('refuses an unsigned report', async () => {
    await request(app.getHttpServer())
      .post('/github/secret-scanning')
      .set('content-type', 'application/json')
      .send('[]')
      .expect(401);
  });
});
