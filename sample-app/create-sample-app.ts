import 'reflect-metadata';
import type { INestApplication, NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';

/** Creates the sample app on Express (default) or Fastify (`HTTP_ADAPTER=fastify`). */
export async function createSampleApp(
  adapter = process.env.HTTP_ADAPTER ?? 'express',
  options: NestApplicationOptions = {},
): Promise<INestApplication> {
  if (adapter === 'fastify') return NestFactory.create(AppModule, new FastifyAdapter(), options);
  if (adapter !== 'express') throw new Error(`HTTP_ADAPTER must be "express" or "fastify", got "${adapter}"`);
  return NestFactory.create(AppModule, options);
}
