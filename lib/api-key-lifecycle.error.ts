/**
 * Why an {@link ApiKeyService} operation failed:
 * - `not_found`: no key has this id;
 * - `conflict`: the key changed concurrently (another rotation won, or updates kept racing);
 * - `revoked`: the key is revoked, and a revoked key cannot be changed, enabled or rotated;
 * - `invalid_input`: an argument is not valid (the message says which);
 * - `owner_limit_reached`: the owner already holds `maxActiveKeysPerOwner` active keys (revoke one, or let one
 *   expire, before creating another);
 * - `store_required`: the configured repository only looks keys up; management needs an `ApiKeyStore`;
 * - `store_failed`: a store write threw or rejected (`cause` is its error); it may still have been
 *   applied (a lost acknowledgement), so read the key before retrying.
 */
export type ApiKeyLifecycleErrorCode =
  'not_found' | 'conflict' | 'revoked' | 'invalid_input' | 'owner_limit_reached' | 'store_required' | 'store_failed';

/** Thrown by {@link ApiKeyService}'s management methods; `code` says why, for admin APIs and the CLI. */
export class ApiKeyLifecycleError extends Error {
  /**
   * @param code the machine-readable cause
   * @param message what happened, naming the key id when there is one (never a key)
   * @param options `cause`: the underlying error, if any
   */
  constructor(
    readonly code: ApiKeyLifecycleErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`nestjs-api-key: ${message}`, options);
    this.name = 'ApiKeyLifecycleError';
  }
}
