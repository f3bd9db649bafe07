import type { INestApplication } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { SwaggerModule, type OpenAPIObject, type SwaggerDocumentOptions } from '@nestjs/swagger';
import { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import { ApiKeyRateLimitHook } from '../rate-limit/rate-limit.hook.js';
import { annotateOperations } from './api-key-operations.metadata.js';
import {
  aliasesOfOurSchemes,
  ApiKeySecuritySchemeName,
  securitySchemesFor,
  withoutOurs,
  type DocumentConfig,
} from './api-key-security.document.js';
import { scanRouteHandlers } from './guarded-handlers.scanner.js';

/**
 * Makes `SwaggerModule.createDocument(app, config)` document API key authentication: pass it the
 * configuration `DocumentBuilder.build()` returns and use what it returns. It
 *
 * - registers one security scheme per source `ApiKeyModule` enables (`api-key` for the header,
 *   `api-key-bearer`, `api-key-cookie`, `api-key-query`), replacing a scheme of `config` that
 *   describes the same source under another name;
 * - gives every handler that `ApiKeyGuard` protects (`@UseGuards` on the handler or controller,
 *   a subclass of the guard, a global guard or `@ApiKeyAuth()`; never `@Public()`) the
 *   `@nestjs/swagger` metadata for its security requirement, its scopes (description,
 *   `x-api-key-scopes`, and with OpenAPI 3.1 the role names of the requirement) and the 401,
 *   403 and 503 responses (and 429 where `ApiKeyRateLimitModule` limits the route), each with
 *   its own schema and example. Requirements of other schemes
 *   (on the handler, its controller or the document) stay in force, combined with the key's;
 * - lists the alternatives of a route that takes more than a key: an empty requirement `{}` beside
 *   the key's on an `@OptionalApiKey()` route, and each scheme of `@ApiKeyAuth({ or: ['jwt'] })`
 *   (a route of `ApiKeyOr(AuthGuard('jwt'))` or `AuthGuard(['api-key', 'jwt'])`) as a requirement
 *   of its own.
 *
 * The handler metadata describes the last application passed here: documenting two applications
 * that share controllers but guard them differently, build one document before the next call.
 *
 * Throws when `config` declares an `apiKey` scheme that no operation uses (Swagger UI's
 * Authorize would store a key that is never sent), when `@ApiKeyAuth({ or })` names a scheme
 * `config` does not declare, when a route of `ApiKeyOr(...)` has no `@ApiKeyAuth()` naming the
 * schemes of its other guards, or when one handler is inherited by controllers that guard it differently.
 *
 * @example
 * const config = withApiKeySecurity(app, new DocumentBuilder().setTitle('Orders').build());
 * SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, config));
 */
export function withApiKeySecurity<T extends DocumentConfig>(app: INestApplication, config: T): T {
  const options = resolvedOptionsOf(app);
  const schemes = securitySchemesFor(options);
  const aliases = aliasesOfOurSchemes(config, options);
  const ours = new Set<string>([...Object.values(ApiKeySecuritySchemeName), ...aliases]);
  const documentSecurity = config.security && withoutOurs(config.security, ours);
  const handlers = scanRouteHandlers(app);
  const referenced = annotateOperations(handlers, {
    options,
    schemes: Object.keys(schemes),
    ours,
    documentSecurity,
    roleNames: !/^3\.0(\.|$)/.test(config.openapi ?? '3.0.0'),
    rateLimited: hasRateLimitHook(app),
  });
  const declared = Object.fromEntries(
    Object.entries(config.components?.securitySchemes ?? {}).filter(([name]) => !aliases.includes(name)),
  );
  for (const [name, scheme] of Object.entries(declared)) {
    if ('type' in scheme && scheme.type === 'apiKey' && !(name in schemes) && !referenced.has(name)) {
      const ourSources = Object.entries(schemes)
        .map(([ourName, our]) => `${ourName}${'name' in our && our.name ? ` (${our.in} ${our.name})` : ''}`)
        .join(', ');
      throw new Error(
        `nestjs-api-key/swagger: the document declares the security scheme "${name}" (${scheme.in} ` +
          `"${scheme.name}"), which no operation uses: Swagger UI's Authorize would store a key it never sends. ` +
          `ApiKeyModule's schemes are ${ourSources}; remove the .addApiKey() call, or reference "${name}" ` +
          'with @ApiSecurity on the operations it protects',
      );
    }
  }
  for (const { controller, name, or, unnamedAlternatives } of handlers) {
    if (unnamedAlternatives) {
      throw new Error(
        `nestjs-api-key/swagger: ${controller.name}.${name} is guarded by ApiKeyOr(...), which admits callers ` +
          "without a key through other guards: name their security schemes with @ApiKeyAuth({ or: ['jwt'] }) " +
          'on the handler or its controller (@ApiKeyAuth() when they have none in the document)',
      );
    }
    const unknown = or.filter((scheme) => !(scheme in declared) && !(scheme in schemes));
    if (unknown.length > 0) {
      throw new Error(
        `nestjs-api-key/swagger: @ApiKeyAuth({ or }) on ${controller.name}.${name} names the security scheme ` +
          `"${unknown[0]}", which the document does not declare; declare it (DocumentBuilder.addBearerAuth(` +
          `{ type: 'http', scheme: 'bearer' }, '${unknown[0]}'), say) or correct the name`,
      );
    }
  }
  const result: T = {
    ...config,
    components: { ...config.components, securitySchemes: { ...declared, ...schemes } },
  };
  if (documentSecurity) result.security = documentSecurity;
  else delete result.security;
  return result;
}

/**
 * `SwaggerModule.createDocument(app, withApiKeySecurity(app, config), options)`: a shortcut for
 * those who prefer one call.
 */
export function createApiKeyDocument(
  app: INestApplication,
  config: DocumentConfig,
  options?: SwaggerDocumentOptions,
): OpenAPIObject {
  return SwaggerModule.createDocument(app, withApiKeySecurity(app, config), options);
}

/** Whether `ApiKeyRateLimitModule` is imported: its hook limits every guarded request. */
function hasRateLimitHook(app: INestApplication): boolean {
  return [...app.get(ModulesContainer).values()].some(
    (module) => module.providers.get(ApiKeyRateLimitHook)?.instance instanceof ApiKeyRateLimitHook,
  );
}

/**
 * The options of the app's `ApiKeyModule`. Several instances must read keys from the same
 * sources: the document has one set of schemes for every guarded operation, and a scheme of one
 * instance on another's routes would make Swagger UI send the wrong credential.
 */
function resolvedOptionsOf(app: INestApplication): ResolvedApiKeyOptions {
  const instances = new Set<ResolvedApiKeyOptions>();
  for (const module of app.get(ModulesContainer).values()) {
    const instance: unknown = module.providers.get(ResolvedApiKeyOptions)?.instance;
    if (instance instanceof ResolvedApiKeyOptions) instances.add(instance);
  }
  const [first, ...others] = instances;
  if (!first)
    throw new Error(
      'nestjs-api-key/swagger: ApiKeyModule is not imported in this application (ResolvedApiKeyOptions not found)',
    );
  if (
    others.some(
      (other) =>
        other.header?.toLowerCase() !== first.header?.toLowerCase() ||
        other.bearer !== first.bearer ||
        other.cookie !== first.cookie ||
        other.query !== first.query,
    )
  ) {
    throw new Error(
      'nestjs-api-key/swagger: the ApiKeyModule instances of this application read keys from different sources; ' +
        'the document has one set of security schemes, so give every instance the same `sources`',
    );
  }
  return first;
}
