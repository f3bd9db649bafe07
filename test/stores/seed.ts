import { ApiKeyHasher, ApiKeyRepository, type ApiKeyStore, type StoredApiKey } from 'nestjs-api-key';
import type { INestApplication } from '@nestjs/common';

let sequence = 0;

/** A plaintext test key of valid shape, unique in this process. */
export function newPlaintext(label: string): string {
  return `stores-${label}-${process.pid}-${Date.now().toString(36)}-${sequence++}`;
}

/** The app's repository (the cache when enabled), as the store it wraps. */
export function storeOf(app: INestApplication): ApiKeyStore {
  return app.get(ApiKeyRepository) as ApiKeyStore;
}

/** Inserts a key for `plaintext` through the app's repository, hashed with the app's hasher. */
export async function seedKey(
  app: INestApplication,
  plaintext: string,
  overrides: Partial<StoredApiKey> = {},
): Promise<StoredApiKey> {
  const now = new Date();
  const key: StoredApiKey = {
    id: `id-${plaintext}`,
    name: 'seeded',
    scopes: ['orders:read'],
    ownerId: 'team-a',
    metadata: {},
    createdAt: now,
    updatedAt: now,
    expiresAt: null,
    revokedAt: null,
    disabled: false,
    lastUsedAt: null,
    version: 1,
    ...overrides,
  };
  await storeOf(app).insert(key, {
    hash: app.get(ApiKeyHasher).hash(plaintext),
    keyId: key.id,
    createdAt: now,
    expiresAt: null,
  });
  return key;
}
