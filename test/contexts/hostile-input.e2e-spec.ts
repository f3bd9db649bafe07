import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { LoggerService } from '@nestjs/common';
import {
  ApiKeyEventSink,
  ApiKeyHasher,
  ApiKeyService,
  InMemoryApiKeyStore,
  ResolvedApiKeyOptions,
  type ApiKeyEvent,
} from 'nestjs-api-key';
import type { Server } from 'node:http';
import { contexts, type RunningContext } from '../support/contexts.js';
import { hostileCases, KEY_COOKIE, KEY_QUERY, type HostileCase } from '../support/hostile-input.js';
import { LeakRecorder } from '../support/leak-recorder.js';

const leaks = new LeakRecorder();
const MAX_KEY_LENGTH = 64;
/** The HTTP status each refusal has on an HTTP route, which every context's answer maps back to. */
const STATUS = { API_KEY_MISSING: 401, API_KEY_INVALID: 401, API_KEY_CONFLICT: 400 } as const;

/** Hands every event to the leak recorder. */
class LeakCheckedSink extends ApiKeyEventSink {
  emit(event: ApiKeyEvent): void {
    leaks.record([event]);
  }
}

describe.each(contexts)('the hostile-input corpus through $name', (context) => {
  const test = context.skip ? it.skip : it;
  /** Error-level log lines: an unexpected exception shows up here. */
  const errors: string[] = [];
  const logger: LoggerService = {
    ...leaks.logger,
    error: (...parts: unknown[]) => {
      errors.push(parts.map(String).join(' '));
      leaks.logger.error(parts[0], ...parts.slice(1));
    },
    fatal: (...parts: unknown[]) => {
      errors.push(parts.map(String).join(' '));
      leaks.logger.fatal!(parts[0], ...parts.slice(1));
    },
  };
  let running: RunningContext;
  let reader: { key: string; id: string };
  let other: string;
  let cases: HostileCase[] = [];

  beforeAll(async () => {
    if (context.skip) return;
    running = await context.start(
      {
        repository: new InMemoryApiKeyStore(),
        events: new LeakCheckedSink(),
        sources: { header: 'X-API-Key', bearer: true, cookie: KEY_COOKIE, query: KEY_QUERY },
        maxKeyLength: MAX_KEY_LENGTH,
      },
      logger,
    );
    const http = (running.app as { getHttpServer?: () => Server }).getHttpServer?.();
    if (http) leaks.watch(http);
    const service = running.app.get(ApiKeyService);
    const issued = await service.create({ name: 'reader', scopes: ['orders:read'] });
    reader = { key: issued.key, id: issued.apiKey.id };
    other = (await service.create({ name: 'other', scopes: ['orders:read'] })).key;
    const hasher = running.app.get(ApiKeyHasher);
    leaks.recordPresented([reader.key, other, ...[reader.key, other].flatMap((key) => hasher.candidates(key))]);
    const unissued = running.app.get(ResolvedApiKeyOptions).format.generate().key;
    cases = hostileCases({ key: reader.key, other, unissued, maxKeyLength: MAX_KEY_LENGTH }).filter(
      (c) =>
        [...c.alphabet].every((needed) => context.carries.has(needed)) &&
        (context.readsCookieAndQuery || c.credentials.every(([name]) => name !== 'cookie' && name !== 'query')) &&
        [...(context.singleValueCredentials ?? [])].every(
          (single) => c.credentials.filter(([name]) => name === single).length <= 1,
        ),
    );
  });
  afterAll(async () => {
    if (!context.skip) await running.close();
  });

  test('refuses every input it can carry with its stable code, never admitting one nor failing otherwise', async () => {
    // Most of the corpus reaches every context; what a transport's client cannot send is left out.
    expect(cases.length).toBeGreaterThanOrEqual(30);
    const seen: Array<[string, string | undefined, number | undefined]> = [];
    for (const hostile of cases) {
      leaks.recordPresented(hostile.credentials.map(([, value]) => value));
      const reply = await running.send('whoami', hostile.credentials);
      leaks.record([reply.raw]);
      seen.push([hostile.name, reply.code, reply.status]);
      expect([hostile.name, reply.keyId]).toEqual([hostile.name, undefined]);
    }
    expect(seen).toEqual(
      cases.map((c) => {
        const names = c.credentials.map(([name]) => name);
        // Joined into one value, two keys are one malformed key: refused all the same.
        const joined = context.joinsRepeatedHeaders && new Set(names).size < names.length;
        const code = joined ? 'API_KEY_INVALID' : c.code;
        return [c.name, code, STATUS[code]];
      }),
    );
  });

  test('still admits a valid key after the corpus, and logged no error', async () => {
    expect(await running.send('whoami', [['x-api-key', reader.key]])).toEqual(
      expect.objectContaining({ keyId: reader.id }),
    );
    expect(errors).toEqual([]);
  });
});

leaks.expectNoLeaks();
