import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The PostgreSQL server the suites use (CI starts it; see .ci/run). */
export const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let counter = 0;

/** A schema name unique to this process and call, under the stores area's prefix. */
export function uniqueSchema(): string {
  return `stores_test_${process.pid}_${Date.now().toString(36)}_${counter++}`;
}

/** Drops a schema made by {@link uniqueSchema} with everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** A fresh temporary directory for SQLite files, and its removal. */
export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'nestjs-api-key-stores-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
