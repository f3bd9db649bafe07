import type { Cluster, Redis } from 'ioredis';
import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import { positiveInteger, rejectUnknownOptions, timerDelay } from '../option-checks.js';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import { clientAddressOf } from '../guard/client-address.js';
import type {
  ApiKeyRateLimitOptions,
  QuotaSettings,
  RateLimitCountBy,
  RateLimitPlan,
  RateLimitStoreFailureMode,
  RateLimitWindow,
} from './rate-limit-options.interface.js';

/** A plan with every default applied: what one key may do, and the name its headers carry. */
export interface ResolvedRateLimitPlan {
  /** Policy name in the `RateLimit` headers: the plan's name, `'default'` or `'key'` (the key's own metadata). */
  readonly name: string;
  /** Rate limit, or `null` for none. */
  readonly limit: RateLimitWindow | null;
  /** Quota, or `null` for none. */
  readonly quota: QuotaSettings | null;
  /** Whether its counters count per key or per owner. */
  readonly countBy: RateLimitCountBy;
}

/** What a policy name (a plan's, a route's) may be: it appears in the `RateLimit` headers and counter keys. */
export const POLICY_NAME = /^[A-Za-z0-9._:-]{1,64}$/;
const PERIODS = ['hour', 'day', 'month'];

/*
 * The option names each object accepts, checked against its interface at compile time: a name
 * added to an interface and not here (or here and not there) does not compile.
 */
const OPTION_NAMES = Object.keys({
  limit: true,
  quota: true,
  plans: true,
  planOf: true,
  perAddress: true,
  clientAddress: true,
  redis: true,
  redisKeyPrefix: true,
  redisReadyTimeoutMs: true,
  timeoutMs: true,
  whenUnavailable: true,
  headers: true,
  clock: true,
  countBy: true,
} satisfies Record<keyof ApiKeyRateLimitOptions, true>);
const PLAN_NAMES = Object.keys({
  limit: true,
  quota: true,
  countBy: true,
} satisfies Record<keyof RateLimitPlan, true>);
const WINDOW_NAMES = Object.keys({ points: true, durationMs: true } satisfies Record<keyof RateLimitWindow, true>);
const QUOTA_NAMES = Object.keys({ points: true, period: true } satisfies Record<keyof QuotaSettings, true>);

/** The rate-limit module's options, validated at bootstrap, with every default applied. */
export class ResolvedRateLimitOptions {
  /** Plan of keys without one. */
  readonly defaultPlan: ResolvedRateLimitPlan;
  /** Named plans. */
  readonly plans: ReadonlyMap<string, ResolvedRateLimitPlan>;
  /** Plan name of a key. */
  readonly planOf: (principal: ApiKeyPrincipal) => string | undefined;
  /** Failed authentications per client address, or `null`. */
  readonly perAddress: RateLimitWindow | null;
  /** Client address of a request. */
  readonly clientAddress: (request: object) => string;
  /** Redis client, or `null` for memory. */
  readonly redis: Redis | Cluster | null;
  /** Prefix of the counters' keys in Redis. */
  readonly redisKeyPrefix: string;
  /** Longest wait at startup for the Redis client to be ready, in ms. */
  readonly redisReadyTimeoutMs: number;
  /** Store timeout, in ms. */
  readonly timeoutMs: number;
  /** Store failure mode. */
  readonly whenUnavailable: RateLimitStoreFailureMode;
  /** Whether admitted responses carry the headers. */
  readonly headers: boolean;
  /** Current time. */
  readonly clock: () => Date;

  /** Validates `options`; throws {@link ApiKeyConfigurationError} naming the first problem. */
  constructor(options: ApiKeyRateLimitOptions | undefined) {
    if (options === null || typeof options !== 'object') {
      throw new ApiKeyConfigurationError(
        'rate limit options must be an object (did the forRootAsync factory return nothing?)',
      );
    }
    rejectUnknownOptions(options, OPTION_NAMES, '');
    if (options.limit === undefined)
      throw new ApiKeyConfigurationError('rate limit option "limit" is required ({ points, durationMs } or false)');
    const limit = windowOf(options.limit, 'limit');
    const quota = quotaOf(options.quota, 'quota');
    const countBy = countByOf(options.countBy, 'countBy') ?? 'key';
    this.defaultPlan = Object.freeze({ name: 'default', limit, quota, countBy });
    this.plans = new Map(
      Object.entries(options.plans ?? {}).map(([name, plan]) => [name, resolvePlan(name, plan, this.defaultPlan)]),
    );
    this.planOf =
      fn(options.planOf, 'planOf') ??
      ((principal) => (typeof principal.metadata.plan === 'string' ? principal.metadata.plan : undefined));
    this.perAddress =
      options.perAddress === undefined
        ? { points: 20, durationMs: 60_000 }
        : windowOf(options.perAddress, 'perAddress');
    this.clientAddress = fn(options.clientAddress, 'clientAddress') ?? clientAddressOf;
    if (options.redis !== undefined && typeof (options.redis as Redis)?.defineCommand !== 'function') {
      throw new ApiKeyConfigurationError('rate limit option "redis" must be an ioredis client (new Redis(url))');
    }
    this.redis = options.redis ?? null;
    const prefix = options.redisKeyPrefix;
    if (prefix !== undefined && (typeof prefix !== 'string' || prefix === '')) {
      throw new ApiKeyConfigurationError('rate limit option "redisKeyPrefix" must be a non-empty string');
    }
    this.redisKeyPrefix = prefix ?? 'api-key-rate-limit:';
    this.redisReadyTimeoutMs = timerDelay(options.redisReadyTimeoutMs, 'redisReadyTimeoutMs', 10_000);
    this.timeoutMs = timerDelay(options.timeoutMs, 'timeoutMs', 500);
    if (
      options.whenUnavailable !== undefined &&
      options.whenUnavailable !== 'reject' &&
      options.whenUnavailable !== 'allow'
    ) {
      throw new ApiKeyConfigurationError('rate limit option "whenUnavailable" must be "reject" or "allow"');
    }
    this.whenUnavailable = options.whenUnavailable ?? 'reject';
    if (options.headers !== undefined && typeof options.headers !== 'boolean')
      throw new ApiKeyConfigurationError('rate limit option "headers" must be a boolean');
    this.headers = options.headers ?? true;
    this.clock = fn(options.clock, 'clock') ?? (() => new Date());
  }

  /**
   * Validates a plan found in a key's metadata (`metadata.rateLimit`). Returns `null` when it is
   * not a valid plan, so the caller can fall back to the default.
   */
  static keyPlan(value: unknown, fallback: ResolvedRateLimitPlan): ResolvedRateLimitPlan | null {
    try {
      return resolvePlan('key', value as RateLimitPlan, fallback);
    } catch {
      return null;
    }
  }
}

function resolvePlan(name: string, plan: RateLimitPlan, fallback: ResolvedRateLimitPlan): ResolvedRateLimitPlan {
  const field = `plans.${name}`;
  if (!POLICY_NAME.test(name)) throw new ApiKeyConfigurationError(`${field}: a plan name must match ${POLICY_NAME}`);
  if (plan === null || typeof plan !== 'object')
    throw new ApiKeyConfigurationError(`${field} must be an object { limit?, quota?, countBy? }`);
  rejectUnknownOptions(plan, PLAN_NAMES, field);
  return Object.freeze({
    name,
    limit: plan.limit === undefined ? fallback.limit : windowOf(plan.limit, `${field}.limit`),
    quota: plan.quota === undefined ? fallback.quota : quotaOf(plan.quota, `${field}.quota`),
    countBy: countByOf(plan.countBy, `${field}.countBy`) ?? fallback.countBy,
  });
}

function countByOf(value: unknown, field: string): RateLimitCountBy | undefined {
  if (value !== undefined && value !== 'key' && value !== 'owner')
    throw new ApiKeyConfigurationError(`rate limit option "${field}" must be "key" or "owner"`);
  return value;
}

function windowOf(value: unknown, field: string): RateLimitWindow | null {
  if (value === false) return null;
  if (value === null || typeof value !== 'object')
    throw new ApiKeyConfigurationError(`${field} must be { points, durationMs } or false`);
  return rateLimitWindow(value, WINDOW_NAMES, field);
}

/**
 * `value` as a frozen {@link RateLimitWindow} (an object, unchecked so far); throws
 * {@link ApiKeyConfigurationError} naming `field` for a name not in `known`, a points count that
 * is not a positive integer, or a duration that is not a whole number of seconds.
 */
export function rateLimitWindow(value: object, known: readonly string[], field: string): RateLimitWindow {
  rejectUnknownOptions(value, known, field);
  const window = value as RateLimitWindow;
  const durationMs = positiveInteger(window.durationMs, `${field}.durationMs`);
  if (durationMs % 1000 !== 0) {
    throw new ApiKeyConfigurationError(
      `${field}.durationMs must be a whole number of seconds (a multiple of 1000), got ${durationMs}`,
    );
  }
  return Object.freeze({ points: positiveInteger(window.points, `${field}.points`), durationMs });
}

function quotaOf(value: unknown, field: string): QuotaSettings | null {
  if (value === undefined || value === false) return null;
  const quota = value as QuotaSettings;
  rejectUnknownOptions(quota, QUOTA_NAMES, field);
  if (quota === null || typeof quota !== 'object' || !PERIODS.includes(quota.period)) {
    throw new ApiKeyConfigurationError(`${field} must be { points, period: 'hour' | 'day' | 'month' } or false`);
  }
  return Object.freeze({ points: positiveInteger(quota.points, `${field}.points`), period: quota.period });
}

function fn<T>(value: T | undefined, field: string): T | undefined {
  if (value !== undefined && typeof value !== 'function')
    throw new ApiKeyConfigurationError(`rate limit option "${field}" must be a function`);
  return value;
}
