import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';

/** Why a key was refused. For logs, events and admin tools; never sent to the client. */
export type ApiKeyFailureReason = 'malformed' | 'not_found' | 'expired' | 'revoked' | 'disabled';

/**
 * A valid key that stops working soon: `rotated` for a rotated-out secret in its grace period,
 * `expiring` for a key within the `expiryWarnings` window of its `expiresAt`.
 */
export interface ApiKeyExpiryNotice {
  readonly reason: 'rotated' | 'expiring';
  /** The instant the presented key stops working, in epoch ms. */
  readonly stopsAt: number;
}

/** The outcome of verifying a presented key. */
export type ApiKeyVerification =
  | {
      readonly valid: true;
      readonly principal: ApiKeyPrincipal;
      /** Set when the key stops working soon (and `expiryWarnings` is on). */
      readonly expiry?: ApiKeyExpiryNotice;
    }
  | { readonly valid: false; readonly reason: ApiKeyFailureReason; readonly keyId?: string };
