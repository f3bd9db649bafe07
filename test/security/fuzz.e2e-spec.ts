import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Controller, Get, UseGuards } from '@nestjs/common';
import {
  ApiKey,
  ApiKeyGuard,
  ApiKeyHasher,
  ApiKeyModule,
  RequireAnyScope,
  RequireScopes,
  satisfiesScopes,
  type ApiKeyPrincipal,
  type ApiKeyRecord,
  type StaticApiKey,
} from 'nestjs-api-key';
import { TEST_KEYS } from '../support/keys.js';
import { platforms } from '../support/platforms.js';
import { FaultRepository } from '../support/fault-repository.js';
import { JUNK_VALUES, SPECIAL_CHARACTERS, utf8AsLatin1 } from '../support/hostile-input.js';
import { LeakRecorder } from '../support/leak-recorder.js';
import { send, type RawRequest, type RawResponse } from '../support/raw-http.js';
import { startSecurityApp, type SecurityApp } from '../support/security-app.js';
import { CHALLENGE, EVERY_SOURCE } from '../support/sources.js';

/** Property runs per platform and requests per run: 2 platforms × 2 properties × 50 × 50 = 10,000 inputs. */
const RUNS = 50;
const BATCH = 50;
/** Generous: on a loaded machine a request costs a few ms; an idle one runs this in seconds. */
const FUZZ_TIMEOUT_MS = 180_000;

const leaks = new LeakRecorder();
const hasher = new ApiKeyHasher();
const STORED: StaticApiKey[] = [
  { name: 'stored-reader', key: 'fuzz-stored-key-0000000000000001', scopes: ['orders:read'] },
  { name: 'stored-writer', key: 'fuzz-stored-key-0000000000000002', scopes: ['orders:*'] },
];
const VALID = [...TEST_KEYS, ...STORED];
const ROUTES = [
  { path: '/fuzz', requirement: undefined },
  { path: '/fuzz/read', requirement: { mode: 'all', scopes: ['orders:read'] } },
  { path: '/fuzz/write', requirement: { mode: 'all', scopes: ['orders:read', 'orders:write'] } },
  { path: '/fuzz/any', requirement: { mode: 'any', scopes: ['orders:write', 'reports:read'] } },
] as const;

/** Every route answers with the principal, so each 200 shows whose key was accepted. */
@Controller('fuzz')
@UseGuards(ApiKeyGuard)
class FuzzController {
  @Get()
  open(@ApiKey() principal: ApiKeyPrincipal) {
    return principal;
  }
  @Get('read')
  @RequireScopes('orders:read')
  read(@ApiKey() principal: ApiKeyPrincipal) {
    return principal;
  }
  @Get('write')
  @RequireScopes('orders:read', 'orders:write')
  write(@ApiKey() principal: ApiKeyPrincipal) {
    return principal;
  }
  @Get('any')
  @RequireAnyScope('orders:write', 'reports:read')
  any(@ApiKey() principal: ApiKeyPrincipal) {
    return principal;
  }
}
const BODIES = {
  missing: { statusCode: 401, error: 'Unauthorized', code: 'API_KEY_MISSING', message: 'An API key is required' },
  invalid: { statusCode: 401, error: 'Unauthorized', code: 'API_KEY_INVALID', message: 'The API key is not valid' },
  conflict: {
    statusCode: 400,
    error: 'Bad Request',
    code: 'API_KEY_CONFLICT',
    message: 'Send exactly one API key per request',
  },
};

// ---- Generated inputs -----------------------------------------------------------------------

const validKey = fc.constantFrom(...VALID.map((k) => k.key));
/** Characters that mean something to one of the sources, or to HTTP. */
const special = fc.constantFrom(...SPECIAL_CHARACTERS);
/** Key-like strings: valid keys, small mutations of them, and random text of every length and alphabet. */
const keyString = fc.oneof(
  { weight: 3, arbitrary: validKey },
  {
    weight: 3,
    arbitrary: fc
      .tuple(validKey, fc.nat(), special)
      .map(([k, at, c]) => k.slice(0, at % k.length) + c + k.slice(at % k.length)),
  },
  { weight: 1, arbitrary: validKey.map((k) => k.toUpperCase()) },
  { weight: 1, arbitrary: fc.tuple(validKey, fc.nat()).map(([k, n]) => k.slice(0, n % k.length)) },
  { weight: 1, arbitrary: fc.tuple(validKey, fc.string({ maxLength: 4 })).map(([k, s]) => k + s) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('', ' ', '\t', '  '), validKey, fc.constantFrom('', ' ', '\t'))
      .map(([a, k, b]) => a + k + b),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }).map(utf8AsLatin1) },
  {
    weight: 1,
    arbitrary: fc.string({ unit: fc.constantFrom('a', 'Z', '0', '-', '_'), minLength: 200, maxLength: 6000 }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', ' ', '\t', ...JUNK_VALUES),
  },
);

/** One place a value can be put: every source, well or badly formed. */
const part = fc.oneof(
  fc.record({
    kind: fc.constant('header'),
    name: fc.constantFrom('X-API-Key', 'x-api-key', 'X-Api-Key', 'X-API-Key ', 'X-API-Keys'),
    value: keyString,
  }),
  fc.record({
    kind: fc.constant('bearer'),
    scheme: fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'Token', 'Bearer:', ''),
    separator: fc.constantFrom(' ', '  ', '\t', ''),
    value: keyString,
  }),
  fc.record({
    kind: fc.constant('cookie'),
    name: fc.constantFrom('api_key', 'API_KEY', ' api_key', 'xapi_key', 'api_key2'),
    quoted: fc.boolean(),
    before: fc.constantFrom('', 'theme=dark; ', 'a=1;', '; '),
    after: fc.constantFrom('', '; lang=en', ';', '; api_key='),
    value: keyString,
  }),
  fc.record({
    kind: fc.constant('query'),
    name: fc.constantFrom('api_key', 'API_KEY', 'api_key[]', 'api%5Fkey'),
    encode: fc.boolean(),
    value: keyString,
  }),
);
type Part = typeof part extends fc.Arbitrary<infer T> ? T : never;

/** Unrelated headers, with any bytes (`binary-ascii`) or only well-formed ones (`grapheme-ascii`). */
const noiseOf = (unit: 'binary-ascii' | 'grapheme-ascii') =>
  fc.array(
    fc.tuple(
      fc.constantFrom('Accept', 'X-Forwarded-For', 'User-Agent', 'X-Requested-With', 'Origin'),
      fc.string({ unit, maxLength: 30 }),
    ),
    {
      maxLength: 2,
    },
  );
/** Anything: up to three parts in any sources, plus unrelated headers. */
const hostileRequest = fc.record({
  route: fc.constantFrom(...ROUTES),
  parts: fc.array(part, { maxLength: 3 }),
  noise: noiseOf('binary-ascii'),
});
/** Exactly one valid key, well formed, in one source: the answer is predictable. */
const cleanRequest = fc.record({
  route: fc.constantFrom(...ROUTES),
  key: fc.constantFrom(...VALID),
  source: fc.constantFrom('header', 'bearer', 'cookie', 'query'),
  noise: noiseOf('grapheme-ascii'),
});

/** Header values cannot carry CR or LF on the wire (that would be another header, or a body). */
const wire = (value: string) => value.replace(/[\r\n]/g, ' ');
const queryValue = (value: string, encode: boolean) =>
  encode ? encodeURIComponent(value) : value.replace(/[^\x21-\x7e]|#/g, (c) => encodeURIComponent(c));

function toRequest(
  route: string,
  parts: readonly Part[],
  noiseHeaders: ReadonlyArray<readonly [string, string]>,
): RawRequest {
  const headers: Array<[string, string]> = noiseHeaders.map(([name, value]) => [name, wire(value)]);
  const query: string[] = [];
  for (const p of parts) {
    if (p.kind === 'header') headers.push([p.name.trim(), wire(p.value)]);
    if (p.kind === 'bearer') headers.push(['Authorization', wire(`${p.scheme}${p.separator}${p.value}`)]);
    if (p.kind === 'cookie')
      headers.push(['Cookie', wire(`${p.before}${p.name}=${p.quoted ? `"${p.value}"` : p.value}${p.after}`)]);
    if (p.kind === 'query') query.push(`${p.name}=${queryValue(p.value, p.encode)}`);
  }
  return { path: query.length ? `${route}?${query.join('&')}` : route, headers };
}

// ---- The contract every response must meet ----------------------------------------------------

function meetsContract(request: RawRequest, res: RawResponse, route: (typeof ROUTES)[number]): void {
  expect(res.status).toBeLessThan(500);
  expect([200, 400, 401, 403, 431]).toContain(res.status);
  const body = res.body.startsWith('{') ? JSON.parse(res.body) : undefined;
  const query = new URLSearchParams(
    request.path.includes('?') ? request.path.slice(request.path.indexOf('?') + 1) : '',
  );
  const sent = [...query.values(), ...(request.headers ?? []).map(([, v]) => v)].join('\n');
  if (res.status === 200 || res.status === 403) {
    // Never 2xx (nor a scope verdict) without a valid key, and never the principal of another key.
    const key = VALID.find((k) => k.name === (body?.name ?? ''));
    if (res.status === 200) {
      expect(key).toBeDefined();
      expect(sent).toContain(key!.key);
      expect(route.requirement === undefined || satisfiesScopes(key!.scopes ?? [], route.requirement)).toBe(true);
    } else {
      expect(body).toMatchObject({ code: 'API_KEY_INSUFFICIENT_SCOPE', requiredScopes: route.requirement?.scopes });
      expect(VALID.some((k) => sent.includes(k.key))).toBe(true);
    }
  }
  if (res.status === 401) {
    expect([BODIES.missing, BODIES.invalid]).toContainEqual(body);
    expect(res.headers['www-authenticate']).toBe(
      body.code === 'API_KEY_MISSING' ? CHALLENGE.missing : CHALLENGE.invalid,
    );
    expect(res.headers['cache-control']).toBe('no-store');
  }
  if (res.status === 400 && body?.code !== undefined) {
    expect(body).toEqual(BODIES.conflict);
    expect(res.headers['cache-control']).toBe('no-store');
  }
}

describe.each(platforms)('generated requests on $name', (platform) => {
  const repository = new FaultRepository();
  let server: SecurityApp;
  let inputs = 0;
  /** How often each outcome (status and code) came up, to show the inputs reach every branch. */
  const outcomes = new Map<string, number>();
  const tally = (res: RawResponse) => {
    const code = res.body.startsWith('{') ? (JSON.parse(res.body).code ?? '') : '';
    outcomes.set(`${res.status} ${code}`.trim(), (outcomes.get(`${res.status} ${code}`.trim()) ?? 0) + 1);
  };
  beforeAll(async () => {
    for (const { key, name, scopes } of STORED) {
      const record: ApiKeyRecord = { id: name, name, hash: hasher.hash(key), scopes: scopes ?? [] };
      repository.save(record);
    }
    server = await startSecurityApp(
      {
        imports: [ApiKeyModule.forRoot({ keys: TEST_KEYS, repository, sources: EVERY_SOURCE })],
        controllers: [FuzzController],
      },
      platform,
      leaks,
    );
  });
  afterAll(() => server.app.close());

  it(
    `never answer 5xx, nor 2xx without a valid key, and always with one of the contract’s responses (${RUNS * BATCH} requests)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(hostileRequest, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
          const requests = batch.map(({ route, parts, noise: extra }) => ({
            route,
            request: toRequest(route.path, parts, extra),
          }));
          const responses = await Promise.all(requests.map(({ request }) => send(server.port, request)));
          inputs += requests.length;
          responses.forEach((res, i) => {
            tally(res);
            meetsContract(requests[i]!.request, res, requests[i]!.route);
          });
        }),
        { numRuns: RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    `authenticate exactly one well-formed valid key in any source, with its own principal and scopes (${RUNS * BATCH} requests)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(cleanRequest, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
          const requests = batch.map(({ route, key, source, noise: extra }) => {
            const only: Part =
              source === 'header'
                ? { kind: 'header', name: 'X-API-Key', value: key.key }
                : source === 'bearer'
                  ? { kind: 'bearer', scheme: 'Bearer', separator: ' ', value: key.key }
                  : source === 'cookie'
                    ? {
                        kind: 'cookie',
                        name: 'api_key',
                        quoted: false,
                        before: 'theme=dark; ',
                        after: '',
                        value: key.key,
                      }
                    : { kind: 'query', name: 'api_key', encode: true, value: key.key };
            return { route, key, request: toRequest(route.path, [only], extra) };
          });
          const responses = await Promise.all(requests.map(({ request }) => send(server.port, request)));
          inputs += requests.length;
          responses.forEach((res, i) => {
            const { route, key, request } = requests[i]!;
            meetsContract(request, res, route);
            const allowed = route.requirement === undefined || satisfiesScopes(key.scopes ?? [], route.requirement);
            expect(res.status).toBe(allowed ? 200 : 403);
          });
        }),
        { numRuns: RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it('sent every generated input, and they reached every outcome of the contract', () => {
    expect(inputs).toBeGreaterThanOrEqual(2 * RUNS * BATCH);
    for (const outcome of [
      '200',
      '400 API_KEY_CONFLICT',
      '401 API_KEY_MISSING',
      '401 API_KEY_INVALID',
      '403 API_KEY_INSUFFICIENT_SCOPE',
    ]) {
      expect([outcome, outcomes.get(outcome) ?? 0]).not.toEqual([outcome, 0]);
    }
  });
});

leaks.expectNoLeaks();
