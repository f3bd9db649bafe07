import { applyDecorators } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

/** Metadata written by {@link Public}; read by the guard. */
export const PublicMetadata = Reflector.createDecorator<boolean>({ key: 'nestjs-api-key:public' });

/**
 * Lets requests reach a handler (or every handler of a controller) without a key, for apps
 * that register {@link ApiKeyGuard} globally. A handler's own scope requirement does not
 * override a class-level `@Public()`: public means public.
 */
export function Public(): MethodDecorator & ClassDecorator {
  return applyDecorators(PublicMetadata(true));
}
