import type { Logger } from '@nestjs/common';
import { ApiKeyConfigurationError } from './api-key-configuration.error.js';
import type { ResolvedApiKeyOptions } from './resolved-api-key.options.js';
import type { ApiKeyRepository } from './storage/api-key.repository.js';
import { InMemoryApiKeyStore } from './storage/in-memory-api-key.store.js';

/**
 * Checks a valid configuration for what is unlikely to be meant, once, when the module starts:
 * - no `keys` and no `repository`: nothing can admit a request until keys are created at run time
 *   (in memory, lost on restart), so it logs a warning;
 * - no `pepper` while `store` keeps hashes outside the process (any store but the in-memory one):
 *   it logs a warning, or throws {@link ApiKeyConfigurationError} when `NODE_ENV` is `production`.
 *   `pepper: false` says plain SHA-256 is intended and silences both.
 *
 * @param store the repository the module built, before any cache is put in front of it
 */
export function checkStartupConfiguration(
  options: ResolvedApiKeyOptions,
  store: ApiKeyRepository,
  logger: Pick<Logger, 'warn'>,
): void {
  if (options.keys.length === 0 && options.repository === undefined) {
    logger.warn(
      'No keys and no repository are configured: every request is refused until keys are created with ' +
        'ApiKeyService (kept in memory, lost on restart). Set `keys` or `repository` in the ApiKeyModule options.',
    );
  }
  if (options.peppers.length > 0 || options.pepperDisabled || store instanceof InMemoryApiKeyStore) return;
  const risk =
    `keys in ${store.constructor.name} are stored under plain SHA-256 hashes, which a leaked store lets an ` +
    'attacker check guessed keys against. Set `pepper` to a secret of at least 16 characters kept out of the store, ' +
    'or `pepper: false` to accept plain hashes';
  if (process.env.NODE_ENV === 'production') {
    throw new ApiKeyConfigurationError(`no pepper is set and NODE_ENV is "production": ${risk}`);
  }
  logger.warn(`No pepper is set: ${risk}.`);
}
