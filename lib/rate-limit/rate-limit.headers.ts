/** One limit as the `RateLimit-Policy` and `RateLimit` headers describe it. */
export interface RateLimitPolicyState {
  /** Policy name (a plan, `default`, `key`, a route's budget, `<plan>-quota` or `address`). */
  readonly name: string;
  /** Points per window (`q`). */
  readonly points: number;
  /** Window length in seconds (`w`). */
  readonly window: number;
  /** Points left in the current window (`r`). */
  readonly remaining: number;
  /** Seconds until the window ends (`t`). */
  readonly reset: number;
}

/**
 * The `RateLimit-Policy` and `RateLimit` header values for `policies`, in the syntax of
 * draft-ietf-httpapi-ratelimit-headers-10 (Structured Field lists):
 * `RateLimit-Policy: "pro";q=600;w=60` and `RateLimit: "pro";r=599;t=60`.
 */
export function rateLimitHeaders(policies: readonly RateLimitPolicyState[]): Record<string, string> {
  return {
    'RateLimit-Policy': policies.map((p) => `"${p.name}";q=${p.points};w=${p.window}`).join(', '),
    RateLimit: policies.map((p) => `"${p.name}";r=${p.remaining};t=${p.reset}`).join(', '),
  };
}
