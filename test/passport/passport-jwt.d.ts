// The parts of passport-jwt (which ships no types) the passport tests use.
declare module 'passport-jwt' {
  export class Strategy {
    constructor(
      options: { jwtFromRequest: (request: unknown) => string | null; secretOrKey: string },
      verify: (payload: Record<string, unknown>, done: (error: unknown, user?: unknown) => void) => void,
    );
    authenticate(request: unknown, options?: unknown): void;
  }
  export const ExtractJwt: { fromAuthHeaderAsBearerToken(): (request: unknown) => string | null };
}
