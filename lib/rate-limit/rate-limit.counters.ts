/** A counter's state after an operation. */
export interface CounterState {
  /** Points consumed in the current window, this request's included. */
  readonly consumed: number;
  /** Milliseconds until the window ends and the counter restarts. */
  readonly msBeforeNext: number;
}

/**
 * Fixed-window counters, one per bucket (a limit, a route's limit, a quota period, the
 * per-address limit) and key. A counter starts with its first point and lasts `seconds`
 * seconds. The counters count without a ceiling; the caller compares the count with its own
 * limit, so a key whose limit changes keeps its count.
 *
 * Also the injection token: {@link ApiKeyRateLimitModule} provides and exports the instance its
 * options ask for.
 */
export abstract class RateLimitCounters {
  /** Adds `points` to `key`'s counter in `bucket`; a new counter lives `seconds` seconds. */
  abstract add(bucket: string, seconds: number, key: string, points: number): Promise<CounterState>;
  /** Takes `points` back from `key`'s counter (a request another limit refused). */
  abstract refund(bucket: string, seconds: number, key: string, points: number): Promise<void>;
  /** Resolves when the counters can count now; rejects with an Error saying why not. */
  abstract checkHealth(): Promise<void>;
}
