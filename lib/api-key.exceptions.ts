import {
  BadRequestException,
  ForbiddenException,
  HttpException,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';

/** Stable, machine-readable codes carried in the `code` field of every error body. */
export const ApiKeyErrorCode = {
  /** 401: the request carries no key. */
  Missing: 'API_KEY_MISSING',
  /** 401: the key is not valid (unknown, malformed, expired, revoked or disabled: never which). */
  Invalid: 'API_KEY_INVALID',
  /** 400: the request carries more than one key. */
  Conflict: 'API_KEY_CONFLICT',
  /** 403: the key lacks a scope the route requires. */
  InsufficientScope: 'API_KEY_INSUFFICIENT_SCOPE',
  /** 403: the key is valid but may not be used from the client's network or the request's origin. */
  Restricted: 'API_KEY_RESTRICTED',
  /** 503: the key store failed or timed out. */
  Unavailable: 'API_KEY_STORE_UNAVAILABLE',
} as const;

/** One of {@link ApiKeyErrorCode}'s values. */
export type ApiKeyErrorCode = (typeof ApiKeyErrorCode)[keyof typeof ApiKeyErrorCode];

/** Body of every error response the guard produces. */
export interface ApiKeyErrorBody {
  statusCode: number;
  error: string;
  code: ApiKeyErrorCode;
  message: string;
  /** Only on 403: the scopes the route requires. */
  requiredScopes?: readonly string[];
  /** Only on 403: whether all (`all`) or one (`any`) of `requiredScopes` are needed. */
  scopeMode?: 'all' | 'any';
}

/** Implemented by every exception the guard throws: headers the response must carry. */
export interface ApiKeyHttpException extends HttpException {
  /** Response headers that belong to this error (`WWW-Authenticate`, `Cache-Control`). */
  readonly headers: Readonly<Record<string, string>>;
  /** The error's stable code. */
  readonly code: ApiKeyErrorCode;
}

const NO_STORE = { 'Cache-Control': 'no-store' } as const;

/**
 * Builds an exception without capturing a stack trace. For the 401s an attacker can cause at
 * will: their stack only ever points into the guard, and capturing it was most of their cost.
 */
export function withoutStackTrace<T>(create: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return create();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function body(statusCode: number, error: string, code: ApiKeyErrorCode, message: string): ApiKeyErrorBody {
  return { statusCode, error, code, message };
}

/** The two 401s: a challenge in `WWW-Authenticate` and `Cache-Control: no-store`. */
abstract class ApiKeyUnauthorizedException<C extends ApiKeyErrorCode>
  extends UnauthorizedException
  implements ApiKeyHttpException
{
  readonly headers: Readonly<Record<string, string>>;
  protected constructor(
    readonly code: C,
    message: string,
    challenge: string,
  ) {
    super(body(401, 'Unauthorized', code, message));
    this.headers = { ...NO_STORE, 'WWW-Authenticate': challenge };
  }
}

/** 401: no key in the request. `challenge` is the `WWW-Authenticate` value. */
export class ApiKeyMissingException extends ApiKeyUnauthorizedException<typeof ApiKeyErrorCode.Missing> {
  /** @param challenge the `WWW-Authenticate` header value */
  constructor(challenge: string) {
    super(ApiKeyErrorCode.Missing, 'An API key is required', challenge);
  }
}

/** 401: the key is not valid. The same for every reason, so the reason cannot be probed. */
export class ApiKeyInvalidException extends ApiKeyUnauthorizedException<typeof ApiKeyErrorCode.Invalid> {
  /** @param challenge the `WWW-Authenticate` header value */
  constructor(challenge: string) {
    super(ApiKeyErrorCode.Invalid, 'The API key is not valid', challenge);
  }
}

/** 400: more than one key in the request (two sources, or a repeated value). */
export class ApiKeyConflictException extends BadRequestException implements ApiKeyHttpException {
  readonly code = ApiKeyErrorCode.Conflict;
  readonly headers: Readonly<Record<string, string>> = NO_STORE;
  constructor() {
    super(body(400, 'Bad Request', ApiKeyErrorCode.Conflict, 'Send exactly one API key per request'));
  }
}

/** 403: a valid key without the scopes the route requires. */
export class ApiKeyInsufficientScopeException extends ForbiddenException implements ApiKeyHttpException {
  readonly code = ApiKeyErrorCode.InsufficientScope;
  readonly headers: Readonly<Record<string, string>> = NO_STORE;
  /**
   * @param requiredScopes the scopes the route requires
   * @param scopeMode whether all of them or any one is needed
   */
  constructor(requiredScopes: readonly string[], scopeMode: 'all' | 'any') {
    super({
      ...body(403, 'Forbidden', ApiKeyErrorCode.InsufficientScope, 'The API key lacks a required scope'),
      requiredScopes,
      scopeMode,
    });
  }
}

/**
 * 403: a valid key used from outside its allowed networks, or from an origin it is not allowed
 * from (not 401: the key is valid, the place is not). The message says which.
 */
export class ApiKeyRestrictedException extends ForbiddenException implements ApiKeyHttpException {
  readonly code = ApiKeyErrorCode.Restricted;
  readonly headers: Readonly<Record<string, string>> = NO_STORE;
  /** @param reason what the request did not satisfy: its client `network` or its `origin` */
  constructor(readonly reason: 'network' | 'origin') {
    super(
      body(
        403,
        'Forbidden',
        ApiKeyErrorCode.Restricted,
        reason === 'network'
          ? 'The API key may not be used from this network'
          : 'The API key may not be used from this origin',
      ),
    );
  }
}

/** 503: the key store failed, timed out or returned something unusable. Never fails open. */
export class ApiKeyStoreUnavailableException extends ServiceUnavailableException implements ApiKeyHttpException {
  readonly code = ApiKeyErrorCode.Unavailable;
  readonly headers: Readonly<Record<string, string>> = NO_STORE;
  constructor() {
    super(body(503, 'Service Unavailable', ApiKeyErrorCode.Unavailable, 'Authentication is temporarily unavailable'));
  }
}
