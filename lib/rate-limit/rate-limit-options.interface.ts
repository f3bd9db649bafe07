import type { Cluster, Redis } from 'ioredis';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';

/** A rate limit: at most `points` points (requests, or their cost) per window of `durationMs`. */
export interface RateLimitWindow {
  /** Points allowed per window; a positive integer. */
  points: number;
  /**
   * Window length in ms, a whole number of seconds (`60_000` for a minute): counters and the
   * `RateLimit` headers count in seconds. The window starts with the first request.
   */
  durationMs: number;
}

/** Calendar period (UTC) after which a quota refills. */
export type QuotaPeriod = 'hour' | 'day' | 'month';

/** A quota: at most `points` points per calendar `period` (UTC), refilled when the period ends. */
export interface QuotaSettings {
  /** Points allowed per period; a positive integer. */
  points: number;
  /** `'hour'`, `'day'` or `'month'`, aligned on UTC calendar boundaries. */
  period: QuotaPeriod;
}

/**
 * Whose requests one counter counts: each key's own (`'key'`), or all the keys of the key's
 * owner together (`'owner'`, so an owner cannot multiply its budget by creating keys; a key
 * without an owner is counted on its own).
 */
export type RateLimitCountBy = 'key' | 'owner';

/** What a key may do: a rate limit and a quota. An omitted field takes the module's; `false` means none. */
export interface RateLimitPlan {
  /** Rate limit of every key on the plan. */
  limit?: RateLimitWindow | false;
  /** Quota of every key on the plan. */
  quota?: QuotaSettings | false;
  /** Whether the plan's limit, quota and route limits count per key or per owner. */
  countBy?: RateLimitCountBy;
}

/** What to do when the counters' store (Redis) fails or does not answer within `timeoutMs`. */
export type RateLimitStoreFailureMode = 'reject' | 'allow';

/** Options of {@link ApiKeyRateLimitModule}: `forRoot(options)` or the result of `forRootAsync`'s factory. */
export interface ApiKeyRateLimitOptions {
  /** Default rate limit of every key (its plan may replace it); `false` for none. */
  limit: RateLimitWindow | false;
  /** Default quota of every key (its plan may replace it). Default: none. */
  quota?: QuotaSettings | false;
  /**
   * Whether limits and quotas count per key (default) or per owner across all the owner's keys;
   * a plan may say otherwise (see {@link RateLimitCountBy}).
   */
  countBy?: RateLimitCountBy;
  /** Named plans; a key is on the plan named by its metadata's `plan` (see `planOf`). */
  plans?: Readonly<Record<string, RateLimitPlan>>;
  /** The plan name of a key. Default: `principal.metadata.plan` when it is a string. */
  planOf?: (principal: ApiKeyPrincipal) => string | undefined;
  /**
   * Invalid keys allowed per client address and window. Past that budget, a further invalid key
   * from the address is answered 429 instead of 401; a valid key is still admitted. Default
   * `{ points: 20, durationMs: 60_000 }`; `false` turns it off.
   */
  perAddress?: RateLimitWindow | false;
  /** The client address of a request. Default {@link clientAddressOf} (honours the platform's trust-proxy setting). */
  clientAddress?: (request: object) => string;
  /** An ioredis client (or cluster) shared by every instance. Default: counters in this process's memory. */
  redis?: Redis | Cluster;
  /** Prefix of every counter's key in Redis. Default `'api-key-rate-limit:'`. */
  redisKeyPrefix?: string;
  /**
   * Longest wait at startup, in ms, for the `redis` client to be ready (connected); past it the
   * application fails to start (with `whenUnavailable: 'allow'`, it starts with a warning and
   * requests pass unlimited until the client connects). Default 10,000; at most 2^31 − 1.
   */
  redisReadyTimeoutMs?: number;
  /** Longest wait for the store, in ms, before its failure mode applies. Default 500; at most 2^31 − 1. */
  timeoutMs?: number;
  /**
   * When the store fails or times out: `'reject'` (default) answers 503; `'allow'` lets the
   * request through unlimited, and the application starts while Redis is unreachable.
   * **`'allow'` is a risk**: while Redis is down, no limit holds.
   */
  whenUnavailable?: RateLimitStoreFailureMode;
  /** Send the `RateLimit` and `RateLimit-Policy` headers on admitted requests. Default `true`. */
  headers?: boolean;
  /** The current time, for quota periods. Default `() => new Date()`. */
  clock?: () => Date;
}
