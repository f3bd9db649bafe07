import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import type { Server } from 'node:http';
import type { Platform } from './platforms.js';
import type { LeakRecorder } from './leak-recorder.js';

/** A started app, listening on a loopback port, and its base URL for supertest or raw clients. */
export interface SecurityApp {
  readonly app: INestApplication;
  readonly url: string;
  readonly port: number;
}

/**
 * Compiles `metadata`, starts it on `platform` with the recorder's logger, records every
 * request and response on the recorder and listens on a free loopback port (never a fixed one).
 * `override` can replace providers (for instance the hasher, to count calls).
 */
export async function startSecurityApp(
  metadata: ModuleMetadata,
  platform: Platform,
  leaks: LeakRecorder,
  override: (builder: TestingModuleBuilder) => TestingModuleBuilder = (builder) => builder,
  configure: (app: INestApplication) => void = () => undefined,
): Promise<SecurityApp> {
  const moduleRef = await override(Test.createTestingModule(metadata)).compile();
  const app = moduleRef.createNestApplication(platform.createAdapter(), { logger: leaks.logger });
  configure(app);
  leaks.watch(app.getHttpServer() as Server);
  // A deep accept queue, so a burst of a thousand connections is not slowed by SYN retries.
  const listen = app.listen.bind(app) as unknown as (...args: unknown[]) => Promise<unknown>;
  if (platform.name === 'fastify') await listen({ port: 0, host: '127.0.0.1', backlog: 2048 });
  else await listen(0, '127.0.0.1', 2048);
  const { port } = (app.getHttpServer() as Server).address() as { port: number };
  return { app, url: `http://127.0.0.1:${port}`, port };
}
