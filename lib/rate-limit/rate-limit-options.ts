import type { Cluster, Redis } from 'ioredis';
import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import { positiveInteger, timerDelay } from '../option-checks.js';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import { clientAddressOf } from '../guard/client-address.js';
import type {
  ApiKeyRateLimitOptions,
  QuotaSettings,
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
}

const POLICY_NAME = /^[A-Za-z0-9._:-]{1,64}$/;
const PERIODS = ['hour', 'day', 'month'];

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
  /** Counter key prefix. */
  readonly keyPrefix: string;
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
    if (options.limit === undefined)
      throw new ApiKeyConfigurationError('rate limit option "limit" is required ({ points, duration } or false)');
    const limit = windowOf(options.limit, 'limit');
    const quota = quotaOf(options.quota, 'quota');
    this.defaultPlan = Object.freeze({ name: 'default', limit, quota });
    this.plans = new Map(
      Object.entries(options.plans ?? {}).map(([name, plan]) => [name, resolvePlan(name, plan, this.defaultPlan)]),
    );
    this.planOf =
      fn(options.planOf, 'planOf') ??
      ((principal) => (typeof principal.metadata.plan === 'string' ? principal.metadata.plan : undefined));
    this.perAddress =
      options.perAddress === undefined ? { points: 20, duration: 60 } : windowOf(options.perAddress, 'perAddress');
    this.clientAddress = fn(options.clientAddress, 'clientAddress') ?? clientAddressOf;
    if (options.redis !== undefined && typeof (options.redis as Redis)?.defineCommand !== 'function') {
      throw new ApiKeyConfigurationError('rate limit option "redis" must be an ioredis client (new Redis(url))');
    }
    this.redis = options.redis ?? null;
    if (options.keyPrefix !== undefined && (typeof options.keyPrefix !== 'string' || options.keyPrefix === '')) {
      throw new ApiKeyConfigurationError('rate limit option "keyPrefix" must be a non-empty string');
    }
    this.keyPrefix = options.keyPrefix ?? 'api-key-rate-limit:';
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
    throw new ApiKeyConfigurationError(`${field} must be an object { limit?, quota? }`);
  return Object.freeze({
    name,
    limit: plan.limit === undefined ? fallback.limit : windowOf(plan.limit, `${field}.limit`),
    quota: plan.quota === undefined ? fallback.quota : quotaOf(plan.quota, `${field}.quota`),
  });
}

function windowOf(value: unknown, field: string): RateLimitWindow | null {
  if (value === false) return null;
  const window = value as RateLimitWindow;
  if (window === null || typeof window !== 'object')
    throw new ApiKeyConfigurationError(`${field} must be { points, duration } or false`);
  return Object.freeze({
    points: positiveInteger(window.points, `${field}.points`),
    duration: positiveInteger(window.duration, `${field}.duration`),
  });
}

function quotaOf(value: unknown, field: string): QuotaSettings | null {
  if (value === undefined || value === false) return null;
  const quota = value as QuotaSettings;
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
