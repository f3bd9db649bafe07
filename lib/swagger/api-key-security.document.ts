import type { OpenAPIObject, OperationObject, SecuritySchemeObject } from '@nestjs/swagger';
import { ApiKeyErrorCode } from '../api-key.exceptions.js';
import type { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import type { ScopeRequirement } from '../guard/api-key.scopes.js';
import type { GuardedHandler } from './guarded-handlers.scanner.js';

/**
 * Names of the security schemes registered in `components.securitySchemes`, one per enabled
 * source. Operations reference them; use them if you add requirements of your own.
 */
export const ApiKeySecuritySchemeName = {
  header: 'api-key',
  bearer: 'api-key-bearer',
  cookie: 'api-key-cookie',
  query: 'api-key-query',
} as const;

/** Operation extension listing the scopes a guarded operation requires: `{ mode, scopes }`. */
export const API_KEY_SCOPES_EXTENSION = 'x-api-key-scopes';

/** Names of what is added to `components`: the error body schema and the three error responses. */
export const ApiKeyComponentName = {
  errorSchema: 'ApiKeyError',
  unauthorized: 'ApiKeyUnauthorized',
  forbidden: 'ApiKeyForbidden',
  unavailable: 'ApiKeyUnavailable',
} as const;

type SecurityRequirement = Record<string, string[]>;
type Operation = OperationObject & Record<string, unknown>;

/** The security schemes for the module's enabled sources, keyed by scheme name. */
export function securitySchemesFor(options: ResolvedApiKeyOptions): Record<string, SecuritySchemeObject> {
  const schemes: Record<string, SecuritySchemeObject> = {};
  if (options.header) {
    schemes[ApiKeySecuritySchemeName.header] = {
      type: 'apiKey',
      in: 'header',
      name: options.header,
      description: `API key in the \`${options.header}\` header.`,
    };
  }
  if (options.bearer) {
    schemes[ApiKeySecuritySchemeName.bearer] = {
      type: 'http',
      scheme: 'bearer',
      description: 'API key as `Authorization: Bearer <key>`.',
    };
  }
  if (options.cookie) {
    schemes[ApiKeySecuritySchemeName.cookie] = {
      type: 'apiKey',
      in: 'cookie',
      name: options.cookie,
      description: `API key in the \`${options.cookie}\` cookie.`,
    };
  }
  if (options.query) {
    schemes[ApiKeySecuritySchemeName.query] = {
      type: 'apiKey',
      in: 'query',
      name: options.query,
      description: `API key in the \`${options.query}\` query parameter. Risky: URLs are logged; prefer a header.`,
    };
  }
  return schemes;
}

/**
 * Rewrites `document` in place: registers the schemes, then gives every operation carrying
 * `marker` (the index of its handler in `handlers`) the security requirement, scope
 * documentation and error responses, and removes the marker. Requirements of other schemes (on
 * the operation, else the document) are kept and combined with the API key's. Requirements
 * naming this library's schemes are removed everywhere else: the guard does not protect those.
 */
export function applyApiKeySecurity(
  document: OpenAPIObject,
  options: ResolvedApiKeyOptions,
  handlers: readonly GuardedHandler[],
  marker: string,
): OpenAPIObject {
  const schemes = securitySchemesFor(options);
  const ours = new Set<string>(Object.values(ApiKeySecuritySchemeName));
  const roleNames = !/^3\.0(\.|$)/.test(document.openapi);
  const components = document.components ?? {};
  document.components = {
    ...components,
    securitySchemes: { ...components.securitySchemes, ...schemes },
    schemas: { ...components.schemas, [ApiKeyComponentName.errorSchema]: errorSchema() },
    responses: { ...components.responses, ...errorResponses(options) },
  };
  if (document.security) document.security = withoutOurs(document.security, ours);
  if (!document.security) delete document.security;
  for (const pathItem of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(pathItem as Record<string, unknown>)) {
      if (!isOperation(operation)) continue;
      const index = operation[marker];
      delete operation[marker];
      const others = operation.security && withoutOurs(operation.security, ours);
      if (others) operation.security = others;
      else delete operation.security;
      const inherited = operation.security ?? document.security ?? [];
      if (typeof index === 'number')
        secure(operation, handlers[index]!.scopes, inherited, Object.keys(schemes), roleNames);
    }
  }
  return document;
}

function secure(
  operation: Operation,
  scopes: ScopeRequirement | undefined,
  inherited: SecurityRequirement[],
  schemes: string[],
  roleNames: boolean,
): void {
  const alternatives = schemes.flatMap((scheme): SecurityRequirement[] => {
    if (!roleNames || !scopes) return [{ [scheme]: [] }];
    return scopes.mode === 'all'
      ? [{ [scheme]: [...scopes.scopes] }]
      : scopes.scopes.map((scope) => ({ [scheme]: [scope] }));
  });
  // Requirements already in force (another guard's scheme, on the operation or the document) still hold: AND them in.
  const existing = inherited.length > 0 ? inherited : [{}];
  operation.security = existing.flatMap((other) => alternatives.map((ours) => ({ ...other, ...ours })));
  const responses = operation.responses ?? {};
  responses['401'] ??= { $ref: `#/components/responses/${ApiKeyComponentName.unauthorized}` };
  if (scopes) responses['403'] ??= { $ref: `#/components/responses/${ApiKeyComponentName.forbidden}` };
  responses['503'] ??= { $ref: `#/components/responses/${ApiKeyComponentName.unavailable}` };
  operation.responses = responses;
  if (scopes) {
    operation[API_KEY_SCOPES_EXTENSION] = { mode: scopes.mode, scopes: [...scopes.scopes] };
    const which = scopes.mode === 'all' ? 'all of' : 'at least one of';
    const line = `**API key scopes:** ${which} ${scopes.scopes.map((scope) => `\`${scope}\``).join(', ')}.`;
    operation.description = operation.description ? `${operation.description}\n\n${line}` : line;
  }
}

/** The requirements without this library's schemes; `undefined` when removing them leaves none. */
function withoutOurs(requirements: SecurityRequirement[], ours: Set<string>): SecurityRequirement[] | undefined {
  if (!requirements.some((requirement) => Object.keys(requirement).some((name) => ours.has(name)))) return requirements;
  const left = requirements
    .map((requirement) => Object.fromEntries(Object.entries(requirement).filter(([name]) => !ours.has(name))))
    .filter(
      (requirement, index) => Object.keys(requirement).length > 0 || Object.keys(requirements[index]!).length === 0,
    );
  return left.length > 0 ? left : undefined;
}

function isOperation(value: unknown): value is Operation {
  return typeof value === 'object' && value !== null && 'responses' in value;
}

function errorResponses(options: ResolvedApiKeyOptions) {
  const body = { 'application/json': { schema: { $ref: `#/components/schemas/${ApiKeyComponentName.errorSchema}` } } };
  const challenges = [
    options.header || options.cookie || options.query ? 'ApiKey' : '',
    options.bearer ? 'Bearer' : '',
  ].filter(Boolean);
  return {
    [ApiKeyComponentName.unauthorized]: {
      description: 'No API key, or one that is not valid (the same answer for every reason).',
      headers: {
        'WWW-Authenticate': {
          description:
            'Challenges: ' + challenges.map((scheme) => `\`${scheme} realm="${options.realm}"\``).join(', ') + '.',
          schema: { type: 'string' },
        },
      },
      content: body,
    },
    [ApiKeyComponentName.forbidden]: { description: 'The API key lacks a required scope.', content: body },
    [ApiKeyComponentName.unavailable]: { description: 'The key store is unavailable; try again later.', content: body },
  };
}

function errorSchema() {
  return {
    type: 'object',
    required: ['statusCode', 'error', 'code', 'message'],
    properties: {
      statusCode: { type: 'integer' },
      error: { type: 'string' },
      code: { type: 'string', enum: Object.values(ApiKeyErrorCode) },
      message: { type: 'string' },
      requiredScopes: { type: 'array', items: { type: 'string' }, description: 'Only on 403.' },
      scopeMode: { type: 'string', enum: ['all', 'any'], description: 'Only on 403.' },
    },
  };
}
