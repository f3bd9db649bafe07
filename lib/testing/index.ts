export { describeApiKeyStoreConformance } from './api-key-store.conformance.js';
export type { ApiKeyStoreHarness, ConformanceTestApi } from './api-key-store.conformance.js';
