// Measures how long a change made on one instance takes to reach another instance's cache
// through PostgreSQL LISTEN/NOTIFY: two CachedApiKeyStore, each over its own PostgresApiKeyStore
// (own pool, own listening connection), one schema. For each of N keys: instance B caches the
// key, instance A revokes it, and B is polled every 0.5 ms until its lookup returns the revoked
// record. Prints the distribution in ms. Run after `npm run build`:
//   node bench/scripts/store-propagation.mjs [N]   (TEST_POSTGRES_URL overrides the server)
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { CachedApiKeyStore } from 'nestjs-api-key';
import { createPostgresApiKeyStore } from 'nestjs-api-key/postgres';

const url = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const rounds = Number(process.argv[2] ?? 100);
const schema = `stores_bench_${process.pid}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const a = new CachedApiKeyStore(await createPostgresApiKeyStore({ connection: url, schema, migrate: true }), {
  ttlMs: 600_000,
});
const b = new CachedApiKeyStore(await createPostgresApiKeyStore({ connection: url, schema }), { ttlMs: 600_000 });
await sleep(200); // both listening
const samples = [];
try {
  for (let i = 0; i < rounds; i++) {
    const now = new Date();
    const hash = Buffer.alloc(32, i + 1).toString('base64url');
    const key = {
      id: `bench-${i}`,
      name: 'bench',
      scopes: [],
      ownerId: null,
      metadata: {},
      createdAt: now,
      updatedAt: now,
      expiresAt: null,
      revokedAt: null,
      disabled: false,
      lastUsedAt: null,
      version: 1,
    };
    await a.insert(key, { hash, keyId: key.id, createdAt: now, expiresAt: null });
    await sleep(20); // let the insert's own notification pass
    if ((await b.findByHash(hash))?.revokedAt !== null) throw new Error('B should see the live key');
    await a.update(key.id, 1, { revokedAt: new Date(), updatedAt: new Date() });
    const start = performance.now();
    while (!(await b.findByHash(hash))?.revokedAt) {
      if (performance.now() - start > 5000) throw new Error('not propagated within 5 s');
      await sleep(0.5);
    }
    samples.push(performance.now() - start);
  }
} finally {
  await a.close();
  await b.close();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
}
samples.sort((x, y) => x - y);
const at = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))].toFixed(2);
console.log(
  `revocations propagated: ${samples.length}; after A's write resolved, B refused it within ms: p50 ${at(0.5)}, p95 ${at(0.95)}, p99 ${at(0.99)}, max ${samples[samples.length - 1].toFixed(2)}`,
);
