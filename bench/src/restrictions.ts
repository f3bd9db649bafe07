// Micro-benchmark of per-key restrictions: what the guard adds for a key without restrictions
// (one property read) and for a key restricted to 100 networks (the client in the last one, so
// every entry is tried), in CPU time per call, in one process. Run it with
// `npm run build && npx tsc -p bench/tsconfig.json && node bench/dist/restrictions.js`.
import 'reflect-metadata';
import { Controller, Get } from '@nestjs/common';
import {
  ApiKeyAuthenticator,
  ApiKeyRestrictions,
  InMemoryApiKeyStore,
  ResolvedApiKeyOptions,
  type ApiKeyPrincipal,
} from 'nestjs-api-key';
import { httpContextOf, inProcessGuard } from './in-process-guard.js';
import { benchKey, benchRecord, benchKeySet, BENCH_PEPPER } from './keys.js';
import { measureCases, type MicroCase } from './measure.js';
import { fixed, median, table } from './stats.js';

@Controller()
class RestrictionsController {
  @Get('bench')
  get() {
    return { ok: true };
  }
}

/** 100 IPv4 /24s and 100 IPv6 /48s; the client addresses below are in the last of each. */
const V4_NETWORKS = Array.from({ length: 100 }, (_, i) => `10.${i}.0.0/24`);
const V6_NETWORKS = Array.from({ length: 100 }, (_, i) => `2001:db8:${i.toString(16)}::/48`);
const V4_CLIENT = '10.99.0.7';
const V4_MAPPED_CLIENT = '::ffff:10.99.0.7';
const V6_CLIENT = '2001:db8:63::7';

/** Runs the benchmark; returns the report section (markdown). */
export async function runRestrictions(rounds: number, iterations: number): Promise<string> {
  const { hasher } = benchKeySet();
  const plain = benchRecord(hasher, 0);
  const v4 = { ...benchRecord(hasher, 1), allowedNetworks: V4_NETWORKS };
  const v6 = { ...benchRecord(hasher, 2), allowedNetworks: V6_NETWORKS };
  const repository = new InMemoryApiKeyStore([plain, v4, v6]);
  const options = new ResolvedApiKeyOptions({ pepper: BENCH_PEPPER, repository });
  const authenticator = new ApiKeyAuthenticator(options, hasher, repository);
  const guard = inProcessGuard(options, authenticator);
  const principalOf = async (i: number) =>
    ((await authenticator.verify(benchKey(i))) as { principal: ApiKeyPrincipal }).principal;
  const [plainPrincipal, v4Principal, v6Principal] = await Promise.all([0, 1, 2].map(principalOf));
  const v4Restrictions = ApiKeyRestrictions.of(V4_NETWORKS, null)!;
  const contextFor = (request: object) => httpContextOf(RestrictionsController, 'get', request);
  const requestWith = (key: number, ip: string) => ({ headers: { 'x-api-key': benchKey(key) }, ip });

  const cases: MicroCase[] = [
    { name: 'ref: no-op', run: () => undefined },
    {
      name: 'step: enforceRestrictions, unrestricted key',
      run: () => guard.enforce({ ip: V4_CLIENT }, plainPrincipal!),
    },
    {
      name: 'step: enforceRestrictions, 100 IPv4 networks',
      run: () => guard.enforce({ headers: {}, ip: V4_CLIENT }, v4Principal!),
    },
    {
      name: 'step: enforceRestrictions, 100 IPv4 networks, mapped client',
      run: () => guard.enforce({ headers: {}, ip: V4_MAPPED_CLIENT }, v4Principal!),
    },
    {
      name: 'step: enforceRestrictions, 100 IPv6 networks',
      run: () => guard.enforce({ headers: {}, ip: V6_CLIENT }, v6Principal!),
    },
    { name: 'check alone: refusal(), 100 IPv4 networks', run: () => v4Restrictions.refusal(V4_CLIENT, undefined) },
    {
      name: 'guard: canActivate, unrestricted key',
      run: () => guard.canActivate(contextFor(requestWith(0, V4_CLIENT))),
      async: true,
    },
    {
      name: 'guard: canActivate, key with 100 IPv4 networks',
      run: () => guard.canActivate(contextFor(requestWith(1, V4_CLIENT))),
      async: true,
    },
    {
      name: 'guard: canActivate, key with 100 IPv6 networks',
      run: () => guard.canActivate(contextFor(requestWith(2, V6_CLIENT))),
      async: true,
    },
  ];
  const results = await measureCases(cases, rounds, iterations);
  const at = (name: string) => median(results.get(name)!);
  /** The median over rounds of the per-round difference between two cases (measured in the same round). */
  const difference = (name: string, reference: string) => {
    const a = results.get(name)!;
    const b = results.get(reference)!;
    return fixed(median(a.map((value, round) => value - b[round]!)) * 1000, 0);
  };
  const rows = cases.map((c) => [c.name, fixed(at(c.name) * 1000, 0)]);
  const derived = [
    ['unrestricted key: the guard step over a no-op', difference(cases[1]!.name, cases[0]!.name)],
    ['100 IPv4 networks: canActivate over an unrestricted key', difference(cases[7]!.name, cases[6]!.name)],
    ['100 IPv6 networks: canActivate over an unrestricted key', difference(cases[8]!.name, cases[6]!.name)],
  ];
  return (
    `CPU ns per call (median of ${rounds} interleaved rounds of ${iterations.toLocaleString('en')} calls).\n\n` +
    table(['operation', 'ns'], rows) +
    '\n\nDerived (per-round differences, median):\n\n' +
    table(['what', 'ns'], derived)
  );
}

const rounds = Number(process.env.BENCH_ROUNDS ?? 15);
const iterations = Number(process.env.BENCH_ITERATIONS ?? 200_000);
console.log(await runRestrictions(rounds, iterations));
