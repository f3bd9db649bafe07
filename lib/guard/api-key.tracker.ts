import { principalOf } from './api-key.request.js';
import { clientAddressOf } from './client-address.js';

/**
 * A tracker for `@nestjs/throttler` (its `getTracker` option, or an override of
 * `ThrottlerGuard.getTracker`) that counts per API key: `key:<principal id>` once
 * {@link ApiKeyGuard} has authenticated the request, else `address:<client address>`
 * (see {@link clientAddressOf}). Never the key itself. ApiKeyGuard must run before
 * ThrottlerGuard (register it first) for the principal to be there.
 *
 * @example `ThrottlerModule.forRoot({ throttlers: [{ ttl: 60_000, limit: 100 }], getTracker: apiKeyTracker })`
 */
export function apiKeyTracker(request: Record<string, any>): string {
  const principal = principalOf(request);
  return principal ? `key:${principal.id}` : `address:${clientAddressOf(request)}`;
}
