import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiKeyEventType, ApiKeyLastUsedRecorder, ApiKeyService, type CreateApiKeyInput } from 'nestjs-api-key';
import { contexts, type RunningContext } from '../support/contexts.js';
import type { Credential } from '../support/hostile-input.js';
import { TransportRecorder } from '../support/transport-app.js';

const DAY = 86_400_000;
const APP_ORIGIN = 'https://app.example';

describe.each(contexts)('the guard’s rules through $name', (context) => {
  const test = context.skip ? it.skip : it;
  /** A key-less message to a @Public() handler: refused where the connection itself needs a key. */
  const publicTest = context.connectionAuth ? it.skip : test;
  /** A message transport has no client address nor Origin: a restricted key fails closed there. */
  const fromHere = context.kind === 'rpc' ? 'refused' : 'admitted';
  const recorder = new TransportRecorder();
  const sink = recorder.sink;
  let running: RunningContext;
  let service: ApiKeyService;
  const issue = async (input: Omit<CreateApiKeyInput, 'name'> = {}) => {
    const { key, apiKey } = await service.create({ name: 'key', scopes: ['orders:read'], ...input });
    return { key, id: apiKey.id, header: [['x-api-key', key]] as Credential[] };
  };
  const eventsOf = (type: string, keyId: string) =>
    sink.events.filter((event) => event.type === type && event.keyId === keyId);

  beforeAll(async () => {
    if (context.skip) return;
    running = await context.start(
      { repository: recorder.store, events: sink, sources: { header: 'X-API-Key', bearer: true } },
      recorder.logger,
    );
    service = running.app.get(ApiKeyService);
  });
  afterAll(async () => {
    if (!context.skip) await running.close();
  });

  publicTest('keeps a @Public() handler open without a key, where @ApiKey() is empty', async () => {
    expect(await running.send('ping', [])).toEqual(expect.objectContaining({ keyId: null }));
  });

  test('admits a key with the scope, refuses one without it with 403 API_KEY_INSUFFICIENT_SCOPE', async () => {
    const reader = await issue();
    const bare = await issue({ scopes: [] });
    expect((await running.send('orders', reader.header)).keyId).toBe(reader.id);
    expect(await running.send('orders', bare.header)).toEqual(
      expect.objectContaining({ code: 'API_KEY_INSUFFICIENT_SCOPE', status: 403 }),
    );
  });

  test('verifies a message once under a global guard plus @UseGuards: one authenticated event each', async () => {
    const reader = await issue();
    for (let n = 0; n < 3; n++) expect((await running.send('whoami', reader.header)).keyId).toBe(reader.id);
    expect(eventsOf(ApiKeyEventType.Authenticated, reader.id)).toHaveLength(3);
  });

  test('emits authentication-failed for a revoked key, with its id', async () => {
    const revoked = await issue();
    await service.revoke(revoked.id);
    expect((await running.send('whoami', revoked.header)).code).toBe('API_KEY_INVALID');
    expect(eventsOf(ApiKeyEventType.AuthenticationFailed, revoked.id)).toEqual([
      expect.objectContaining({ reason: 'revoked' }),
    ]);
  });

  test('records the last use of an admitted key', async () => {
    const reader = await issue();
    await running.send('whoami', reader.header);
    await running.app.get(ApiKeyLastUsedRecorder).flush();
    expect((await service.get(reader.id)).lastUsedAt).toBeInstanceOf(Date);
  });

  test('emits api-key.expiring once for a key within its warning window', async () => {
    const expiresAt = new Date(Date.now() + DAY);
    const expiring = await issue({ expiresAt });
    for (let n = 0; n < 2; n++) {
      const reply = await running.send('whoami', expiring.header);
      expect(reply.keyId).toBe(expiring.id);
      // Over HTTP the response tells the client too.
      const head = (reply.raw as { head?: string }).head?.toLowerCase();
      if (context.kind === 'graphql' && !context.connectionAuth) {
        expect(head).toContain(`deprecation: @${Math.floor(expiresAt.getTime() / 1000)}`);
        expect(head).toContain(`sunset: ${expiresAt.toUTCString().toLowerCase()}`);
      }
    }
    expect(eventsOf(ApiKeyEventType.Expiring, expiring.id)).toEqual([
      expect.objectContaining({ reason: 'expiring', stopsAt: expiresAt }),
    ]);
  });

  test(`checks allowedNetworks against the client's address (${fromHere} from loopback)`, async () => {
    const loopback = await issue({ allowedNetworks: ['127.0.0.0/8', '::1/128'] });
    const elsewhere = await issue({ allowedNetworks: ['10.0.0.0/8'] });
    const restricted = expect.objectContaining({ code: 'API_KEY_RESTRICTED', status: 403 });
    const reply = await running.send('whoami', loopback.header);
    if (fromHere === 'admitted') expect(reply.keyId).toBe(loopback.id);
    else expect(reply).toEqual(restricted);
    expect(await running.send('whoami', elsewhere.header)).toEqual(restricted);
    expect(eventsOf(ApiKeyEventType.Restricted, elsewhere.id)).toEqual([
      expect.objectContaining({ reason: 'network' }),
    ]);
  });

  test(`checks allowedOrigins against the handshake's or request's Origin (${fromHere} from its origin)`, async () => {
    const browser = await issue({ allowedOrigins: [APP_ORIGIN] });
    const restricted = expect.objectContaining({ code: 'API_KEY_RESTRICTED', status: 403 });
    const reply = await running.send('whoami', browser.header, { origin: APP_ORIGIN });
    if (fromHere === 'admitted') expect(reply.keyId).toBe(browser.id);
    else expect(reply).toEqual(restricted);
    expect(await running.send('whoami', browser.header, { origin: 'https://evil.example' })).toEqual(restricted);
    expect(await running.send('whoami', browser.header)).toEqual(restricted);
  });

  if (context.connectionAuth) {
    test('never takes an Origin from the connection_init payload, which the page writes', async () => {
      const browser = await issue({ allowedOrigins: [APP_ORIGIN] });
      const spoofed = [...browser.header, ['origin', APP_ORIGIN] as unknown as Credential];
      expect(await running.send('whoami', spoofed, { origin: 'https://evil.example' })).toEqual(
        expect.objectContaining({ code: 'API_KEY_RESTRICTED', status: 403 }),
      );
    });
  }
});
