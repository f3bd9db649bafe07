// Micro-benchmark: ApiKeyAuthenticator.verify(), the guard's steps and the whole guard
// against the primitives floor, in CPU time per operation, in one process.
import 'reflect-metadata';
import { Controller, Get } from '@nestjs/common';
import { createHmac, hash } from 'node:crypto';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import {
  ApiKeyAuthenticator,
  InMemoryApiKeyStore,
  RequireScopes,
  ResolvedApiKeyOptions,
  satisfiesScopes,
  type ApiKeyPrincipal,
} from 'nestjs-api-key';
import { httpContextOf, inProcessGuard } from './in-process-guard.js';
import { benchKey, benchKeySet, BENCH_PEPPER, BENCH_SCOPE, BENCH_VALID_KEY } from './keys.js';
import { measureCases, type MicroCase } from './measure.js';
import { fixed, median, table } from './stats.js';

@Controller()
class MicroController {
  @Get('bench')
  @RequireScopes(BENCH_SCOPE)
  get() {
    return { ok: true };
  }
}

/** Runs the micro-benchmark; returns the report section (markdown). */
export async function runMicro(rounds: number, iterations: number): Promise<string> {
  const keys = benchKeySet();
  const repository = new InMemoryApiKeyStore(keys.records);
  const options = new ResolvedApiKeyOptions({ pepper: BENCH_PEPPER, repository });
  const authenticator = new ApiKeyAuthenticator(options, keys.hasher, repository);
  const staticOptions = new ResolvedApiKeyOptions({
    pepper: BENCH_PEPPER,
    keys: keys.records.map((record, i) => ({
      id: record.id,
      name: record.name,
      key: benchKey(i),
      scopes: [...record.scopes],
    })),
  });
  const staticAuthenticator = new ApiKeyAuthenticator(staticOptions, keys.hasher, new InMemoryApiKeyStore());
  const guard = inProcessGuard(options, authenticator);
  const floorMap = new Map(keys.records.map((record) => [record.hash, record]));
  const principal = ((await authenticator.verify(BENCH_VALID_KEY)) as { principal: ApiKeyPrincipal }).principal;
  const requirement = { mode: 'all', scopes: [BENCH_SCOPE] } as const;
  const headers = { host: '127.0.0.1', 'user-agent': 'wrk', accept: '*/*', 'x-api-key': BENCH_VALID_KEY };
  const socket = new Socket();
  // Express gives each request its app's request prototype (Object.setPrototypeOf): V8 then builds
  // a new hidden class for every property added to the object.
  const expressRequest = Object.create(IncomingMessage.prototype) as object;
  const contextFor = (request: object) => httpContextOf(MicroController, 'get', request);
  const unknownKeys = Array.from({ length: 4096 }, (_, i) => `${benchKey(i)}x`);
  const malformed = ['bad key', 'a,b', 'x'.repeat(300), 'naïve-key'];

  const cases: MicroCase[] = [
    {
      name: 'floor: createHmac SHA-256 + Map.get',
      run: () => floorMap.get(createHmac('sha256', BENCH_PEPPER).update(BENCH_VALID_KEY).digest('base64url')),
    },
    { name: 'primitive: crypto.hash SHA-256 one-shot', run: () => hash('sha256', BENCH_VALID_KEY, 'base64url') },
    { name: 'step: read credential (readKey)', run: () => guard.read({ headers }) },
    { name: 'step: hash (ApiKeyHasher.hash, HMAC)', run: () => keys.hasher.hash(BENCH_VALID_KEY) },
    {
      name: 'step: lookup (InMemoryApiKeyStore.findByHash)',
      run: () => repository.findByHash(keys.records[5000]!.hash),
      async: true,
    },
    { name: 'step: scope check (satisfiesScopes)', run: () => satisfiesScopes(principal.scopes, requirement) },
    { name: 'ref: new IncomingMessage', run: () => new IncomingMessage(socket) },
    {
      name: 'step: new IncomingMessage + request.apiKey = principal',
      run: () => ((new IncomingMessage(socket) as unknown as { apiKey: unknown }).apiKey = principal),
    },
    {
      name: 'ref: new IncomingMessage, re-prototyped as Express does',
      run: () => Object.setPrototypeOf(new IncomingMessage(socket), expressRequest),
    },
    {
      name: 'step: the same + request.apiKey = principal',
      run: () =>
        ((Object.setPrototypeOf(new IncomingMessage(socket), expressRequest) as { apiKey: unknown }).apiKey =
          principal),
    },
    { name: 'step: second-pass check (getRememberedPrincipal)', run: () => guard.remembered({ apiKey: principal }) },
    { name: 'verify: repository key', run: () => authenticator.verify(BENCH_VALID_KEY), async: true },
    { name: 'verify: static key', run: () => staticAuthenticator.verify(BENCH_VALID_KEY), async: true },
    { name: 'verify: unknown well-formed key', run: (i) => authenticator.verify(unknownKeys[i & 4095]!), async: true },
    { name: 'verify: malformed key', run: (i) => authenticator.verify(malformed[i & 3]!), async: true },
    { name: 'ref: new request object', run: () => ({ headers: { ...headers } }) },
    {
      name: 'guard: canActivate (new request, repository key)',
      run: () => guard.canActivate(contextFor({ headers: { ...headers } })),
      async: true,
    },
    {
      name: 'guard: canActivate, malformed key (rejects with the 401)',
      run: (i) => {
        const request = { headers: { ...headers, 'x-api-key': malformed[i & 3]! } };
        return guard.canActivate(contextFor(request)).catch(() => false);
      },
      async: true,
    },
  ];
  const results = await measureCases(cases, rounds, iterations);
  const floor = results.get(cases[0]!.name)!;
  const rows = cases.map((c) => {
    const values = results.get(c.name)!;
    return [c.name, fixed(median(values), 2), `×${fixed(median(values.map((v, r) => v / floor[r]!)), 2)}`];
  });
  const at = (name: string) => median(results.get(name)!);
  const difference = (name: string, reference: string) => fixed(at(name) - at(reference), 2);
  const derived = [
    [
      'request.apiKey = principal (difference)',
      difference('step: new IncomingMessage + request.apiKey = principal', 'ref: new IncomingMessage'),
    ],
    [
      "request.apiKey = principal on a request re-prototyped as Express's (difference)",
      difference(
        'step: the same + request.apiKey = principal',
        'ref: new IncomingMessage, re-prototyped as Express does',
      ),
    ],
    [
      'whole guard, request object excluded (difference)',
      difference('guard: canActivate (new request, repository key)', 'ref: new request object'),
    ],
  ];
  return (
    `CPU µs per operation (median of ${rounds} interleaved rounds of ${iterations.toLocaleString('en')} calls; ` +
    `the ratio is to the floor measured in the same round).\n\n` +
    table(['operation', 'µs', 'vs floor'], rows) +
    '\n\nDerived:\n\n' +
    table(['what', 'µs'], derived)
  );
}
