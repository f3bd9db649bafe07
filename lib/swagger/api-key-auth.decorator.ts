import { applyDecorators } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

/** What {@link ApiKeyAuth} says of a route. */
export interface ApiKeyAuthOptions {
  /**
   * Security schemes of the document (`DocumentBuilder.addBearerAuth(..., 'jwt')`) the route
   * accepts instead of a key, as with `ApiKeyOr(AuthGuard('jwt'))` or
   * `AuthGuard(['api-key', 'jwt'])`: the operation lists the key
   * and each of them as alternatives (`[{ "api-key": [] }, { "jwt": [] }]`), not as requirements
   * that all hold.
   */
  readonly or?: readonly string[];
}

/** Metadata written by {@link ApiKeyAuth}; read by `withApiKeySecurity`. */
export const ApiKeyAuthMetadata = Reflector.createDecorator<{ readonly or: readonly string[] }>({
  key: 'nestjs-api-key:swagger-auth',
});

/**
 * Documents a handler (or every handler of a controller) as protected by an API key, for a
 * guard `withApiKeySecurity` cannot see: `AuthGuard(['api-key', 'jwt'])` of `@nestjs/passport`
 * with `ApiKeyStrategy` (give `{ or: ['jwt'] }` to list the JWT as the other way in), or one that
 * calls `ApiKeyGuard` or `ApiKeyAuthenticator` itself instead of extending `ApiKeyGuard`; and the
 * schemes of the other guards of `ApiKeyOr(AuthGuard('jwt'))`, which `withApiKeySecurity`
 * requires (`{ or: ['jwt'] }`; `@ApiKeyAuth()` when they have no scheme in the document). It
 * changes the document only, never who may call the route; `@Public()` still wins. Guards applied
 * with `@UseGuards(ApiKeyGuard)` or globally need no annotation.
 *
 * @throws TypeError when `or` holds something else than non-empty scheme names
 * @example `@ApiKeyAuth({ or: ['jwt'] })` on a route guarded by `AuthGuard(['api-key', 'jwt'])`
 */
export function ApiKeyAuth(options: ApiKeyAuthOptions = {}): MethodDecorator & ClassDecorator {
  const or = options.or ?? [];
  if (!Array.isArray(or) || or.some((name) => typeof name !== 'string' || name.trim() === '')) {
    throw new TypeError('@ApiKeyAuth({ or }) takes the names of security schemes of the document');
  }
  return applyDecorators(ApiKeyAuthMetadata({ or: Object.freeze([...or]) }));
}
