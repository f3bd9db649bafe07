import type { INestApplication, LoggerService, ModuleMetadata } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';

/** The HTTP platforms every e2e suite runs on, for `describe.each(platforms)`. */
export const platforms = [
  { name: 'express', createAdapter: () => new ExpressAdapter() },
  { name: 'fastify', createAdapter: () => new FastifyAdapter() },
] as const;

/** One entry of {@link platforms}. */
export type Platform = (typeof platforms)[number];

/** Compiles a test module and starts it on the given platform, ready for supertest; silent unless given a `logger`. */
export async function startApp(
  metadata: ModuleMetadata,
  platform: Platform,
  logger: LoggerService | false = false,
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app = moduleRef.createNestApplication(platform.createAdapter(), { logger });
  await app.init();
  if (platform.name === 'fastify') await app.getHttpAdapter().getInstance().ready();
  return app;
}
