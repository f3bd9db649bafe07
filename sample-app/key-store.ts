import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ApiKeyStore } from 'nestjs-api-key';
import { PostgresApiKeyStore } from 'nestjs-api-key/postgres';
import { SqliteApiKeyStore } from 'nestjs-api-key/sqlite';

/** Where the sample keeps its keys when `DATABASE_URL` is not set: a SQLite file, nothing to install. */
export const DEFAULT_DATABASE_URL = 'sqlite:./data/sample-app.db';

/**
 * The key store behind `url`: `sqlite:<file>` (the default, persisted across restarts) or
 * `postgres://…` (several instances share it). The sample migrates at startup (`migrate: true`);
 * a production app would rather run `npx nestjs-api-key migrate` once per release.
 */
export function sampleKeyStore(url: string = DEFAULT_DATABASE_URL): ApiKeyStore {
  if (/^postgres(ql)?:\/\//i.test(url)) return new PostgresApiKeyStore({ connection: url, migrate: true });
  if (!url.startsWith('sqlite:'))
    throw new Error(`DATABASE_URL must start with sqlite: or postgres://, got "${url.split(':')[0]}:…"`);
  const file = url.slice('sqlite:'.length).replace(/^\/\//, '');
  mkdirSync(dirname(file), { recursive: true });
  return new SqliteApiKeyStore({ database: file, migrate: true });
}
