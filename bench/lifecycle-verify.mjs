// CPU cost of ApiKeyAuthenticator.verify for a generated key (format + checksum check, HMAC,
// in-memory store lookup, event, last-used record) against a static key of any format (HMAC and
// a Map lookup only). Both run interleaved in one process so machine speed swings hit both.
// Run: npm run build && node bench/lifecycle-verify.mjs
import 'reflect-metadata';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { ApiKeyEventSink, createStandaloneApiKeyService, InMemoryApiKeyStore, ResolvedApiKeyOptions } from '../dist/esm/index.js';

const STATIC_KEY = 'static-key-of-any-format-0001';

/** A sink like the default one with EventEmitter2 present (no listeners): every event is built and emitted. */
class EmitterSink extends ApiKeyEventSink {
  emitter = new EventEmitter2({ wildcard: true });
  emit(event) {
    this.emitter.emit(event.type, event);
  }
}

async function setup() {
  const sink = new EmitterSink();
  const repository = new InMemoryApiKeyStore();
  const { service, authenticator, usage } = createStandaloneApiKeyService({
    repository,
    events: sink,
    pepper: 'bench-pepper-000000000001',
    keys: [{ name: 'static', key: STATIC_KEY }],
  });
  const options = new ResolvedApiKeyOptions({});
  for (let i = 0; i < 10_000; i++) await service.create({ name: `k${i}` });
  const { key } = await service.create({ name: 'measured' });
  return { authenticator, key, options, sink, usage };
}

async function cpuPerCall(verify, key, n) {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await verify(key);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const { authenticator, key, options, sink, usage } = await setup();
const verify = (k) => authenticator.verify(k);
const rounds = { generated: [], static: [] };
for (let round = 0; round < 10; round++) {
  rounds.generated.push(await cpuPerCall(verify, key, 20_000));
  rounds.static.push(await cpuPerCall(verify, STATIC_KEY, 20_000));
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log(`verify, generated key in the store, events + last-used: ${median(rounds.generated).toFixed(2)} µs CPU (median of 10 rounds)`);
console.log(`verify, static key:                                      ${median(rounds.static).toFixed(2)} µs CPU`);
console.log(`difference:                                              ${(median(rounds.generated) - median(rounds.static)).toFixed(2)} µs`);

// What this area adds to a generated key's verification, alone: format + checksum check,
// building and emitting the success event (EventEmitter2, no listener), recording last use.
const parts = [];
for (let round = 0; round < 10; round++) {
  const start = process.cpuUsage();
  for (let i = 0; i < 100_000; i++) {
    const now = new Date();
    options.format.parse(key);
    sink.emit({ type: 'api-key.authenticated', keyId: 'measured', at: now });
    usage.record('measured', now);
  }
  const used = process.cpuUsage(start);
  parts.push((used.user + used.system) / 100_000);
}
console.log(`checksum + event + last-used alone:                      ${median(parts).toFixed(2)} µs CPU`);
