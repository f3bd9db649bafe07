import type { ApiKeyRecord, ApiKeyStore } from 'nestjs-api-key';

const EPOCH = new Date(0);

/**
 * Writes the key set into `store` through its own `insert` (the store's real format), at most
 * `concurrency` inserts at a time.
 */
export async function seedStore(store: ApiKeyStore, records: readonly ApiKeyRecord[], concurrency = 8): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < records.length) {
      const record = records[next++]!;
      await store.insert(
        {
          id: record.id,
          name: record.name,
          scopes: [...record.scopes],
          ownerId: record.ownerId ?? null,
          metadata: { ...(record.metadata ?? {}) },
          createdAt: EPOCH,
          updatedAt: EPOCH,
          expiresAt: null,
          revokedAt: null,
          disabled: false,
          lastUsedAt: null,
          version: 1,
        },
        { hash: record.hash, keyId: record.id, createdAt: EPOCH, expiresAt: null },
      );
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
