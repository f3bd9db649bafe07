import { Reflector } from '@nestjs/core';
import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import { positiveInteger } from '../option-checks.js';
import type { RateLimitWindow } from './rate-limit-options.interface.js';
import { POLICY_NAME, rateLimitWindow } from './rate-limit-options.js';

/** A route's own rate limit, as {@link RateLimit} records it. */
export interface RouteRateLimit extends RateLimitWindow {
  /** Name of the budget: the policy name in the headers and part of the counter's key. */
  readonly name: string;
}

/** The names `@RateLimit()` accepts, checked against {@link RouteRateLimit} at compile time. */
const ROUTE_LIMIT_NAMES = Object.keys({
  points: true,
  durationMs: true,
  name: true,
} satisfies Record<keyof RouteRateLimit, true>);

/** Metadata written by {@link RateLimit}. */
export const RouteRateLimitMetadata = Reflector.createDecorator<RouteRateLimit>({ key: 'nestjs-api-key:rate-limit' });
/** Metadata written by {@link RateLimitCost}. */
export const RateLimitCostMetadata = Reflector.createDecorator<number>({ key: 'nestjs-api-key:rate-limit-cost' });
/** Metadata written by {@link SkipRateLimit}. */
export const SkipRateLimitMetadata = Reflector.createDecorator<boolean>({ key: 'nestjs-api-key:rate-limit-skip' });

/**
 * Gives a route (or every route of a controller, together) its own per-key rate limit, which
 * replaces the key's plan limit there; the key's quota still applies. The budget is named
 * `name`, by default `Controller.handler` (or `Controller` on a class). Invalid arguments throw
 * {@link ApiKeyConfigurationError} when the class is defined.
 *
 * @example `@RateLimit({ points: 5, durationMs: 60_000 })` on an expensive export route
 */
export function RateLimit(limit: RateLimitWindow & { name?: string }): MethodDecorator & ClassDecorator {
  if (limit === null || typeof limit !== 'object')
    throw new ApiKeyConfigurationError('@RateLimit() needs { points, durationMs, name? }');
  const window = rateLimitWindow(limit, ROUTE_LIMIT_NAMES, '@RateLimit()');
  if (limit.name !== undefined && (typeof limit.name !== 'string' || !POLICY_NAME.test(limit.name)))
    throw new ApiKeyConfigurationError(`@RateLimit() name must match ${POLICY_NAME}`);
  return (target: object, property?: string | symbol, descriptor?: PropertyDescriptor): void => {
    const owner =
      property === undefined ? (target as { name: string }).name : `${target.constructor.name}.${String(property)}`;
    const metadata = RouteRateLimitMetadata({ ...window, name: limit.name ?? owner });
    if (property === undefined) (metadata as ClassDecorator)(target as never);
    else (metadata as MethodDecorator)(target, property, descriptor!);
  };
}

/**
 * Points a request to this route consumes from the key's rate limit and quota (default 1),
 * for expensive routes. A cost above a limit's points can never be admitted by that limit.
 *
 * @example `@RateLimitCost(10)`
 */
export function RateLimitCost(points: number): MethodDecorator & ClassDecorator {
  return RateLimitCostMetadata(positiveInteger(points, '@RateLimitCost() points'));
}

/**
 * Exempts a route (or a controller) from per-key rate limits and quotas; the per-address limit on failed
 * authentications still applies.
 */
export function SkipRateLimit(): MethodDecorator & ClassDecorator {
  return SkipRateLimitMetadata(true);
}
