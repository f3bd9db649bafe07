import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ServerResponse } from 'node:http';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import {
  ApiKeyInvalidException,
  ApiKeyRestrictedException,
  withoutStackTrace,
  type ApiKeyHttpException,
} from '../api-key.exceptions.js';
import { readPresentedKey } from '../guard/api-key.credentials.js';
import { challengeFor } from '../guard/api-key.guard.js';
import { attachPrincipal, rawRequestOf, rememberedPrincipal } from '../guard/api-key.request.js';
import { clientIpOf } from '../guard/client-address.js';
import { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import { restrictionsOf } from '../storage/verified-api-key.js';
import { ApiKeyAuthenticator } from '../verification/api-key.authenticator.js';

/** The name {@link ApiKeyStrategy} is registered under: `AuthGuard(['api-key', 'jwt'])`. */
export const API_KEY_STRATEGY = 'api-key';

/** The verify callback `PassportStrategy` hands the strategy: it runs `validate` and reports through `done`. */
type VerifyCallback = (principal: ApiKeyPrincipal, done: (error: unknown, user?: unknown) => void) => void;

/**
 * The passport strategy under {@link ApiKeyStrategy}: an object with `authenticate(request)`, as
 * passport expects. Passport runs each attempt on a copy it gives `success`, `fail` and `error`.
 */
export class ApiKeyPassportStrategy {
  /** Passport's: the request is authenticated as `user`; no strategy after this one runs. */
  declare success: (user: unknown) => void;
  /** Passport's: this strategy does not apply; the next strategy of the list runs. */
  declare fail: (status: number) => void;
  /** Passport's: the request is refused with `error`; no strategy after this one runs. */
  declare error: (error: unknown) => void;

  private readonly invalid: ApiKeyInvalidException;

  constructor(
    private readonly authenticator: ApiKeyAuthenticator,
    private readonly options: ResolvedApiKeyOptions,
    private readonly verify: VerifyCallback,
  ) {
    this.invalid = withoutStackTrace(() => new ApiKeyInvalidException(challengeFor(options, true)));
  }

  /**
   * Called by passport for each request. No key: `fail`, so the next strategy of the list
   * (`'jwt'`) may authenticate the request. A valid key: `success` with what `validate` returns,
   * and the principal on `request.apiKey`. A key that is not valid, two keys, a store failure or
   * a `validate` that throws or returns nothing, or a key used from outside its allowed networks
   * or origins: `error`, which ends the list with the guard's exception (401, 400, 503, 403), so a
   * bad key is never passed over for another login.
   */
  authenticate(request: object): void {
    this.principalOf(request).then(
      (principal) => {
        if (!principal) return this.fail(401);
        this.verify(principal, (error, user) => {
          if (error) return this.refuse(request, error);
          if (!user) return this.refuse(request, this.invalid);
          attachPrincipal(request, principal, null);
          this.success(user);
        });
      },
      (error: unknown) => this.refuse(request, error),
    );
  }

  /**
   * Ends the list with `error`, its headers (`WWW-Authenticate`, `Cache-Control`) set on the
   * response where the request leads to it: Express's `request.res`. Passport gives a strategy
   * no response, and Fastify's request has none: there the refusal carries its status and body only.
   */
  private refuse(request: object, error: unknown): void {
    const response = (request as { res?: unknown }).res;
    const headers = (error as Partial<ApiKeyHttpException> | undefined)?.headers;
    if (headers && response instanceof ServerResponse && !response.headersSent) {
      for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
    }
    this.error(error);
  }

  /**
   * The request's principal: the one a guard of this module already attached (no second read), else
   * its one key verified and allowed from the request's address and `Origin` (the key's
   * restrictions, as the guard checks them); `null` without a key. Throws the guard's 400, 401,
   * 403 and 503.
   */
  private async principalOf(request: object): Promise<ApiKeyPrincipal | null> {
    const remembered = rememberedPrincipal(request, this.authenticator);
    if (remembered) return remembered;
    const raw = rawRequestOf(request);
    const presented = readPresentedKey(raw, this.options);
    if (!presented) return null;
    const verification = await this.authenticator.verify(presented.value);
    if (!verification.valid) throw this.invalid;
    const { principal } = verification;
    if (restrictionsOf(principal) === undefined) return principal; // no address to resolve
    const origin = raw.headers?.origin as string | undefined; // Node keeps one
    const reason = this.authenticator.checkRestrictions(principal, clientIpOf(request), origin);
    if (reason !== undefined) throw new ApiKeyRestrictedException(reason);
    return principal;
  }
}

/**
 * A `@nestjs/passport` strategy named `'api-key'` that authenticates with the module's key
 * sources and {@link ApiKeyAuthenticator}: one credential per request, one store read, the same
 * events and last-used tracking as `ApiKeyGuard`. Add it to the providers of a module that sees
 * `ApiKeyModule` (global, or imported) and guard routes with `AuthGuard(['api-key', 'jwt'])`.
 *
 * For a route that takes a key or another login, prefer `ApiKeyOr(AuthGuard('jwt'))` from the
 * main entry point: it needs no strategy, decides any presented key whatever else the request
 * carries, and applies the route's scopes, rate limits and refusal headers. With the strategy,
 * list `'api-key'` first: passport stops at the first strategy that succeeds, so a key listed
 * after a JWT that succeeds is never read, and an invalid key beside a valid JWT would be
 * admitted. Listed first, a request without a key goes on to the next strategy, and a presented
 * key that is not valid is refused (401) whatever else the request carries.
 *
 * `request.user` holds what {@link validate} returns (the principal, unless overridden);
 * `request.apiKey` holds the principal, where `@ApiKey()` reads it. The strategy sees no route:
 * add `ApiKeyGuard` after `AuthGuard` on an `@OptionalApiKey()` route to check `@RequireScopes`.
 * Its refusals carry `WWW-Authenticate` and `Cache-Control: no-store` on Express only (passport
 * gives a strategy no response; Express's request leads to it), and the rate limits of
 * `nestjs-api-key/rate-limit` do not apply to the keys it admits.
 */
@Injectable()
export class ApiKeyStrategy extends PassportStrategy(ApiKeyPassportStrategy, API_KEY_STRATEGY) {
  constructor(authenticator: ApiKeyAuthenticator, options: ResolvedApiKeyOptions) {
    super(authenticator, options);
  }

  /**
   * What `request.user` holds for a valid key. Override it to load your own user (the key's
   * `ownerId`, say); throw or return `null` to refuse the request (401).
   */
  validate(principal: ApiKeyPrincipal): unknown {
    return principal;
  }
}
