// One server for bench/rate-limit.sh: Nest on Fastify, one key, GET /x guarded by ApiKeyGuard.
// MODE=none (guard only), memory or redis (rate limit with a budget that is never exhausted), or
// memory-keyonly / redis-keyonly (the same without the per-address check).
// Prints its port; GET /cpu answers the process's CPU time (µs) and the requests served so far.
require('reflect-metadata');
const { Controller, Get, Module, UseGuards } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { FastifyAdapter } = require('@nestjs/platform-fastify');
const { ApiKeyModule, ApiKeyGuard, Public } = require('nestjs-api-key');
const { ApiKeyRateLimitModule } = require('nestjs-api-key/rate-limit');
const { Redis } = require('ioredis');

const [mode, variant] = (process.env.MODE ?? 'none').split('-');
let served = 0;
class C {
  x() { served++; return { ok: true }; }
  cpu() { const { user, system } = process.cpuUsage(); return { cpu: user + system, served }; }
}
Get('x')(C.prototype, 'x', Object.getOwnPropertyDescriptor(C.prototype, 'x'));
UseGuards(ApiKeyGuard)(C.prototype, 'x', Object.getOwnPropertyDescriptor(C.prototype, 'x'));
Get('cpu')(C.prototype, 'cpu', Object.getOwnPropertyDescriptor(C.prototype, 'cpu'));
Public()(C.prototype, 'cpu', Object.getOwnPropertyDescriptor(C.prototype, 'cpu'));
Controller()(C);

const imports = [ApiKeyModule.forRoot({ isGlobal: true, keys: [{ name: 'bench', key: 'bench-key-00000000000001' }] })];
let redis;
if (mode !== 'none') {
  redis = mode === 'redis' ? new Redis({ host: '127.0.0.1', port: 6379 }) : undefined;
  const perAddress = variant === 'keyonly' ? false : undefined;
  imports.push(ApiKeyRateLimitModule.forRoot({ limit: { points: 1e12, duration: 600 }, perAddress, redis, keyPrefix: `rl_bench:${process.pid}:` }));
}
class M {}
Module({ imports, controllers: [C] })(M);

(async () => {
  const app = await NestFactory.create(M, new FastifyAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  console.log(new URL(await app.getUrl()).port);
  process.on('SIGTERM', async () => {
    if (redis) {
      const keys = await redis.keys(`rl_bench:${process.pid}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
    await app.close();
    process.exit(0);
  });
})();
