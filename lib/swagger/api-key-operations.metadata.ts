import { RequestMethod, type Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DECORATORS, getSchemaPath } from '@nestjs/swagger';
import type { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import type { ScopeRequirement } from '../guard/api-key.scopes.js';
import { SkipRateLimitMetadata } from '../rate-limit/rate-limit.decorator.js';
import {
  ApiKeyForbiddenError,
  ApiKeyRateLimitedError,
  ApiKeyRestrictedError,
  ApiKeyUnauthorizedError,
  ApiKeyUnavailableError,
} from './api-key-error.schemas.js';
import { API_KEY_SCOPES_EXTENSION, type SecurityRequirement, withoutOurs } from './api-key-security.document.js';
import type { RouteHandler } from './guarded-handlers.scanner.js';

/** Route metadata keys of `@nestjs/common` (stable since Nest 5, not exported from its root). */
const METHOD_METADATA = 'method';
const HTTP_CODE_METADATA = '__httpCode__';
/** Where the `@nestjs/swagger` CLI plugin puts what it read from the source (`plugin-constants`). */
const PLUGIN_METADATA_FACTORY = '_OPENAPI_METADATA_FACTORY';

/** What the handlers of one application must say, as `@nestjs/swagger` metadata. */
export interface OperationSecurity {
  readonly options: ResolvedApiKeyOptions;
  /** The module's scheme names, in the order of the alternatives. */
  readonly schemes: readonly string[];
  /** Every name that stands for one of the module's sources (its own names and aliases). */
  readonly ours: ReadonlySet<string>;
  /** The document-wide requirements, without the module's schemes. */
  readonly documentSecurity: readonly SecurityRequirement[] | undefined;
  /** OpenAPI 3.1 or later: scopes may be listed as role names in the requirement. */
  readonly roleNames: boolean;
  /** Whether `ApiKeyRateLimitModule` limits the guarded routes (those without `@SkipRateLimit()`). */
  readonly rateLimited: boolean;
}

const reflector = new Reflector();

type Write = readonly [target: object, key: string, value: unknown];

/** The own metadata each target had before this module first wrote to it. */
const originals = new Map<object, Map<string, { own: boolean; value: unknown }>>();

/**
 * Writes the `@nestjs/swagger` metadata (what `@ApiSecurity`, `@ApiResponse`, `@ApiOperation` and
 * `@ApiExtension` would write) that makes `SwaggerModule.createDocument` document each guarded
 * handler: the security requirement (combined with requirements of other schemes in force), the
 * scopes and the 401/403/429/503 responses. Handlers that are not guarded lose requirements naming
 * the module's schemes: the guard does not protect them.
 *
 * Every call first restores what the previous call changed, so the metadata describes the last
 * application documented. Returns the scheme names the operations reference.
 */
export function annotateOperations(handlers: readonly RouteHandler[], security: OperationSecurity): Set<string> {
  restoreOriginals();
  const classSecurity = new Map<Type, SecurityRequirement[] | undefined>();
  for (const { controller } of handlers)
    classSecurity.set(controller, Reflect.getMetadata(DECORATORS.API_SECURITY, controller));
  const planned = new Map<Function, { plan: Write[]; json: string; where: string }>();
  const referenced = new Set<string>();
  for (const route of handlers) {
    const plan = planFor(route, classSecurity.get(route.controller), security, referenced);
    const json = JSON.stringify(
      plan.map(([, key, value]) => [key, value]),
      (_, value: unknown) => (typeof value === 'function' ? (value as Function).name : value),
    );
    const earlier = planned.get(route.handler);
    if (earlier && earlier.json !== json) {
      throw new Error(
        `nestjs-api-key/swagger: ${route.controller.name}.${route.name} ` +
          `is inherited by controllers that guard it differently (${earlier.where} is another); ` +
          'override it in each controller (calling super) so each has its own handler',
      );
    }
    planned.set(route.handler, { plan, json, where: route.controller.name });
  }
  for (const [controller, requirements] of classSecurity)
    if (requirements?.length) write(controller, DECORATORS.API_SECURITY, undefined); // pushed down to each method
  for (const { plan } of planned.values()) for (const [target, key, value] of plan) write(target, key, value);
  for (const requirement of security.documentSecurity ?? []) Object.keys(requirement).forEach((n) => referenced.add(n));
  return referenced;
}

function planFor(
  route: RouteHandler,
  classSecurity: readonly SecurityRequirement[] | undefined,
  security: OperationSecurity,
  referenced: Set<string>,
): Write[] {
  const { handler } = route;
  const declared = [
    ...(classSecurity ?? []),
    ...((Reflect.getMetadata(DECORATORS.API_SECURITY, handler) ?? []) as SecurityRequirement[]),
  ];
  const others = declared.length > 0 ? withoutOurs(declared, security.ours) : undefined;
  const plan: Write[] = [];
  let requirements: SecurityRequirement[] | undefined = others;
  if (route.guarded) {
    // Schemes the route takes instead of a key (`@ApiKeyAuth({ or })`) are alternatives to it, not requirements.
    const inherited = withoutOurs(others ?? security.documentSecurity ?? [], new Set(route.or)) ?? [];
    const alternatives = [
      ...security.schemes.flatMap((scheme) => alternativesOf(scheme, route.scopes, security.roleNames)),
      ...route.or.map((scheme): SecurityRequirement => ({ [scheme]: [] })),
      ...(route.optional ? [{}] : []), // `@OptionalApiKey()`: no credential at all is a way in too
    ];
    // Requirements already in force (another guard's scheme, on the operation or the document) still hold: AND them in.
    requirements = (inherited.length > 0 ? inherited : [{}]).flatMap((other) =>
      alternatives.map((ours) => ({ ...other, ...ours })),
    );
    plan.push(...documentationOf(route, security));
  }
  if (route.guarded || classSecurity?.length || JSON.stringify(requirements) !== JSON.stringify(declared))
    plan.push([handler, DECORATORS.API_SECURITY, requirements]);
  for (const requirement of requirements ?? []) Object.keys(requirement).forEach((name) => referenced.add(name));
  return plan;
}

function alternativesOf(
  scheme: string,
  scopes: ScopeRequirement | undefined,
  roleNames: boolean,
): SecurityRequirement[] {
  if (!roleNames || !scopes) return [{ [scheme]: [] }];
  return scopes.mode === 'all'
    ? [{ [scheme]: [...scopes.scopes] }]
    : scopes.scopes.map((scope) => ({ [scheme]: [scope] }));
}

/** The responses, scope description and scope extension of a guarded handler. */
function documentationOf(route: RouteHandler, { options, rateLimited }: OperationSecurity): Write[] {
  const { controller, name, handler, scopes } = route;
  const responses = {
    ...(Reflect.getMetadata(DECORATORS.API_RESPONSE, handler) ?? successResponse(controller, name, handler)),
  };
  responses['401'] ??= {
    description: 'No API key, or one that is not valid (the same answer for every reason).',
    type: ApiKeyUnauthorizedError,
    headers: {
      'WWW-Authenticate': { description: `Challenges: ${challenges(options)}.`, schema: { type: 'string' } },
    },
  };
  // Any key may be restricted to networks or origins: every guarded operation may answer 403.
  responses['403'] ??= scopes
    ? {
        description:
          'The API key lacks a required scope (`API_KEY_INSUFFICIENT_SCOPE`), or may not be used ' +
          'from the client network or origin (`API_KEY_RESTRICTED`).',
        schema: {
          oneOf: [ApiKeyForbiddenError, ApiKeyRestrictedError].map((model) => ({ $ref: getSchemaPath(model) })),
        },
      }
    : {
        description: 'The API key may not be used from the client network or origin (`API_KEY_RESTRICTED`).',
        type: ApiKeyRestrictedError,
      };
  if (rateLimited && !reflector.getAllAndOverride(SkipRateLimitMetadata, [handler, controller])) {
    responses['429'] ??= {
      description: 'A rate limit or quota of the key is exhausted; retry after `Retry-After` seconds.',
      type: ApiKeyRateLimitedError,
      headers: { 'Retry-After': { description: 'Seconds to wait.', schema: { type: 'integer' } } },
    };
  }
  responses['503'] ??= { description: 'The key store is unavailable; try again later.', type: ApiKeyUnavailableError };
  const extraModels = (Reflect.getMetadata(DECORATORS.API_EXTRA_MODELS, handler) ?? []) as Function[];
  const writes: Write[] = [
    [handler, DECORATORS.API_RESPONSE, responses],
    [handler, DECORATORS.API_EXTRA_MODELS, [...extraModels, ApiKeyForbiddenError, ApiKeyRestrictedError]],
  ];
  if (scopes) {
    const which = scopes.mode === 'all' ? 'all of' : 'at least one of';
    const line = `**API key scopes:** ${which} ${scopes.scopes.map((scope) => `\`${scope}\``).join(', ')}.`;
    const operation = (Reflect.getMetadata(DECORATORS.API_OPERATION, handler) ?? {}) as { description?: string };
    const description = operation.description ? `${operation.description}\n\n${line}` : line;
    const extensions = Reflect.getMetadata(DECORATORS.API_EXTENSION, handler) as object | undefined;
    writes.push(
      [handler, DECORATORS.API_OPERATION, { ...operation, description }],
      [
        handler,
        DECORATORS.API_EXTENSION,
        { ...extensions, [API_KEY_SCOPES_EXTENSION]: { mode: scopes.mode, scopes: [...scopes.scopes] } },
      ],
    );
  }
  return writes;
}

/**
 * The success response `@nestjs/swagger` documents for a handler without `@ApiResponse`: the
 * CLI plugin's (from the return type), else an empty one with the route's status. It must be
 * written out, since a handler with responses of its own gets neither.
 */
function successResponse(controller: Type, name: string, handler: Function): Record<string, object> {
  const status =
    (Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined) ??
    (Reflect.getMetadata(METHOD_METADATA, handler) === RequestMethod.POST ? 201 : 200);
  const factory = (controller as unknown as Record<string, unknown>)[PLUGIN_METADATA_FACTORY];
  const fromPlugin =
    typeof factory === 'function'
      ? (factory.call(controller) as Record<string, Record<string, unknown>>)[name]
      : undefined;
  const { summary: _s, deprecated: _d, tags: _t, status: pluginStatus, ...response } = fromPlugin ?? {};
  if (Object.keys(response).length === 0) return { [status]: { description: '' } };
  const type = Array.isArray(response.type) ? response.type[0] : response.type;
  const isArray = Array.isArray(response.type) || response.isArray === true;
  return { [(pluginStatus as number | undefined) ?? status]: { description: '', ...response, type, isArray } };
}

function challenges(options: ResolvedApiKeyOptions): string {
  return [options.header || options.cookie || options.query ? 'ApiKey' : '', options.bearer ? 'Bearer' : '']
    .filter(Boolean)
    .map((scheme) => `\`${scheme} realm="${options.realm}"\``)
    .join(', ');
}

function write(target: object, key: string, value: unknown): void {
  let saved = originals.get(target);
  if (!saved) originals.set(target, (saved = new Map()));
  if (!saved.has(key))
    saved.set(key, { own: Reflect.hasOwnMetadata(key, target), value: Reflect.getOwnMetadata(key, target) });
  Reflect.defineMetadata(key, value, target);
}

function restoreOriginals(): void {
  for (const [target, keys] of originals) {
    for (const [key, { own, value }] of keys) {
      if (own) Reflect.defineMetadata(key, value, target);
      else Reflect.deleteMetadata(key, target);
    }
  }
  originals.clear();
}
