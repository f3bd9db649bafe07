// Scaling: verify latency and heap bytes per key with 10, 10,000 and 1,000,000 keys in the
// in-memory repository and in the cache (CachedApiKeyStore, every key cached). Run as its own
// process with --expose-gc; prints a markdown section.
import 'reflect-metadata';
import {
  ApiKeyAuthenticator,
  ApiKeyHasher,
  ApiKeyRepository,
  CachedApiKeyStore,
  InMemoryApiKeyStore,
  ResolvedApiKeyOptions,
  type ApiKeyRecord,
} from 'nestjs-api-key';
import { benchKey, benchRecord, BENCH_PEPPER } from './keys.js';
import { measureCases, type MicroCase } from './measure.js';
import { fixed, median, table } from './stats.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const sizes = (process.env.BENCH_SCALING_SIZES ?? '10,10000,1000000').split(',').map(Number);
const hasher = new ApiKeyHasher([BENCH_PEPPER]);
// How many distinct keys the verify loop cycles through (BENCH_SCALING_SPREAD, default 1024).
const SPREAD = Number(process.env.BENCH_SCALING_SPREAD ?? 1024);
// Whether the cache is measured as well (BENCH_SCALING_CACHE, default 1).
const withCache = process.env.BENCH_SCALING_CACHE !== '0';

function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc!();
  return process.memoryUsage().heapUsed;
}

interface Sized {
  readonly size: number;
  /** Heap per key as saved, before any lookup. */
  readonly savedBytesPerKey: number;
  /** Heap per key once every key was looked up (the store keeps each one's verified form). */
  readonly bytesPerKey: number;
  readonly authenticator: ApiKeyAuthenticator;
  /** Plaintext keys spread over the whole set, to verify in turn, and their hashes. */
  readonly sample: string[];
  readonly sampleHashes: string[];
  /** The repository's own Map (private; read here to measure the bare lookup). */
  readonly map: Map<string, unknown>;
  /** The same keys, every one in a cache in front of a store that returns fresh rows. */
  readonly cached?: {
    readonly bytesPerKey: number;
    readonly entryBytes: number;
    readonly authenticator: ApiKeyAuthenticator;
  };
}

/** A fresh copy of a string (not a slice or the same object): what a database driver returns. */
function fresh(value: string): string {
  return Buffer.from(value, 'utf8').toString('utf8');
}

/**
 * What a SQL store's `findByHash` returns: a new record of fresh strings and dates on every
 * call (`toApiKeyRecord` of a row), so the cache holds its own copy as it would in production.
 * Its rows are the key set's records in a plain `Map`: reading them builds nothing that would
 * count as the cache's memory.
 */
class RowLikeStore extends ApiKeyRepository {
  private readonly rows: Map<string, ApiKeyRecord>;

  constructor(size: number) {
    super();
    this.rows = new Map(
      Array.from({ length: size }, (_, i) => benchRecord(hasher, i)).map((record) => [record.hash, record]),
    );
  }

  override async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    const record = (this.rows.get(hash) ?? null) as (ApiKeyRecord & Record<string, unknown>) | null;
    if (!record) return null;
    const copy: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(record)) {
      copy[name] =
        typeof value === 'string'
          ? fresh(value)
          : value instanceof Date
            ? new Date(value.getTime())
            : Array.isArray(value)
              ? value.map(fresh)
              : value && typeof value === 'object'
                ? { ...value }
                : value;
    }
    return copy as unknown as ApiKeyRecord;
  }
}

/**
 * Caches holding every key of `repository` (its `hashes`, looked up as fresh copies, as requests
 * would), built several times over for small sets like the repositories above; the heap they
 * hold per cached key, and the first cache.
 */
async function fillCaches(
  repository: ApiKeyRepository,
  hashes: readonly string[],
): Promise<{ bytesPerKey: number; entryBytes: number; cache: CachedApiKeyStore }> {
  const size = hashes.length;
  const copies = Math.max(1, Math.ceil(100_000 / size));
  const before = heapUsed();
  const caches = Array.from(
    { length: copies },
    () => new CachedApiKeyStore(repository, { max: size, ttlMs: 3_600_000 }),
  );
  const empty = heapUsed();
  for (const cache of caches) for (const hash of hashes) await cache.findByHash(fresh(hash));
  const filled = heapUsed();
  (globalThis as { keep?: unknown[] }).keep!.push(caches);
  return {
    bytesPerKey: (filled - before) / (size * copies),
    entryBytes: (filled - empty) / (size * copies),
    cache: caches[0]!,
  };
}

const sets: Sized[] = [];
for (const size of sizes) {
  const copies = Math.max(1, Math.ceil(100_000 / size));
  const hashes = Array.from({ length: size }, (_, i) => hasher.hash(benchKey(i)));
  const before = heapUsed();
  const repositories: InMemoryApiKeyStore[] = [];
  for (let copy = 0; copy < copies; copy++) {
    const repository = new InMemoryApiKeyStore();
    for (let i = 0; i < size; i++) repository.save(benchRecord(hasher, i));
    repositories.push(repository);
  }
  const savedBytesPerKey = (heapUsed() - before) / (size * copies);
  // Every key verified once, as a server whose clients use every key leaves the store; in key
  // order, so the sample's records lie as far apart in memory as their keys in the set.
  const authenticators = repositories.map(
    (repository) =>
      new ApiKeyAuthenticator(new ResolvedApiKeyOptions({ pepper: BENCH_PEPPER, repository }), hasher, repository),
  );
  for (const authenticator of authenticators) for (let i = 0; i < size; i++) await authenticator.verify(benchKey(i));
  const bytesPerKey = (heapUsed() - before) / (size * copies);
  const repository = repositories[0]!;
  const authenticator = authenticators[0]!;
  const sample = Array.from({ length: 1024 }, (_, i) =>
    benchKey(Math.floor(((i % SPREAD) * 7919 * size) / SPREAD) % size),
  );
  (globalThis as { keep?: unknown[] }).keep = [...((globalThis as { keep?: unknown[] }).keep ?? []), repositories];
  const map = (repository as unknown as { secrets: Map<string, unknown> }).secrets;
  const filled = withCache ? await fillCaches(new RowLikeStore(size), hashes) : undefined;
  sets.push({
    size,
    savedBytesPerKey,
    bytesPerKey,
    authenticator,
    sample,
    sampleHashes: sample.map((key) => hasher.hash(key)),
    map,
    cached: filled && {
      bytesPerKey: filled.bytesPerKey,
      entryBytes: filled.entryBytes,
      authenticator: new ApiKeyAuthenticator(
        new ResolvedApiKeyOptions({ pepper: BENCH_PEPPER, repository: filled.cache }),
        hasher,
        filled.cache,
      ),
    },
  });
}

/** Verifying one of the set's sample keys with `authenticator`. */
const verifying = (name: string, authenticator: ApiKeyAuthenticator, sample: readonly string[]): MicroCase => ({
  name,
  run: (i: number) => authenticator.verify(sample[i & 1023]!),
  async: true,
});
const cases: MicroCase[] = sets.flatMap((set) => [
  verifying(`${set.size.toLocaleString('en')} keys`, set.authenticator, set.sample),
  { name: `Map.get ${set.size}`, run: (i: number) => set.map.get(set.sampleHashes[i & 1023]!) },
  ...(set.cached ? [verifying(`cached ${set.size}`, set.cached.authenticator, set.sample)] : []),
]);
const perSet = withCache ? 3 : 2;
const results = await measureCases(
  cases,
  Number(process.env.BENCH_ROUNDS_MICRO ?? 9),
  Number(process.env.BENCH_ITERATIONS ?? 20_000),
);
const base = results.get(cases[0]!.name)!;
const mapBase = results.get(cases[1]!.name)!;
const cachedBase = withCache ? results.get(cases[2]!.name)! : [];
const rows = sets.map((set, i) => {
  const values = results.get(cases[perSet * i]!.name)!;
  const mapValues = results.get(cases[perSet * i + 1]!.name)!;
  return [
    cases[perSet * i]!.name,
    fixed(median(values), 2),
    `${fixed(100 * (median(values.map((v, r) => v / base[r]!)) - 1), 1, true)} %`,
    `${fixed(median(mapValues), 3)} (${fixed(median(mapValues.map((v, r) => v - mapBase[r]!)), 3, true)})`,
    fixed(set.savedBytesPerKey, 0),
    fixed(set.bytesPerKey, 0),
    `${fixed((100 * (set.bytesPerKey - sets[0]!.bytesPerKey)) / sets[0]!.bytesPerKey, 1, true)} %`,
  ];
});
process.stdout.write(
  'InMemoryApiKeyStore holding the key set (records with id, name, hash, two scopes, owner), every key ' +
    'verified once before the measurement (in key order), as a server whose clients use every key leaves it; ' +
    '`verify()` of keys spread over the whole set, CPU µs per call (median of interleaved rounds); ' +
    'heap bytes per key from `process.memoryUsage().heapUsed` after forced GC (sets under 100,000 keys built ' +
    'several times over), as saved and once every key was looked up (the store then keeps its verified form). ' +
    "The bare `Map.get` of a precomputed hash on the repository's own Map shows what " +
    'the memory hierarchy alone adds as the table outgrows the CPU caches.\n\n' +
    table(
      [
        'keys',
        'verify µs',
        'vs 10 keys (same round)',
        'bare Map.get µs (vs 10 keys)',
        'heap bytes/key as saved',
        'heap bytes/key, every key looked up',
        'vs 10 keys',
      ],
      rows,
    ) +
    '\n' +
    (withCache ? cacheSection() : ''),
);

function cacheSection(): string {
  return (
    '\nThe cache (`CachedApiKeyStore`, `max` = the number of keys) in front of a store returning a fresh ' +
    'record per lookup (fresh strings and dates, as a SQL driver does), every key looked up once so every key ' +
    'is cached; `verify()` through the cache (all hits). Heap per cached key, the store excluded: what filling ' +
    'adds (the entries: key string, principal, the entry with its expiry and mark) and in all (with what an empty ' +
    'cache already holds: at 10 keys, mostly the fixed cost of a cache instance).\n\n' +
    table(
      [
        'keys in the cache',
        'verify µs (cache hit)',
        'vs 10 keys (same round)',
        'bytes per entry (filling)',
        'vs 10 keys',
        'bytes per key in all',
      ],
      sets.map((set, i) => {
        const values = results.get(cases[perSet * i + 2]!.name)!;
        return [
          `${set.size.toLocaleString('en')} keys`,
          fixed(median(values), 2),
          `${fixed(100 * (median(values.map((v, r) => v / cachedBase[r]!)) - 1), 1, true)} %`,
          fixed(set.cached!.entryBytes, 0),
          `${fixed((100 * (set.cached!.entryBytes - sets[0]!.cached!.entryBytes)) / sets[0]!.cached!.entryBytes, 1, true)} %`,
          fixed(set.cached!.bytesPerKey, 0),
        ];
      }),
    ) +
    '\n'
  );
}
