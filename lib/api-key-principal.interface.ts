/**
 * The authenticated identity behind a request: what the guard puts on the request and what
 * `@ApiKey()` gives a handler. It never carries the key or its hash.
 */
export interface ApiKeyPrincipal {
  /** Public identifier of the key. */
  readonly id: string;
  /** Human-readable name of the key. */
  readonly name: string;
  /** Scopes the key grants. */
  readonly scopes: readonly string[];
  /** Owner of the key, or `null`. */
  readonly ownerId: string | null;
  /** Application data stored with the key (empty object when none). */
  readonly metadata: Readonly<Record<string, unknown>>;
}
