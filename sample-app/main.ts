import 'reflect-metadata';
import { Logger, type INestApplication, type NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';
import { setupSwagger } from './swagger.js';

/** Creates the sample app on Express (default) or Fastify (`HTTP_ADAPTER=fastify`), with Swagger UI at /docs. */
export async function createSampleApp(
  adapter = process.env.HTTP_ADAPTER ?? 'express',
  options: NestApplicationOptions = {},
): Promise<INestApplication> {
  if (adapter !== 'express' && adapter !== 'fastify') throw new Error(`HTTP_ADAPTER must be "express" or "fastify", got "${adapter}"`);
  const app = adapter === 'fastify' ? await NestFactory.create(AppModule, new FastifyAdapter(), options) : await NestFactory.create(AppModule, options);
  setupSwagger(app);
  return app;
}

async function bootstrap(): Promise<void> {
  const app = await createSampleApp();
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, process.env.HOST ?? '127.0.0.1');
  new Logger('SampleApp').log(`Listening on ${await app.getUrl()} (${process.env.HTTP_ADAPTER ?? 'express'}), Swagger UI at /docs; demo keys are in the README`);
}

if (import.meta.url === `file://${process.argv[1]}`) await bootstrap();
