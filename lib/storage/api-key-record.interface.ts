/**
 * One stored API key, as a repository returns it.
 *
 * The secret itself is never stored: `hash` is the keyed hash that {@link ApiKeyHasher}
 * computes from it. Repositories look records up by that hash.
 */
export interface ApiKeyRecord {
  /** Stable public identifier, safe to log and show in a dashboard. */
  readonly id: string;
  /** Human-readable name ("billing-service"). */
  readonly name: string;
  /** Keyed hash of the secret (base64url HMAC-SHA-256), as produced by {@link ApiKeyHasher.hash}. */
  readonly hash: string;
  /** Scopes the key grants. A scope ending in `:*` grants its whole namespace. */
  readonly scopes: readonly string[];
  /** Owner of the key (a user, team or service id), if any. */
  readonly ownerId?: string | null;
  /** Free-form data the application keeps with the key (plan, tenant, ...). */
  readonly metadata?: Readonly<Record<string, unknown>> | null;
  /** The key stops working at this instant (inclusive). */
  readonly expiresAt?: Date | null;
  /** The key was revoked at this instant and never works again. */
  readonly revokedAt?: Date | null;
  /** A disabled key is refused until it is enabled again. */
  readonly disabled?: boolean;
  /** This secret alone stops working at this instant (a rotated-out secret's grace end). */
  readonly secretExpiresAt?: Date | null;
  /**
   * Client networks the key may be used from (CIDR, IPv4 or IPv6: `10.0.0.0/8`, `2001:db8::/32`);
   * `null`, absent or empty: any network. Enforced by the guard after the key is verified.
   */
  readonly allowedNetworks?: readonly string[] | null;
  /**
   * Browser origins the key may be used from (`https://app.example.com`), compared with the
   * request's `Origin` header; `null`, absent or empty: any origin.
   */
  readonly allowedOrigins?: readonly string[] | null;
}
