import { Injectable, Logger, type ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import { ApiKeyGuardHook } from '../guard/api-key-guard.hook.js';
import { ApiKeyInvalidException } from '../api-key.exceptions.js';
import { escapeForLog } from '../log-escape.js';
import { quotaPeriodOf } from './quota-period.js';
import { RateLimitCounters, type CounterState } from './rate-limit.counters.js';
import {
  RateLimitCostMetadata,
  RouteRateLimitMetadata,
  SkipRateLimitMetadata,
  type RouteRateLimit,
} from './rate-limit.decorator.js';
import { ApiKeyRateLimitedException, ApiKeyRateLimitUnavailableException } from './rate-limit.exceptions.js';
import { rateLimitHeaders, type RateLimitPolicyState } from './rate-limit.headers.js';
import type { RateLimitWindow } from './rate-limit-options.interface.js';
import { ResolvedRateLimitOptions, type ResolvedRateLimitPlan } from './rate-limit-options.js';

/** A limit about to be applied: its counter and its policy. */
interface Budget {
  readonly name: string;
  readonly points: number;
  readonly window: number;
  readonly bucket: string;
  readonly key: string;
  /** Lifetime of a new counter, in seconds. */
  readonly ttl: number;
  /** Seconds to the end of the window, when the counter's own TTL does not tell it (quotas). */
  readonly reset?: number;
}

/**
 * The rate limiter, called by {@link ApiKeyGuard} through {@link ApiKeyGuardHook}:
 * - after an invalid key, counts one against the request's client address, and answers 429
 *   instead of 401 once the address is over its budget (a valid key is never refused by it);
 * - after authentication and the scope check, consumes the route's cost from the key's rate
 *   limit (its plan's, or the route's `@RateLimit`), then from its quota. A request refused by
 *   one limit is taken back from the limits it already passed.
 * Admitted responses carry `RateLimit-Policy` and `RateLimit`; refusals carry `Retry-After` too.
 */
@Injectable()
export class ApiKeyRateLimitHook extends ApiKeyGuardHook {
  private readonly logger = new Logger('ApiKeyRateLimit');
  private readonly warned = new Set<string>();
  private storeDown = false;

  constructor(
    private readonly options: ResolvedRateLimitOptions,
    private readonly reflector: Reflector,
    private readonly adapterHost: HttpAdapterHost,
    private readonly counters: RateLimitCounters,
  ) {
    super();
  }

  /**
   * Counts an invalid key against the request's client address, and answers 429 instead of 401
   * once the address has sent more than its budget in the window. Every request is still
   * authenticated: a valid key is admitted whatever its address's count.
   */
  async authenticate(
    _context: ExecutionContext,
    authenticate: () => Promise<ApiKeyPrincipal>,
    request: object,
  ): Promise<ApiKeyPrincipal> {
    const window = this.options.perAddress;
    if (!window) return authenticate();
    try {
      return await authenticate();
    } catch (error) {
      if (error instanceof ApiKeyInvalidException) await this.countInvalidKey(window, request);
      throw error;
    }
  }

  /**
   * Adds an invalid key to its address's count; throws 429 past the budget. When the store fails
   * (reported once), nothing is thrown and the caller's 401 stands: the key is invalid whatever the count.
   */
  private async countInvalidKey(window: RateLimitWindow, request: object): Promise<void> {
    const seconds = window.durationMs / 1000;
    const budget: Budget = {
      name: 'address',
      points: window.points,
      window: seconds,
      bucket: `address:${seconds}`,
      key: this.options.clientAddress(request),
      ttl: seconds,
    };
    const state = await this.guarded(() => this.counters.add(budget.bucket, budget.ttl, budget.key, 1)).catch(
      () => undefined,
    );
    if (state && state.consumed > budget.points) throw this.refusal(budget, state);
  }

  /** Consumes the route's cost from the key's rate limit and quota; throws 429 or 503. */
  async authorized(context: ExecutionContext, principal: ApiKeyPrincipal, response: object | undefined): Promise<void> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride(SkipRateLimitMetadata, targets)) return;
    const cost = this.reflector.getAllAndOverride(RateLimitCostMetadata, targets) ?? 1;
    const plan = this.planOf(principal);
    const passed: Array<{ budget: Budget; state: CounterState }> = [];
    for (const budget of this.budgetsOf(
      principal,
      plan,
      this.reflector.getAllAndOverride(RouteRateLimitMetadata, targets),
    )) {
      let state: CounterState | undefined;
      try {
        state = await this.guarded(() => this.counters.add(budget.bucket, budget.ttl, budget.key, cost));
      } catch (error) {
        await this.refund(passed, cost);
        throw error;
      }
      if (!state) continue; // store unavailable and whenUnavailable: 'allow'
      if (state.consumed > budget.points) {
        await this.refund(passed, cost);
        throw this.refusal(budget, state);
      }
      passed.push({ budget, state });
    }
    if (this.options.headers && passed.length > 0 && response) {
      const headers = rateLimitHeaders(passed.map(({ budget, state }) => this.policyState(budget, state)));
      for (const [name, value] of Object.entries(headers)) {
        this.adapterHost.httpAdapter.setHeader(response, name, value);
      }
    }
  }

  /** The key's plan: its own `metadata.rateLimit`, else the plan `planOf` names, else the default. */
  protected planOf(principal: ApiKeyPrincipal): ResolvedRateLimitPlan {
    const own = principal.metadata.rateLimit;
    if (own !== undefined) {
      const plan = ResolvedRateLimitOptions.keyPlan(own, this.options.defaultPlan);
      if (plan) return plan;
      this.warnOnce(`Key "${escapeForLog(principal.id)}" has invalid rateLimit metadata; the default plan applies`);
      return this.options.defaultPlan;
    }
    const name = this.options.planOf(principal);
    if (name === undefined) return this.options.defaultPlan;
    const plan = this.options.plans.get(name);
    if (plan) return plan;
    this.warnOnce(
      `Key "${escapeForLog(principal.id)}" is on unknown plan "${escapeForLog(name)}"; the default plan applies`,
    );
    return this.options.defaultPlan;
  }

  private budgetsOf(
    principal: ApiKeyPrincipal,
    plan: ResolvedRateLimitPlan,
    route: RouteRateLimit | undefined,
  ): Budget[] {
    const budgets: Budget[] = [];
    const limit = route ?? plan.limit;
    if (limit) {
      const seconds = limit.durationMs / 1000;
      const name = route ? route.name : plan.name;
      const bucket = route ? `route:${route.name}:${seconds}` : `limit:${seconds}`;
      budgets.push({ name, points: limit.points, window: seconds, bucket, key: principal.id, ttl: seconds });
    }
    if (plan.quota) {
      const period = quotaPeriodOf(plan.quota.period, this.options.clock());
      budgets.push({
        name: `${plan.name}-quota`,
        points: plan.quota.points,
        window: period.length,
        bucket: `quota:${plan.quota.period}`,
        key: `${period.id}:${principal.id}`,
        ttl: period.remaining,
        reset: period.remaining,
      });
    }
    return budgets;
  }

  private policyState(budget: Budget, state: CounterState): RateLimitPolicyState {
    const reset = budget.reset ?? Math.ceil(state.msBeforeNext / 1000);
    return {
      name: budget.name,
      points: budget.points,
      window: budget.window,
      remaining: Math.max(0, budget.points - state.consumed),
      reset,
    };
  }

  private refusal(budget: Budget, state: CounterState): ApiKeyRateLimitedException {
    const policy = this.policyState(budget, state);
    return new ApiKeyRateLimitedException(budget.name, Math.max(1, policy.reset), rateLimitHeaders([policy]));
  }

  private async refund(passed: ReadonlyArray<{ budget: Budget }>, cost: number): Promise<void> {
    for (const { budget } of passed) {
      await this.counters.refund(budget.bucket, budget.ttl, budget.key, cost).catch((error) => this.report(error));
    }
  }

  /** Runs a store operation; on failure reports it, then answers 503 or (opt-in) skips the limit. */
  private async guarded<T>(operation: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await operation();
      if (this.storeDown) this.logger.log('Rate limit store is available again');
      this.storeDown = false;
      return result;
    } catch (error) {
      this.report(error);
      if (this.options.whenUnavailable === 'reject') throw new ApiKeyRateLimitUnavailableException();
      return undefined;
    }
  }

  private report(error: unknown): void {
    if (this.storeDown) return;
    this.storeDown = true;
    const mode = this.options.whenUnavailable === 'reject' ? 'answering 503' : 'letting requests through unlimited';
    this.logger.error(
      `Rate limit store failed (${escapeForLog(String((error as Error)?.message ?? error))}); ` +
        `${mode} until it recovers`,
    );
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message) || this.warned.size >= 1000) return;
    this.warned.add(message);
    this.logger.warn(message);
  }
}
