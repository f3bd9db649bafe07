// One benchmark server: `node server.js <target> <express|fastify>`, started by the runner
// with an IPC channel. It listens on 127.0.0.1, port 0, reports { port }, then answers each
// 'stats' message with its CPU time (process.cpuUsage, µs) and the target's counters.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { AddressInfo } from 'node:net';
import { benchKeySet } from './keys.js';
import { loadTarget } from './targets.js';

const [name, platform] = process.argv.slice(2);
const target = await loadTarget(name!);
const adapter = platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
const app = await NestFactory.create(await target.module(benchKeySet()), adapter, { logger: ['error'] });
await app.listen(0, '127.0.0.1');
const { port } = app.getHttpServer().address() as AddressInfo;
process.on('message', (message: { type: string }) => {
  if (message.type === 'stats') {
    const cpu = process.cpuUsage();
    process.send!({ type: 'stats', cpuMicros: cpu.user + cpu.system, ...target.stats?.() });
  }
});
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  try {
    await app.close();
    await target.cleanup?.();
  } finally {
    process.exit(0);
  }
};
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
process.send!({ type: 'ready', port });
