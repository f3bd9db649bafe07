import { applyDecorators } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

/** Metadata written by {@link OptionalApiKey}; read by the guard and by `withApiKeySecurity`. */
export const OptionalApiKeyMetadata = Reflector.createDecorator<boolean>({ key: 'nestjs-api-key:optional' });

/**
 * Lets callers without a key reach a guarded handler (or every handler of a controller), while a
 * key that is presented is still authenticated: `ApiKeyGuard` admits a request without a key as
 * anonymous (`@ApiKey()` is then `null`), and answers a presented key as on any guarded route (401
 * when it is not valid, never anonymous; 400 for two keys; 503 when the store fails). Scopes
 * (`@RequireScopes`, `@RequireAnyScope`) apply only to requests that present a key: an anonymous
 * caller passes them, a key without them is refused with 403. `@Public()` still wins: no key is
 * read on a public route.
 *
 * For routes that take a key or another login (a JWT, a session), use `ApiKeyOr(AuthGuard('jwt'))`
 * instead: a request without a key must then pass the other login's guard.
 */
export function OptionalApiKey(): MethodDecorator & ClassDecorator {
  return applyDecorators(OptionalApiKeyMetadata(true));
}
