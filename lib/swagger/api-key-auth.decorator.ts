import { applyDecorators } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

/** Metadata written by {@link ApiKeyAuth}; read by `withApiKeySecurity`. */
export const ApiKeyAuthMetadata = Reflector.createDecorator<boolean>({ key: 'nestjs-api-key:swagger-auth' });

/**
 * Documents a handler (or every handler of a controller) as protected by an API key, for a
 * guard `withApiKeySecurity` cannot see: one that calls `ApiKeyGuard` or `ApiKeyAuthenticator`
 * itself instead of extending `ApiKeyGuard`. It changes the document only, never who may call
 * the route; `@Public()` still wins. Guards applied with `@UseGuards(ApiKeyGuard)` or globally
 * need no annotation.
 */
export function ApiKeyAuth(): MethodDecorator & ClassDecorator {
  return applyDecorators(ApiKeyAuthMetadata(true));
}
