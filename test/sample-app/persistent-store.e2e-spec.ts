import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConsoleLogger } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import request from 'supertest';
import { runCli } from 'nestjs-api-key/cli';
import { createSampleApp } from '../../sample-app/create-sample-app.js';
import { POSTGRES_URL, dropSchema, tempDir, uniqueSchema } from '../support/databases.js';
import { startSampleApp, useTemporarySampleDatabase } from '../support/sample-app.js';

/** Keeps what the app logs, so the test can read the key the sample shows once. */
class CapturingLogger extends ConsoleLogger {
  readonly lines: string[] = [];
  protected override printMessages(messages: unknown[]): void {
    this.lines.push(...messages.map(String));
  }
}

/** Starts the sample app, returning it with the admin key it printed on first start (if any). */
async function start(adapter: string) {
  const logger = new CapturingLogger();
  const app = await startSampleApp(adapter, { logger });
  const firstKey = logger.lines.join('\n').match(/copy it now: (sample_live_\w+)/)?.[1];
  return { app, firstKey, logs: logger.lines };
}

describe.each(['express', 'fastify'])('the sample app on SQLite (the default) on %s', (adapter) => {
  useTemporarySampleDatabase();

  it('creates and shows an admin key on first start, keeps keys across restarts, and creates none on the second start', async () => {
    const first = await start(adapter);
    expect(first.firstKey).toBeDefined();
    const created = await request(first.app.getHttpServer())
      .post('/admin/keys')
      .set('X-API-Key', first.firstKey!)
      .send({ name: 'partner', scopes: ['catalogue:read'] })
      .expect(201);
    await first.app.close();

    const second = await start(adapter);
    try {
      expect(second.firstKey).toBeUndefined();
      const listed = await request(second.app.getHttpServer())
        .get('/admin/keys')
        .set('X-API-Key', first.firstKey!)
        .expect(200);
      expect(listed.body.map((key: { name: string }) => key.name).sort()).toEqual(['first-admin', 'partner']);
      await request(second.app.getHttpServer()).get('/me').set('X-API-Key', created.body.key).expect(200);
    } finally {
      await second.app.close();
    }
  });
});

describe('the sample app on PostgreSQL (DATABASE_URL=postgres://…)', () => {
  const schema = uniqueSchema();
  const previous = process.env.DATABASE_URL;
  beforeAll(async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`CREATE SCHEMA "${schema}"`).finally(() => client.end());
    process.env.DATABASE_URL = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  });
  afterAll(async () => {
    if (previous === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = previous;
    await dropSchema(schema);
  });

  it('migrates the tables, shows a first admin key, and serves keys created through the admin API', async () => {
    const { app, firstKey } = await start('fastify');
    try {
      expect(firstKey).toBeDefined();
      const created = await request(app.getHttpServer())
        .post('/admin/keys')
        .set('X-API-Key', firstKey!)
        .send({ name: 'pg-partner', scopes: ['catalogue:read'] })
        .expect(201);
      await request(app.getHttpServer()).get('/me').set('X-API-Key', created.body.key).expect(200);
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      const rows = await client
        .query(`SELECT name FROM "${schema}".api_keys ORDER BY name`)
        .finally(() => client.end());
      expect(rows.rows.map((row) => row.name)).toEqual(['first-admin', 'pg-partner']);
    } finally {
      await app.close();
    }
  });
});

describe("the sample app and the CLI on one DATABASE_URL, the CLI's way", () => {
  const dir = tempDir();
  const saved = { cwd: process.cwd(), url: process.env.DATABASE_URL, pepper: process.env.API_KEY_PEPPER };
  beforeAll(() => {
    process.chdir(dir.path); // relative paths in DATABASE_URL resolve here, as they would in the app's directory
    process.env.API_KEY_PEPPER = 'sample-app-store-url-pepper-01';
  });
  afterAll(() => {
    process.chdir(saved.cwd);
    for (const [name, value] of [
      ['DATABASE_URL', saved.url],
      ['API_KEY_PEPPER', saved.pepper],
    ] as const)
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    dir.remove();
  });

  it('starts on sqlite:./somewhere/x.db in a fresh directory, and serves a key the CLI created in that file', async () => {
    process.env.DATABASE_URL = 'sqlite:./somewhere/x.db';
    const { app, firstKey } = await start('express');
    try {
      expect(firstKey).toBeDefined();
      expect(existsSync(join(dir.path, 'somewhere', 'x.db'))).toBe(true);
      const stdout: string[] = [];
      const code = await runCli(['create', '--name', 'from-cli', '--scope', 'catalogue:read', '--json'], {
        env: { DATABASE_URL: process.env.DATABASE_URL, API_KEY_PEPPER: process.env.API_KEY_PEPPER },
        stdout: (text) => stdout.push(text),
        stderr: () => undefined,
      });
      expect(code).toBe(0);
      const { key } = JSON.parse(stdout.join(''));
      await request(app.getHttpServer()).get('/me').set('X-API-Key', key).expect(200);
    } finally {
      await app.close();
    }
  });

  it('starts on memory:', async () => {
    process.env.DATABASE_URL = 'memory:';
    const { app, firstKey } = await start('fastify');
    try {
      await request(app.getHttpServer()).get('/me').set('X-API-Key', firstKey!).expect(200);
    } finally {
      await app.close();
    }
  });

  it('refuses to start on a URL with an unknown scheme, naming the scheme only', async () => {
    process.env.DATABASE_URL = 'mysql://admin:s3cret@db/keys';
    const starting = createSampleApp('express', { logger: false, abortOnError: false });
    await expect(starting).rejects.toThrow('unknown store URL scheme: "mysql:"');
    await expect(starting).rejects.not.toThrow('s3cret');
  });
});
