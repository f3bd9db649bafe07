import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import request from 'supertest';
import {
  ApiKeyFormat,
  ApiKeyService,
  InMemoryApiKeyStore,
  type ApiKeyLeakedEvent,
  type ApiKeyStore,
} from 'nestjs-api-key';
import { createSqliteApiKeyStore } from 'nestjs-api-key/sqlite';
import { tempDir } from '../support/databases.js';
import { platforms } from '../support/platforms.js';
import { CountingStore, LEAKS_PATH, RecordingSink, Said, signatureOf, signingKey, startLeakApp } from './leak-app.js';

const dir = tempDir();
afterAll(() => dir.remove());

const GITHUB = signingKey('4f5ae1c9b0f1a0c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6');
const STRANGER = signingKey(GITHUB.identifier); // same identifier, a key GitHub does not have
const stores: Array<{ name: string; build: () => Promise<ApiKeyStore> }> = [
  { name: 'in-memory', build: async () => new InMemoryApiKeyStore() },
  {
    name: 'SQLite',
    build: () =>
      createSqliteApiKeyStore({ database: join(dir.path, `${Math.random().toString(36).slice(2)}.db`), migrate: true }),
  },
];
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const match = (token: string, url = 'https://github.com/octo/repo/blob/0123abc/config.js') => ({
  token,
  type: 'acme_api_key',
  url,
  source: 'content',
});
/** Every token put in a report, to prove none comes back out. */
const reported = new Set<string>();
const said = new Said();

describe.each(platforms)('the secret-scanning receiver on $name', (platform) => {
  describe.each(stores)('with the $name store', (storeKind) => {
    let app: INestApplication;
    let sink: RecordingSink;
    let store: CountingStore;
    let service: ApiKeyService;
    beforeAll(async () => {
      store = new CountingStore(await storeKind.build());
      ({ app, sink } = await startLeakApp(platform, store, [GITHUB], said));
      service = app.get(ApiKeyService);
    });
    afterAll(async () => {
      await app.close();
      await (store.inner as { close?: () => Promise<void> }).close?.();
    });
    beforeEach(() => {
      store.failLookups = false;
      store.failWrites = false;
      store.lookupDelayMs = 0;
      store.hangLookups = false;
    });

    const issue = async (name = 'ci-deploy') => {
      const issued = await service.create({ name, ownerId: 'team-7', scopes: ['orders:read'] });
      reported.add(issued.key);
      return issued;
    };
    const post = (body: string, headers: Record<string, string | undefined> = {}) => {
      const all: Record<string, string | undefined> = {
        'content-type': 'application/json',
        'github-public-key-identifier': GITHUB.identifier,
        'github-public-key-signature': signatureOf(body, GITHUB),
        ...headers,
      };
      let test = request(app.getHttpServer()).post(LEAKS_PATH);
      for (const [name, value] of Object.entries(all)) if (value !== undefined) test = test.set(name, value);
      return test.send(body).then((response) => {
        said.add([response.text]);
        return response;
      });
    };
    const report = (...matches: Array<ReturnType<typeof match>>) => {
      for (const entry of matches) reported.add(entry.token);
      return JSON.stringify(matches);
    };
    const leakedEvents = (keyId: string) => sink.of('api-key.leaked', keyId) as ApiKeyLeakedEvent[];

    it('revokes a reported key, answers true_positive with its hash, and emits api-key.leaked', async () => {
      const { key, apiKey } = await issue();
      const response = await post(report(match(key)));
      expect(response.status).toBe(200);
      expect(response.body).toEqual([{ token_hash: sha256(key), token_type: 'acme_api_key', label: 'true_positive' }]);
      expect((await service.get(apiKey.id)).revokedAt).toBeInstanceOf(Date);
      expect(await service.verify(key)).toMatchObject({ valid: false, reason: 'revoked' });
      expect(leakedEvents(apiKey.id)).toEqual([
        {
          type: 'api-key.leaked',
          keyId: apiKey.id,
          name: 'ci-deploy',
          ownerId: 'team-7',
          url: 'https://github.com/octo/repo/blob/0123abc/config.js',
          source: 'content',
          action: 'revoke',
          applied: true,
          at: expect.any(Date),
        },
      ]);
    });

    it('sorts several tokens: its own keys true_positive, foreign tokens and look-alikes false_positive', async () => {
      const first = await issue('first');
      const second = await issue('second');
      const bystander = await issue('bystander');
      const last = bystander.key.at(-1) === 'A' ? 'B' : 'A';
      const badChecksum = bystander.key.slice(0, -1) + last;
      const unknown = new ApiKeyFormat('acme').generate().key; // right shape and checksum, never stored
      const foreign = 'ghp_16C7e42F292c6912E7710c838347Ae178B4a';
      const response = await post(
        report(match(first.key), match(foreign), match(badChecksum), match(second.key), match(unknown)),
      );
      expect(response.status).toBe(200);
      expect(response.body.map((entry: { label: string }) => entry.label)).toEqual([
        'true_positive',
        'false_positive',
        'false_positive',
        'true_positive',
        'false_positive',
      ]);
      expect(response.body.map((entry: { token_hash: string }) => entry.token_hash)).toEqual(
        [first.key, foreign, badChecksum, second.key, unknown].map(sha256),
      );
      expect(await service.verify(first.key)).toMatchObject({ valid: false, reason: 'revoked' });
      expect(await service.verify(second.key)).toMatchObject({ valid: false, reason: 'revoked' });
      expect(await service.verify(bystander.key)).toMatchObject({ valid: true });
      expect(leakedEvents(bystander.apiKey.id)).toEqual([]);
    });

    describe('refuses, without touching the store, a report that is', () => {
      let key: string;
      let id: string;
      let callsBefore: number;
      let eventsBefore: number;
      beforeEach(async () => {
        ({
          key,
          apiKey: { id },
        } = await issue('refusals'));
        callsBefore = store.calls;
        eventsBefore = sink.events.length;
      });
      const untouched = async () => {
        expect(store.calls).toBe(callsBefore);
        expect(sink.events.length).toBe(eventsBefore);
        expect(await service.verify(key)).toMatchObject({ valid: true });
        expect(leakedEvents(id)).toEqual([]);
      };

      it.each([
        ['missing its key identifier', { 'github-public-key-identifier': undefined }],
        ['missing its signature', { 'github-public-key-signature': undefined }],
        ['signed with an unknown key identifier', { 'github-public-key-identifier': 'f'.repeat(64) }],
        ['signed with a garbage signature', { 'github-public-key-signature': 'bm90IGEgc2lnbmF0dXJl' }],
      ])('%s (401)', async (_, headers) => {
        const response = await post(report(match(key)), headers);
        expect(response.status).toBe(401);
        await untouched();
      });

      it('signed by another key under a known identifier (401)', async () => {
        const body = report(match(key));
        const response = await post(body, { 'github-public-key-signature': signatureOf(body, STRANGER) });
        expect(response.status).toBe(401);
        await untouched();
      });

      it('changed after signing (401)', async () => {
        const signed = report(match(key, 'https://github.com/octo/other'));
        const changed = report(match(key));
        const response = await post(changed, { 'github-public-key-signature': signatureOf(signed, GITHUB) });
        expect(response.status).toBe(401);
        await untouched();
      });

      it('over the size limit (413)', async () => {
        const body = report(match(key, `https://github.com/octo/repo/blob/${'a'.repeat(5000)}`));
        const response = await post(body);
        expect(response.status).toBe(413);
        await untouched();
      });

      it('not JSON (400)', async () => {
        const response = await post(`[{"token":"${key}"`);
        expect(response.status).toBe(400);
        await untouched();
      });

      it('JSON but not a list of matches (400)', async () => {
        const response = await post(JSON.stringify({ token: key, type: 'acme_api_key' }));
        expect(response.status).toBe(400);
        await untouched();
      });

      it('not application/json (415)', async () => {
        const body = report(match(key));
        const response = await post(body, { 'content-type': 'text/plain' });
        expect(response.status).toBe(415);
        await untouched();
      });

      it('a replay of a report already handled (409)', async () => {
        const other = await issue('replayed');
        const body = report(match(other.key));
        const signature = signatureOf(body, GITHUB);
        expect((await post(body, { 'github-public-key-signature': signature })).status).toBe(200);
        callsBefore = store.calls;
        eventsBefore = sink.events.length;
        const replay = await post(body, { 'github-public-key-signature': signature });
        expect(replay.status).toBe(409);
        expect(store.calls).toBe(callsBefore);
        expect(sink.events.length).toBe(eventsBefore);
        expect(leakedEvents(other.apiKey.id)).toHaveLength(1);
        await untouched();
      });
    });

    it('revokes once and emits one event when reports of one key arrive concurrently', async () => {
      const { key, apiKey } = await issue('concurrent');
      store.lookupDelayMs = 50;
      const bodies = Array.from({ length: 6 }, (_, i) => report(match(key, `https://github.com/octo/repo-${i}`)));
      const responses = await Promise.all(bodies.map((body) => post(body)));
      for (const response of responses) {
        expect(response.status).toBe(200);
        expect(response.body[0].label).toBe('true_positive');
      }
      expect(leakedEvents(apiKey.id)).toHaveLength(1);
      expect(sink.of('api-key.revoked', apiKey.id)).toHaveLength(1);
    });

    it('answers 503 when a lookup fails, and handles GitHub’s retry of the same report', async () => {
      const { key, apiKey } = await issue('outage');
      const body = report(match(key));
      const signature = signatureOf(body, GITHUB);
      store.failLookups = true;
      expect((await post(body, { 'github-public-key-signature': signature })).status).toBe(503);
      store.failLookups = false;
      expect(await service.verify(key)).toMatchObject({ valid: true });
      expect(leakedEvents(apiKey.id)).toEqual([]);
      const retry = await post(body, { 'github-public-key-signature': signature });
      expect(retry.status).toBe(200);
      expect(await service.verify(key)).toMatchObject({ valid: false, reason: 'revoked' });
      expect(leakedEvents(apiKey.id)).toHaveLength(1);
    });

    it('answers 503 when a lookup never answers: the wait is bounded by lookupTimeoutMs', async () => {
      const { key, apiKey } = await issue('hanging');
      store.hangLookups = true;
      expect((await post(report(match(key)))).status).toBe(503);
      store.hangLookups = false;
      expect(leakedEvents(apiKey.id)).toEqual([]);
      expect(await service.verify(key)).toMatchObject({ valid: true });
    });

    it('answers 503 when the revocation write fails, without an event', async () => {
      const { key, apiKey } = await issue('write-outage');
      store.failWrites = true;
      const response = await post(report(match(key)));
      expect(response.status).toBe(503);
      expect(response.text).not.toMatch(/database|unreachable/);
      expect(leakedEvents(apiKey.id)).toEqual([]);
    });
  });
});

describe.each(platforms)('the receiver’s other actions on $name', (platform) => {
  it.each([
    ['disable', { valid: false, reason: 'disabled' }, true],
    ['notify', { valid: true }, false],
  ] as const)('%s: the key ends %j, the event says applied=%s', async (action, verification, applied) => {
    const { app, sink } = await startLeakApp(platform, new InMemoryApiKeyStore(), [GITHUB], said, { action });
    try {
      const service = app.get(ApiKeyService);
      const { key, apiKey } = await service.create({ name: action });
      reported.add(key);
      const body = JSON.stringify([match(key)]);
      const response = await request(app.getHttpServer())
        .post(LEAKS_PATH)
        .set('content-type', 'application/json')
        .set('github-public-key-identifier', GITHUB.identifier)
        .set('github-public-key-signature', signatureOf(body, GITHUB))
        .send(body);
      said.add([response.text]);
      expect(response.body).toEqual([{ token_hash: sha256(key), token_type: 'acme_api_key', label: 'true_positive' }]);
      expect(await service.verify(key)).toMatchObject(verification);
      expect(sink.of('api-key.leaked', apiKey.id)).toEqual([expect.objectContaining({ action, applied })]);
    } finally {
      await app.close();
    }
  });

  it('answers 500 and says how to fix it when the app was not created with rawBody: true', async () => {
    const local = new Said();
    const { app } = await startLeakApp(platform, new InMemoryApiKeyStore(), [GITHUB], local, {}, false);
    try {
      const body = JSON.stringify([match('acme_x_y')]);
      const response = await request(app.getHttpServer())
        .post(LEAKS_PATH)
        .set('content-type', 'application/json')
        .set('github-public-key-identifier', GITHUB.identifier)
        .set('github-public-key-signature', signatureOf(body, GITHUB))
        .send(body);
      expect(response.status).toBe(500);
      expect(local.lines.join('\n')).toContain('rawBody: true');
    } finally {
      await app.close();
    }
  });
});

describe('what the receiver says', () => {
  it('never contains a reported token, nor any 12-character part of its secret (logs, events, responses)', () => {
    expect(reported.size).toBeGreaterThan(10);
    expect(said.lines.length).toBeGreaterThan(10);
    expect(said.leaked(reported)).toEqual([]);
  });
});
