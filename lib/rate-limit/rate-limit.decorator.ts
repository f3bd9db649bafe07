import { Reflector } from '@nestjs/core';
import type { RateLimitWindow } from './rate-limit-options.interface.js';

/** A route's own rate limit, as {@link RateLimit} records it. */
export interface RouteRateLimit extends RateLimitWindow {
  /** Name of the budget: the policy name in the headers and part of the counter's key. */
  readonly name: string;
}

/** Metadata written by {@link RateLimit}. */
export const RouteRateLimitMetadata = Reflector.createDecorator<RouteRateLimit>({ key: 'nestjs-api-key:rate-limit' });
/** Metadata written by {@link RateLimitCost}. */
export const RateLimitCostMetadata = Reflector.createDecorator<number>({ key: 'nestjs-api-key:rate-limit-cost' });
/** Metadata written by {@link SkipRateLimit}. */
export const SkipRateLimitMetadata = Reflector.createDecorator<boolean>({ key: 'nestjs-api-key:rate-limit-skip' });

/**
 * Gives a route (or every route of a controller, together) its own per-key rate limit, which
 * replaces the key's plan limit there; the key's quota still applies. The budget is named
 * `name`, by default `Controller.handler` (or `Controller` on a class).
 *
 * @example `@RateLimit({ points: 5, duration: 60 })` on an expensive export route
 */
export function RateLimit(limit: RateLimitWindow & { name?: string }): MethodDecorator & ClassDecorator {
  if (
    !Number.isSafeInteger(limit?.points) ||
    limit.points <= 0 ||
    !Number.isSafeInteger(limit.duration) ||
    limit.duration <= 0
  ) {
    throw new TypeError('@RateLimit() needs positive integer points and duration (seconds)');
  }
  if (limit.name !== undefined && !/^[A-Za-z0-9._:-]{1,64}$/.test(limit.name))
    throw new TypeError('@RateLimit() name must match /^[A-Za-z0-9._:-]{1,64}$/');
  return (target: object, property?: string | symbol, descriptor?: PropertyDescriptor): void => {
    const owner =
      property === undefined ? (target as { name: string }).name : `${target.constructor.name}.${String(property)}`;
    const metadata = RouteRateLimitMetadata({
      points: limit.points,
      duration: limit.duration,
      name: limit.name ?? owner,
    });
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
  if (!Number.isSafeInteger(points) || points <= 0) throw new TypeError('@RateLimitCost() needs a positive integer');
  return RateLimitCostMetadata(points);
}

/**
 * Exempts a route (or a controller) from per-key rate limits and quotas; the per-address limit on failed
 * authentications still applies.
 */
export function SkipRateLimit(): MethodDecorator & ClassDecorator {
  return SkipRateLimitMetadata(true);
}
