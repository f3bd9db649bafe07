import { afterAll, beforeAll } from '@jest/globals';
import type { INestApplication, NestApplicationOptions } from '@nestjs/common';
import request from 'supertest';
import { createSampleApp } from '../../sample-app/create-sample-app.js';
import { tempDir } from './databases.js';

/**
 * Points the sample app at a fresh SQLite file (its `DATABASE_URL`) for the enclosing
 * `describe`, so tests never touch the developer's ./data/sample-app.db.
 */
export function useTemporarySampleDatabase(): void {
  const dir = tempDir();
  const previous = process.env.DATABASE_URL;
  beforeAll(() => {
    process.env.DATABASE_URL = `sqlite:${dir.path}/sample-app.db`;
  });
  afterAll(() => {
    if (previous === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = previous;
    dir.remove();
  });
}

/** Creates the sample app on `adapter`, initialised and ready for supertest. */
export async function startSampleApp(
  adapter: string,
  options: NestApplicationOptions = { logger: false },
): Promise<INestApplication> {
  const app = await createSampleApp(adapter, options);
  await app.init();
  if (adapter === 'fastify') await app.getHttpAdapter().getInstance().ready();
  return app;
}

/** Starts the sample app on `adapter` (on its own SQLite file) for the enclosing `describe`; returns a supertest factory. */
export function useSampleApp(adapter: string): { http: () => ReturnType<typeof request>; app: () => INestApplication } {
  useTemporarySampleDatabase();
  let app: INestApplication;
  beforeAll(async () => {
    app = await startSampleApp(adapter);
  });
  afterAll(() => app.close());
  return { http: () => request(app.getHttpServer()), app: () => app };
}
