import { hash } from 'node:crypto';
import { ApiKeyHasher, type ApiKeyRecord } from 'nestjs-api-key';

/** The pepper every target hashes with (a benchmark value, not a secret). */
export const BENCH_PEPPER = 'bench-pepper-not-a-secret-0123456789';

/** The scope every guarded route requires and every benchmark key holds. */
export const BENCH_SCOPE = 'bench:read';

/** The key set every target serves, so targets differ only in how they check a key. */
export interface BenchKeySet {
  readonly hasher: ApiKeyHasher;
  readonly records: ApiKeyRecord[];
  /** The key the load generator presents (it is in `records`). */
  readonly validKey: string;
}

/** The i-th benchmark key: deterministic, 43 base64url characters after a prefix. */
export function benchKey(i: number): string {
  return `bk_${hash('sha256', `bench-key-${i}`, 'base64url')}`;
}

/** One key's record as a store would return it: own scopes array, owner and metadata. */
export function benchRecord(hasher: ApiKeyHasher, i: number): ApiKeyRecord {
  return {
    id: `key-${i}`,
    name: `bench key ${i}`,
    hash: hasher.hash(benchKey(i)),
    scopes: [BENCH_SCOPE, 'other:write'],
    ownerId: `owner-${i % 100}`,
    metadata: null,
  };
}

/** How many keys every HTTP target serves (`BENCH_KEYS`, default 10,000). */
export const BENCH_KEY_COUNT = Number(process.env.BENCH_KEYS ?? 10_000);

/** The key the load generators present: the middle one of the key set. */
export const BENCH_VALID_KEY = benchKey(Math.floor(BENCH_KEY_COUNT / 2));

/** The {@link BENCH_KEY_COUNT} keys, hashed under {@link BENCH_PEPPER}. */
export function benchKeySet(): BenchKeySet {
  const hasher = new ApiKeyHasher([BENCH_PEPPER]);
  const records = Array.from({ length: BENCH_KEY_COUNT }, (_, i) => benchRecord(hasher, i));
  return { hasher, records, validKey: BENCH_VALID_KEY };
}
