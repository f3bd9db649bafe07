import type { ApiKeyRepository } from './api-key.repository.js';
import type { ApiKeyStore } from './api-key.store.js';

const STORE_METHODS = ['insert', 'findById', 'list', 'update', 'rotate', 'touch'] as const;

/**
 * Whether `repository` implements the whole {@link ApiKeyStore} contract, not just the lookup.
 * Checks the methods rather than `instanceof`, so a store from another copy of the package
 * (an ESM and a CommonJS copy side by side) is recognised too.
 */
export function isApiKeyStore(repository: ApiKeyRepository): repository is ApiKeyStore {
  return STORE_METHODS.every((method) => typeof (repository as Partial<ApiKeyStore>)[method] === 'function');
}
