import type { StaticApiKey } from 'nestjs-api-key';

/** Test keys (never real ones): readable names, valid shape, 16+ characters. */
export const READER: StaticApiKey = {
  name: 'reader',
  key: 'test-reader-key-0000000001',
  scopes: ['orders:read'],
  ownerId: 'team-a',
  metadata: { plan: 'free' },
};
export const WRITER: StaticApiKey = {
  name: 'writer',
  key: 'test-writer-key-0000000002',
  scopes: ['orders:read', 'orders:write'],
};
export const WILDCARD: StaticApiKey = { name: 'wildcard', key: 'test-wildcard-key-00000003', scopes: ['orders:*'] };
export const NO_SCOPES: StaticApiKey = { name: 'bare', key: 'test-bare-key-000000000004' };

/** All of the above. */
export const TEST_KEYS = [READER, WRITER, WILDCARD, NO_SCOPES];
