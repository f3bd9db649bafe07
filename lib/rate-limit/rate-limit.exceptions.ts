import { HttpException, HttpStatus, ServiceUnavailableException } from '@nestjs/common';

/** Stable codes in the `code` field of the rate limiter's error bodies. */
export const ApiKeyRateLimitErrorCode = {
  /** 429: a rate limit, quota or the per-address limit is exhausted. */
  RateLimited: 'API_KEY_RATE_LIMITED',
  /** 503: the counters' store failed or timed out (and `whenUnavailable` is `'reject'`). */
  Unavailable: 'API_KEY_RATE_LIMIT_UNAVAILABLE',
} as const;

/** One of {@link ApiKeyRateLimitErrorCode}'s values. */
export type ApiKeyRateLimitErrorCode = (typeof ApiKeyRateLimitErrorCode)[keyof typeof ApiKeyRateLimitErrorCode];

/** Body of a 429 answer. */
export interface ApiKeyRateLimitedBody {
  statusCode: 429;
  error: 'Too Many Requests';
  code: typeof ApiKeyRateLimitErrorCode.RateLimited;
  message: string;
  /** Name of the exhausted policy, as in the `RateLimit` header. */
  policy: string;
  /** Seconds to wait, as in `Retry-After`. */
  retryAfter: number;
}

/**
 * 429: a limit is exhausted. Carries `Retry-After`, `RateLimit` and `RateLimit-Policy` for the
 * exhausted policy, and `Cache-Control: no-store`.
 */
export class ApiKeyRateLimitedException extends HttpException {
  readonly code = ApiKeyRateLimitErrorCode.RateLimited;
  /** Response headers of this answer. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * @param policy name of the exhausted policy
   * @param retryAfter seconds until it admits a request again
   * @param headers its `RateLimit` and `RateLimit-Policy` headers
   */
  constructor(policy: string, retryAfter: number, headers: Readonly<Record<string, string>>) {
    const body: ApiKeyRateLimitedBody = {
      statusCode: 429,
      error: 'Too Many Requests',
      code: ApiKeyRateLimitErrorCode.RateLimited,
      message: 'Rate limit exceeded',
      policy,
      retryAfter,
    };
    super(body, HttpStatus.TOO_MANY_REQUESTS);
    this.headers = { ...headers, 'Retry-After': String(retryAfter), 'Cache-Control': 'no-store' };
  }
}

/** 503: the counters' store failed or timed out. Generic on purpose: the cause goes to the logs. */
export class ApiKeyRateLimitUnavailableException extends ServiceUnavailableException {
  readonly code = ApiKeyRateLimitErrorCode.Unavailable;
  /** Response headers of this answer. */
  readonly headers: Readonly<Record<string, string>> = { 'Cache-Control': 'no-store' };
  constructor() {
    super({
      statusCode: 503,
      error: 'Service Unavailable',
      code: ApiKeyRateLimitErrorCode.Unavailable,
      message: 'Rate limiting is temporarily unavailable',
    });
  }
}
