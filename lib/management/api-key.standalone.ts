import type { ApiKeyModuleOptions } from '../api-key-module-options.interface.js';
import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import { ApiKeyAuthenticator } from '../verification/api-key.authenticator.js';
import { ApiKeyClock, SystemApiKeyClock } from '../verification/api-key.clock.js';
import type { ApiKeyEventSink } from '../api-key.events.js';
import { ApiKeyHasher } from '../keys/api-key.hasher.js';
import { ApiKeyService } from './api-key.service.js';
import { ApiKeyLastUsedRecorder } from '../verification/api-key-last-used.recorder.js';
import type { ApiKeyRepository } from '../storage/api-key.repository.js';

/** Options of {@link createStandaloneApiKeyService}: the module's, with instances only. */
export interface StandaloneApiKeyOptions extends Omit<ApiKeyModuleOptions, 'repository' | 'events'> {
  /** The store (or lookup-only repository) to use. */
  readonly repository: ApiKeyRepository;
  /** Where events go. Required: outside Nest there is no event emitter or logger to default to. */
  readonly events: ApiKeyEventSink;
  /** The clock. Default: the system's. */
  readonly clock?: ApiKeyClock;
}

/** What {@link createStandaloneApiKeyService} builds. */
export interface StandaloneApiKeyServices {
  readonly service: ApiKeyService;
  readonly authenticator: ApiKeyAuthenticator;
  /** Call `flush()` before the process exits, or last-used times recorded since the last write are lost. */
  readonly usage: ApiKeyLastUsedRecorder;
}

/**
 * Builds {@link ApiKeyService} and the authenticator without a Nest application, wired as
 * `ApiKeyModule` wires them: for scripts, jobs and the CLI. Options are validated the same way
 * (throws {@link ApiKeyConfigurationError}).
 */
export function createStandaloneApiKeyService(options: StandaloneApiKeyOptions): StandaloneApiKeyServices {
  if (!options?.repository || !options.events)
    throw new ApiKeyConfigurationError('a standalone ApiKeyService needs a repository and an events sink instance');
  const { clock = new SystemApiKeyClock(), events, ...moduleOptions } = options;
  const resolved = new ResolvedApiKeyOptions(moduleOptions);
  const hasher = new ApiKeyHasher(resolved.peppers);
  const usage = new ApiKeyLastUsedRecorder(resolved, options.repository);
  const authenticator = new ApiKeyAuthenticator(resolved, hasher, options.repository, clock, events, usage);
  return {
    service: new ApiKeyService(resolved, hasher, options.repository, authenticator, clock, events),
    authenticator,
    usage,
  };
}
