export { ApiKeyLeaksModule } from './leaks.module.js';
export { API_KEY_LEAKS_OPTIONS, DEFAULT_LEAKS_PATH } from './leaks.module-definition.js';
export type { ApiKeyLeaksOptions } from './leaks-options.interface.js';
export type { ApiKeyLeaksExtras } from './leaks-options.js';
export { ApiKeyLeakReceiver } from './api-key-leak.receiver.js';
export type { LeakReportRequest, SecretScanningFeedback, SecretScanningMatch } from './api-key-leak.receiver.js';
export {
  GITHUB_SECRET_SCANNING_KEYS_URL,
  GitHubSecretScanningPublicKeys,
  SecretScanningPublicKeys,
  StaticSecretScanningPublicKeys,
} from './secret-scanning-public-keys.js';
export type { GitHubSecretScanningPublicKeysOptions, SecretScanningPublicKey } from './secret-scanning-public-keys.js';
export { secretScanningRegistration } from './secret-scanning-registration.js';
export type { SecretScanningRegistration } from './secret-scanning-registration.js';
export { scanForApiKeys } from './api-key.scan.js';
export type { ApiKeyFinding, ApiKeyFindingStatus, ApiKeyScanOptions, ApiKeyScanResult } from './api-key.scan.js';
