// Scaling: verify latency and heap bytes per key with 10, 10,000 and 1,000,000 keys in the
// in-memory repository. Run as its own process with --expose-gc; prints a markdown section.
import 'reflect-metadata';
import { ApiKeyAuthenticator, ApiKeyHasher, InMemoryApiKeyRepository, ResolvedApiKeyOptions } from 'nestjs-api-key';
import { benchKey, benchRecord, BENCH_PEPPER } from './keys.js';
import { measureCases, type MicroCase } from './measure.js';
import { fixed, median, table } from './stats.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const sizes = (process.env.BENCH_SCALING_SIZES ?? '10,10000,1000000').split(',').map(Number);
const hasher = new ApiKeyHasher([BENCH_PEPPER]);
// How many distinct keys the verify loop cycles through (BENCH_SCALING_SPREAD, default 1024).
const SPREAD = Number(process.env.BENCH_SCALING_SPREAD ?? 1024);

function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc!();
  return process.memoryUsage().heapUsed;
}

interface Sized {
  readonly size: number;
  readonly bytesPerKey: number;
  readonly authenticator: ApiKeyAuthenticator;
  /** Plaintext keys spread over the whole set, to verify in turn, and their hashes. */
  readonly sample: string[];
  readonly sampleHashes: string[];
  /** The repository's own Map (private; read here to measure the bare lookup). */
  readonly map: Map<string, unknown>;
}

// Small sets are built many times over (at least 100,000 keys in all), so the heap delta is
// not lost in the noise; per-repository overhead is then shared by that set's keys, as it is.
const sets: Sized[] = sizes.map((size) => {
  const copies = Math.max(1, Math.ceil(100_000 / size));
  const before = heapUsed();
  const repositories: InMemoryApiKeyRepository[] = [];
  for (let copy = 0; copy < copies; copy++) {
    const repository = new InMemoryApiKeyRepository();
    for (let i = 0; i < size; i++) repository.save(benchRecord(hasher, i));
    repositories.push(repository);
  }
  const bytesPerKey = (heapUsed() - before) / (size * copies);
  const repository = repositories[0]!;
  const authenticator = new ApiKeyAuthenticator(new ResolvedApiKeyOptions({ pepper: BENCH_PEPPER, repository }), hasher, repository);
  const sample = Array.from({ length: 1024 }, (_, i) => benchKey(Math.floor(((i % SPREAD) * 7919 * size) / SPREAD) % size));
  (globalThis as { keep?: unknown[] }).keep = [...((globalThis as { keep?: unknown[] }).keep ?? []), repositories];
  const map = (repository as unknown as { byHash: Map<string, unknown> }).byHash;
  return { size, bytesPerKey, authenticator, sample, sampleHashes: sample.map((key) => hasher.hash(key)), map };
});

const cases: MicroCase[] = sets.flatMap((set) => [
  { name: `${set.size.toLocaleString('en')} keys`, run: (i: number) => set.authenticator.verify(set.sample[i & 1023]!), async: true },
  { name: `Map.get ${set.size}`, run: (i: number) => set.map.get(set.sampleHashes[i & 1023]!) },
]);
const results = await measureCases(cases, Number(process.env.BENCH_ROUNDS_MICRO ?? 9), Number(process.env.BENCH_ITERATIONS ?? 20_000));
const base = results.get(cases[0]!.name)!;
const mapBase = results.get(cases[1]!.name)!;
const rows = sets.map((set, i) => {
  const values = results.get(cases[2 * i]!.name)!;
  const mapValues = results.get(cases[2 * i + 1]!.name)!;
  return [
    cases[2 * i]!.name,
    fixed(median(values), 2),
    `${fixed(100 * (median(values.map((v, r) => v / base[r]!)) - 1), 1, true)} %`,
    `${fixed(median(mapValues), 3)} (${fixed(median(mapValues.map((v, r) => v - mapBase[r]!)), 3, true)})`,
    fixed(set.bytesPerKey, 0),
    `${fixed((100 * (set.bytesPerKey - sets[0]!.bytesPerKey)) / sets[0]!.bytesPerKey, 1, true)} %`,
  ];
});
process.stdout.write(
  'InMemoryApiKeyRepository holding the key set (records with id, name, hash, two scopes, owner), ' +
    '`verify()` of keys spread over the whole set, CPU µs per call (median of interleaved rounds); ' +
    'heap bytes per key from `process.memoryUsage().heapUsed` after forced GC (sets under 100,000 keys built ' +
    'several times over). The bare `Map.get` of a precomputed hash on the repository\'s own Map shows what ' +
    'the memory hierarchy alone adds as the table outgrows the CPU caches.\n\n' +
    table(['keys', 'verify µs', 'vs 10 keys (same round)', 'bare Map.get µs (vs 10 keys)', 'heap bytes/key', 'vs 10 keys'], rows) +
    '\n',
);
