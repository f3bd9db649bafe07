import type { INestApplication } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { DECORATORS, SwaggerModule, type OpenAPIObject, type SwaggerDocumentOptions } from '@nestjs/swagger';
import { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import { applyApiKeySecurity } from './api-key-security.document.js';
import { findGuardedHandlers } from './guarded-handlers.scanner.js';

/** Extension that carries a handler's index from its metadata to its operations, removed afterwards. */
const MARKER = 'x-nestjs-api-key-handler';

/**
 * `SwaggerModule.createDocument` with API key security: use it in its place, with the same
 * arguments. It registers one security scheme per source the module enables (read from
 * `ApiKeyModule`'s own options), and gives every operation that `ApiKeyGuard` protects
 * (`@UseGuards` on the handler or controller, or a global guard; not `@Public()`) the security
 * requirement, its scopes (description, `x-api-key-scopes`, and with OpenAPI 3.1 the role
 * names of the requirement) and the 401/403/503 responses.
 *
 * How operations are matched to handlers: for the duration of the call, each guarded handler
 * carries an `@ApiExtension` marker, so `@nestjs/swagger` itself copies it to every operation
 * it makes from that handler, whatever its path, version, prefix or operationId; the markers
 * are then removed from the document and the handlers' metadata is restored.
 *
 * @example
 * const config = new DocumentBuilder().setTitle('Orders').build();
 * SwaggerModule.setup('docs', app, () => createApiKeyDocument(app, config));
 */
export function createApiKeyDocument(
  app: INestApplication,
  config: Omit<OpenAPIObject, 'paths'>,
  options?: SwaggerDocumentOptions,
): OpenAPIObject {
  const settings = resolvedOptionsOf(app);
  const handlers = [...findGuardedHandlers(app)];
  const previous = handlers.map(([handler]) => ({
    handler,
    own: Reflect.hasOwnMetadata(DECORATORS.API_EXTENSION, handler),
    value: Reflect.getOwnMetadata(DECORATORS.API_EXTENSION, handler) as unknown,
  }));
  let document: OpenAPIObject;
  try {
    handlers.forEach(([handler], index) => {
      const extensions = Reflect.getMetadata(DECORATORS.API_EXTENSION, handler) as object | undefined;
      Reflect.defineMetadata(DECORATORS.API_EXTENSION, { ...extensions, [MARKER]: index }, handler);
    });
    document = SwaggerModule.createDocument(app, config, options);
  } finally {
    for (const { handler, own, value } of previous) {
      if (own) Reflect.defineMetadata(DECORATORS.API_EXTENSION, value, handler);
      else Reflect.deleteMetadata(DECORATORS.API_EXTENSION, handler);
    }
  }
  return applyApiKeySecurity(
    document,
    settings,
    handlers.map(([, guarded]) => guarded),
    MARKER,
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
