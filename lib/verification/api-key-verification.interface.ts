import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';

/** Why a key was refused. For logs, events and admin tools; never sent to the client. */
export type ApiKeyFailureReason = 'malformed' | 'not_found' | 'expired' | 'revoked' | 'disabled';

/** The outcome of verifying a presented key. */
export type ApiKeyVerification =
  | { readonly valid: true; readonly principal: ApiKeyPrincipal }
  | { readonly valid: false; readonly reason: ApiKeyFailureReason; readonly keyId?: string };
