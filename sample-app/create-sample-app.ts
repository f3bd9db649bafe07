import 'reflect-metadata';
import type { INestApplication, NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { AppModule } from './app.module.js';
import { setupSwagger } from './swagger.js';

/**
 * Creates the sample app on Express (default) or Fastify (`HTTP_ADAPTER=fastify`), with Swagger UI
 * at /docs, GraphQL at /graphql, on Express a socket.io gateway (namespace /catalogue), and the raw
 * body kept (for the leak receiver's signature check).
 */
export async function createSampleApp(
  adapter = process.env.HTTP_ADAPTER ?? 'express',
  options: NestApplicationOptions = {},
): Promise<INestApplication> {
  if (adapter !== 'express' && adapter !== 'fastify')
    throw new Error(`HTTP_ADAPTER must be "express" or "fastify", got "${adapter}"`);
  // rawBody: the leak receiver checks GitHub's signature over the exact bytes of the body.
  const settings = { rawBody: true, ...options };
  const app =
    adapter === 'fastify'
      ? await NestFactory.create(AppModule.forAdapter(adapter), new FastifyAdapter(), settings)
      : await NestFactory.create(AppModule.forAdapter(adapter), settings);
  // socket.io serves the gateway on the same port (on Express only: see AppModule.forAdapter).
  if (adapter === 'express') app.useWebSocketAdapter(new IoAdapter(app));
  setupSwagger(app);
  return app;
}
