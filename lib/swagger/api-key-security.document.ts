import type { OpenAPIObject, SecuritySchemeObject } from '@nestjs/swagger';
import type { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';

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

/** A security requirement: scheme names to their scopes (role names). */
export type SecurityRequirement = Record<string, string[]>;

/** The document configuration `SwaggerModule.createDocument` takes (what `DocumentBuilder.build()` returns). */
export type DocumentConfig = Omit<OpenAPIObject, 'paths'>;

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
 * Names of the schemes in `config` that describe one of the module's own sources under another
 * name (`.addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'my-key')`): the same
 * credential twice. They are replaced by the module's scheme, so Swagger UI has one input for it.
 */
export function aliasesOfOurSchemes(config: DocumentConfig, options: ResolvedApiKeyOptions): string[] {
  const sources: Record<string, string | null> = {
    header: options.header,
    cookie: options.cookie,
    query: options.query,
  };
  return Object.entries(config.components?.securitySchemes ?? {})
    .filter(([name, scheme]) => {
      if (Object.values<string>(ApiKeySecuritySchemeName).includes(name)) return false;
      if (!('type' in scheme) || scheme.type !== 'apiKey' || !scheme.in) return false;
      const ours = sources[scheme.in];
      if (!ours || !scheme.name) return false;
      return scheme.in === 'header' ? ours.toLowerCase() === scheme.name.toLowerCase() : ours === scheme.name;
    })
    .map(([name]) => name);
}

/** The requirements without the schemes in `ours`; `undefined` when removing them leaves none. */
export function withoutOurs(
  requirements: readonly SecurityRequirement[],
  ours: ReadonlySet<string>,
): SecurityRequirement[] | undefined {
  if (!requirements.some((requirement) => Object.keys(requirement).some((name) => ours.has(name))))
    return [...requirements];
  const left = requirements
    .map((requirement) => Object.fromEntries(Object.entries(requirement).filter(([name]) => !ours.has(name))))
    .filter(
      (requirement, index) => Object.keys(requirement).length > 0 || Object.keys(requirements[index]!).length === 0,
    );
  return left.length > 0 ? left : undefined;
}
