import type { Type } from '@nestjs/common';
import type { ApiKeyLeakAction } from '../api-key.events.js';
import type { SecretScanningPublicKeys } from './secret-scanning-public-keys.js';

/** Options of {@link ApiKeyLeaksModule}. */
export interface ApiKeyLeaksOptions {
  /**
   * What to do to a stored key reported leaked: `revoke` it (the default), `disable` it (an
   * administrator can enable it again), or `notify` only (the `api-key.leaked` event).
   */
  readonly action?: ApiKeyLeakAction;
  /**
   * Where the signing keys come from: a class (built through dependency injection) or an
   * instance. Default {@link GitHubSecretScanningPublicKeys} with its defaults (github.com).
   */
  readonly publicKeys?: SecretScanningPublicKeys | Type<SecretScanningPublicKeys>;
  /** Largest report body accepted, in bytes; a larger one is answered 413 unread. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /**
   * How long a report's body is remembered to refuse a replay of it, in ms. Default 1 hour.
   * Only signed, successfully handled reports are remembered.
   */
  readonly replayWindowMs?: number;
  /**
   * How many reports are remembered at most (the oldest is forgotten first): about 100 bytes
   * each. Default 10,000.
   */
  readonly replayMemory?: number;
}
