import { ApiProperty } from '@nestjs/swagger';
import { ApiKeyErrorCode } from '../api-key.exceptions.js';

/**
 * The error bodies the guard answers with, as `@nestjs/swagger` models: each becomes a schema
 * of its own in `components.schemas` (named after the class), with the exact example a client
 * receives. Their shape is `ApiKeyErrorBody`.
 */
export class ApiKeyUnauthorizedError {
  @ApiProperty({ type: 'integer', enum: [401], example: 401 })
  statusCode!: number;

  @ApiProperty({ enum: ['Unauthorized'], example: 'Unauthorized' })
  error!: string;

  @ApiProperty({
    enum: [ApiKeyErrorCode.Missing, ApiKeyErrorCode.Invalid],
    example: ApiKeyErrorCode.Missing,
    description: '`API_KEY_MISSING` without a key; `API_KEY_INVALID` for every reason a key is refused.',
  })
  code!: string;

  @ApiProperty({ example: 'An API key is required' })
  message!: string;
}

/** 403: the key is valid but lacks a scope the route requires. */
export class ApiKeyForbiddenError {
  @ApiProperty({ type: 'integer', enum: [403], example: 403 })
  statusCode!: number;

  @ApiProperty({ enum: ['Forbidden'], example: 'Forbidden' })
  error!: string;

  @ApiProperty({ enum: [ApiKeyErrorCode.InsufficientScope], example: ApiKeyErrorCode.InsufficientScope })
  code!: string;

  @ApiProperty({ example: 'The API key lacks a required scope' })
  message!: string;

  @ApiProperty({ type: [String], example: ['orders:write'], description: 'The scopes the route requires.' })
  requiredScopes!: string[];

  @ApiProperty({
    enum: ['all', 'any'],
    example: 'all',
    description: 'Whether all of `requiredScopes` are needed, or one.',
  })
  scopeMode!: string;
}

/**
 * 403: the key is valid but may not be used from the client's network or the request's origin
 * (its per-key restrictions). Any guarded operation may answer it.
 */
export class ApiKeyRestrictedError {
  @ApiProperty({ type: 'integer', enum: [403], example: 403 })
  statusCode!: number;

  @ApiProperty({ enum: ['Forbidden'], example: 'Forbidden' })
  error!: string;

  @ApiProperty({ enum: [ApiKeyErrorCode.Restricted], example: ApiKeyErrorCode.Restricted })
  code!: string;

  @ApiProperty({
    enum: ['The API key may not be used from this network', 'The API key may not be used from this origin'],
    example: 'The API key may not be used from this network',
  })
  message!: string;
}

/** 503: the key store failed or timed out; the request was refused, never let through. */
export class ApiKeyUnavailableError {
  @ApiProperty({ type: 'integer', enum: [503], example: 503 })
  statusCode!: number;

  @ApiProperty({ enum: ['Service Unavailable'], example: 'Service Unavailable' })
  error!: string;

  @ApiProperty({ enum: [ApiKeyErrorCode.Unavailable], example: ApiKeyErrorCode.Unavailable })
  code!: string;

  @ApiProperty({ example: 'Authentication is temporarily unavailable' })
  message!: string;
}

/** 429: a rate limit or quota of `nestjs-api-key/rate-limit` is exhausted. */
export class ApiKeyRateLimitedError {
  @ApiProperty({ type: 'integer', enum: [429], example: 429 })
  statusCode!: number;

  @ApiProperty({ enum: ['Too Many Requests'], example: 'Too Many Requests' })
  error!: string;

  @ApiProperty({ enum: ['API_KEY_RATE_LIMITED'], example: 'API_KEY_RATE_LIMITED' })
  code!: string;

  @ApiProperty({ example: 'Rate limit exceeded' })
  message!: string;

  @ApiProperty({ example: 'free', description: 'The exhausted policy, as named in the `RateLimit` header.' })
  policy!: string;

  @ApiProperty({ type: 'integer', example: 42, description: 'Seconds to wait, as in `Retry-After`.' })
  retryAfter!: number;
}
