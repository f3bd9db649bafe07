import { createParamDecorator, Injectable, type ExecutionContext } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { ApiKeyPrincipal } from 'nestjs-api-key';
import { ExtractJwt, Strategy } from 'passport-jwt';

/** The secret the test apps sign and check their JWTs with (not a real one). */
export const JWT_SECRET = 'test-jwt-secret-not-a-real-one';

/** The app's own login: a bearer JWT whose `sub` names the user. */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor() {
    super({ jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey: JWT_SECRET });
  }

  validate(payload: Record<string, unknown>): { userId: unknown } {
    return { userId: payload.sub };
  }
}

/** `request.user`, where `AuthGuard` puts what the strategy that succeeded returned. */
export const UserOf = createParamDecorator(
  (_: unknown, context: ExecutionContext) => context.switchToHttp().getRequest<{ user?: unknown }>().user,
);

/** What a handler sees of the caller: passport's `request.user` and the key's name (`@ApiKey()`). */
export function caller(user: unknown, key: ApiKeyPrincipal | null | undefined) {
  return { user, apiKey: key === undefined ? 'undefined' : key && key.name };
}
