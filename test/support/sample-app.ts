import { afterAll, beforeAll } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { createSampleApp } from '../../sample-app/create-sample-app.js';

/** Starts the sample app on `adapter` for the enclosing `describe`; returns a supertest factory. */
export function useSampleApp(adapter: string): { http: () => ReturnType<typeof request>; app: () => INestApplication } {
  let app: INestApplication;
  beforeAll(async () => {
    app = await createSampleApp(adapter, { logger: false });
    await app.init();
    if (adapter === 'fastify') await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(() => app.close());
  return { http: () => request(app.getHttpServer()), app: () => app };
}
