import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Module, type INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { ApiKeyGuard, ApiKeyModule } from 'nestjs-api-key';
import { ApiKeyRateLimitModule } from 'nestjs-api-key/rate-limit';
import { createApiKeyDocument, withApiKeySecurity } from 'nestjs-api-key/swagger';
import { READER, TEST_KEYS } from '../support/keys.js';
import { spectralLint } from './openapi-tools.js';
import { platforms, startApp } from '../support/platforms.js';
import {
  AnnotatedController,
  ClassGuardedController,
  ClassSecurityController,
  GlobalController,
  GlobalPublicController,
  InheritedGuardedController,
  InheritedOpenController,
  MethodGuardedController,
  PublicClassController,
  RateLimitedController,
  SubclassGuardedController,
} from './swagger-controllers.js';

const config30 = () => new DocumentBuilder().setTitle('test').setVersion('1').build();
const config31 = () => new DocumentBuilder().setTitle('test').setVersion('1').setOpenAPIVersion('3.1.0').build();
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

type Operation = Record<string, any>;

/** Every operation of the document, keyed `GET /path`. */
function operations(document: OpenAPIObject): Record<string, Operation> {
  const result: Record<string, Operation> = {};
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = (item as Record<string, Operation>)[method];
      if (operation) result[`${method.toUpperCase()} ${path}`] = operation;
    }
  }
  return result;
}

/** The security requirement of each operation (`'none'` when it has none). */
const securityOf = (document: OpenAPIObject) =>
  Object.fromEntries(
    Object.entries(operations(document)).map(([name, operation]) => [name, operation.security ?? 'none']),
  );

/** Names of every property anywhere in `value`. */
function propertyNames(value: unknown, names = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((item) => propertyNames(item, names));
  else if (value && typeof value === 'object') {
    for (const [name, child] of Object.entries(value)) {
      names.add(name);
      propertyNames(child, names);
    }
  }
  return names;
}

const validate = (document: OpenAPIObject) => SwaggerParser.validate(structuredClone(document) as never);

type Build = (app: INestApplication, config: Omit<OpenAPIObject, 'paths'>) => OpenAPIObject;
/** Nest's own recipe with our one line, and the shortcut. */
const recipes: { name: string; build: Build }[] = [
  {
    name: 'SwaggerModule.createDocument(app, withApiKeySecurity(app, config))',
    build: (app, config) => SwaggerModule.createDocument(app, withApiKeySecurity(app, config)),
  },
  { name: 'createApiKeyDocument', build: createApiKeyDocument },
];
const cases = platforms.flatMap((platform) => recipes.map((recipe) => ({ ...recipe, platform })));

describe.each(cases)('$name on $platform.name', ({ platform, build }) => {
  describe('with @UseGuards on classes and methods, and @ApiKeyAuth() (header source only)', () => {
    let app: INestApplication;
    let v30: OpenAPIObject;
    let v31: OpenAPIObject;
    beforeAll(async () => {
      app = await startApp(
        {
          imports: [ApiKeyModule.forRoot({ keys: TEST_KEYS })],
          controllers: [
            ClassGuardedController,
            MethodGuardedController,
            SubclassGuardedController,
            PublicClassController,
            AnnotatedController,
            ClassSecurityController,
          ],
        },
        platform,
      );
      v30 = build(app, config30());
      v31 = build(app, config31());
    });
    afterAll(() => app.close());

    const key: [] = [];

    it('registers the header scheme only, with the configured header name', () => {
      expect(v30.components?.securitySchemes).toEqual({
        'api-key': {
          type: 'apiKey',
          in: 'header',
          name: 'X-API-Key',
          description: 'API key in the `X-API-Key` header.',
        },
      });
    });

    it('secures exactly the guarded operations (OpenAPI 3.0: empty scope arrays)', () => {
      expect(securityOf(v30)).toEqual({
        'GET /class-guarded': [{ 'api-key': key }],
        'GET /class-guarded/all': [{ 'api-key': key }],
        'GET /class-guarded/any': [{ 'api-key': key }],
        'GET /class-guarded/public': 'none',
        'GET /class-guarded/with-jwt': [{ jwt: [], 'api-key': key }],
        'GET /method-guarded/guarded': [{ 'api-key': key }],
        'GET /method-guarded/open': 'none',
        'GET /method-guarded/jwt-only': [{ jwt: [] }],
        'POST /method-guarded/created': [{ 'api-key': key }],
        'POST /method-guarded/accepted': [{ 'api-key': key }],
        'GET /class-jwt/guarded': [{ jwt: [], 'api-key': key }],
        'GET /class-jwt/jwt': [{ jwt: [] }],
        'GET /subclass': [{ 'api-key': key }],
        'GET /subclass/admin': [{ 'api-key': key }],
        'GET /public-class': 'none',
        'GET /annotated': [{ 'api-key': [] }],
        'GET /annotated/public': 'none',
      });
    });

    it('puts the scopes in the requirement as role names with OpenAPI 3.1 (any-of as alternatives)', () => {
      expect(securityOf(v31)).toEqual({
        'GET /class-guarded': [{ 'api-key': [] }],
        'GET /class-guarded/all': [{ 'api-key': ['orders:read', 'orders:write'] }],
        'GET /class-guarded/any': [{ 'api-key': ['orders:write'] }, { 'api-key': ['reports:read'] }],
        'GET /class-guarded/public': 'none',
        'GET /class-guarded/with-jwt': [{ jwt: [], 'api-key': [] }],
        'GET /method-guarded/guarded': [{ 'api-key': [] }],
        'GET /method-guarded/open': 'none',
        'GET /method-guarded/jwt-only': [{ jwt: [] }],
        'POST /method-guarded/created': [{ 'api-key': [] }],
        'POST /method-guarded/accepted': [{ 'api-key': [] }],
        'GET /class-jwt/guarded': [{ jwt: [], 'api-key': [] }],
        'GET /class-jwt/jwt': [{ jwt: [] }],
        'GET /subclass': [{ 'api-key': ['reports:read'] }],
        'GET /subclass/admin': [{ 'api-key': ['admin'] }],
        'GET /public-class': 'none',
        'GET /annotated': [{ 'api-key': [] }],
        'GET /annotated/public': 'none',
      });
    });

    it('shows the scopes in the description and in x-api-key-scopes, keeping the user description', () => {
      const ops = operations(v30);
      expect(ops['GET /class-guarded/all']!.description).toBe(
        'Lists orders.\n\n**API key scopes:** all of `orders:read`, `orders:write`.',
      );
      expect(ops['GET /class-guarded/all']!['x-api-key-scopes']).toEqual({
        mode: 'all',
        scopes: ['orders:read', 'orders:write'],
      });
      expect(ops['GET /class-guarded/any']!.description).toBe(
        '**API key scopes:** at least one of `orders:write`, `reports:read`.',
      );
      expect(ops['GET /class-guarded/any']!['x-api-key-scopes']).toEqual({
        mode: 'any',
        scopes: ['orders:write', 'reports:read'],
      });
      expect(ops['GET /subclass']!['x-api-key-scopes']).toEqual({ mode: 'all', scopes: ['reports:read'] });
      expect(ops['GET /class-guarded']!.description).toBeUndefined();
      expect(ops['GET /class-guarded']!['x-api-key-scopes']).toBeUndefined();
      expect(ops['GET /class-guarded/all']!['x-team']).toBe('orders');
    });

    it('documents 401, 403 and 503 on guarded operations, none on public ones; keeps a 401 of the user', () => {
      const ops = operations(v30);
      const errors = (name: string) =>
        Object.fromEntries(Object.entries(ops[name]!.responses).filter(([status]) => /^(401|403|503)$/.test(status)));
      const schemaOf = (response: any) => response.content['application/json'].schema.$ref;
      expect(Object.keys(errors('GET /class-guarded'))).toEqual(['401', '403', '503']);
      // Any key may be restricted to networks or origins; with scopes, the 403 is either refusal.
      expect(schemaOf(errors('GET /class-guarded')[403])).toBe('#/components/schemas/ApiKeyRestrictedError');
      expect(Object.keys(errors('GET /class-guarded/all'))).toEqual(['401', '403', '503']);
      const all = errors('GET /class-guarded/all');
      expect(schemaOf(all[401])).toBe('#/components/schemas/ApiKeyUnauthorizedError');
      expect((all[403] as any).content['application/json'].schema).toEqual({
        oneOf: [
          { $ref: '#/components/schemas/ApiKeyForbiddenError' },
          { $ref: '#/components/schemas/ApiKeyRestrictedError' },
        ],
      });
      expect(schemaOf(all[503])).toBe('#/components/schemas/ApiKeyUnavailableError');
      expect(all[401]).toMatchObject({
        headers: { 'WWW-Authenticate': { description: 'Challenges: `ApiKey realm="api"`.' } },
      });
      expect(errors('GET /class-guarded/any')[401]).toEqual({ description: 'Our own 401 text' });
      expect(errors('GET /class-guarded/public')).toEqual({});
      expect(errors('GET /public-class')).toEqual({});
    });

    it('keeps the success response of a guarded operation', () => {
      const ops = operations(v30);
      expect(ops['GET /class-guarded']!.responses['200']).toEqual({ description: '' });
      expect(ops['POST /method-guarded/created']!.responses['201']).toEqual({ description: '' });
      expect(ops['POST /method-guarded/accepted']!.responses['202']).toEqual({ description: '' });
    });

    it('gives each error response its own schema with the example a client receives', () => {
      const schemas = v30.components?.schemas as Record<string, any>;
      const example = (name: string) =>
        Object.fromEntries(
          Object.entries(schemas[name].properties).map(([key, value]: [string, any]) => [key, value.example]),
        );
      expect(example('ApiKeyUnauthorizedError')).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        code: 'API_KEY_MISSING',
        message: 'An API key is required',
      });
      expect(example('ApiKeyForbiddenError')).toEqual({
        statusCode: 403,
        error: 'Forbidden',
        code: 'API_KEY_INSUFFICIENT_SCOPE',
        message: 'The API key lacks a required scope',
        requiredScopes: ['orders:write'],
        scopeMode: 'all',
      });
      expect(example('ApiKeyRestrictedError')).toEqual({
        statusCode: 403,
        error: 'Forbidden',
        code: 'API_KEY_RESTRICTED',
        message: 'The API key may not be used from this network',
      });
      expect(example('ApiKeyUnavailableError')).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        code: 'API_KEY_STORE_UNAVAILABLE',
        message: 'Authentication is temporarily unavailable',
      });
    });

    it('replaces a document-wide requirement of its schemes and combines one of another scheme', () => {
      const config = new DocumentBuilder()
        .setTitle('test')
        .setVersion('1')
        .addSecurityRequirements('api-key')
        .addSecurityRequirements('jwt')
        .build();
      const document = build(app, config);
      expect(document.security).toEqual([{ jwt: [] }]);
      const security = securityOf(document);
      expect(security['GET /method-guarded/guarded']).toEqual([{ jwt: [], 'api-key': [] }]);
      expect(security['GET /class-guarded/public']).toBe('none');
    });

    it("is a valid OpenAPI 3.0 and 3.1 document, without errors by Spectral's OpenAPI ruleset", async () => {
      await expect(validate(v30)).resolves.toBeDefined();
      await expect(validate(v31)).resolves.toBeDefined();
      const errors = (await spectralLint({ v30, v31 })).filter((result) => result.severity === 0);
      expect(errors).toEqual([]);
    });

    it('replaces a scheme the config declares for the same header under another name', () => {
      const config = new DocumentBuilder()
        .setTitle('test')
        .setVersion('1')
        .addApiKey({ type: 'apiKey', in: 'header', name: 'x-api-key' }, 'ApiKeyAuth')
        .build();
      const document = build(app, config);
      expect(Object.keys(document.components?.securitySchemes ?? {})).toEqual(['api-key']);
      expect(securityOf(document)['GET /class-guarded']).toEqual([{ 'api-key': [] }]);
    });

    it('refuses an apiKey scheme that no operation uses, naming it and ours', () => {
      const config = new DocumentBuilder().setTitle('test').setVersion('1').addApiKey().build();
      expect(() => build(app, config)).toThrow(
        /security scheme "api_key" \(header "api_key"\), which no operation uses.*schemes are api-key \(header X-API-Key\)/,
      );
    });
  });

  describe('with a global guard and every source enabled', () => {
    let app: INestApplication;
    let v30: OpenAPIObject;
    let v31: OpenAPIObject;
    beforeAll(async () => {
      app = await startApp(
        {
          imports: [
            ApiKeyModule.forRoot({
              keys: TEST_KEYS,
              realm: 'orders',
              sources: { header: 'X-Client-Key', bearer: true, cookie: 'client_key', query: 'api_key' },
            }),
          ],
          controllers: [GlobalController, GlobalPublicController],
          providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }],
        },
        platform,
      );
      v30 = build(app, config30());
      v31 = build(app, config31());
    });
    afterAll(() => app.close());

    const schemes = ['api-key', 'api-key-bearer', 'api-key-cookie', 'api-key-query'];
    const each = (scopes: string[]) => schemes.map((scheme) => ({ [scheme]: scopes }));

    it('registers one scheme per enabled source', () => {
      expect(v30.components?.securitySchemes).toEqual({
        'api-key': {
          type: 'apiKey',
          in: 'header',
          name: 'X-Client-Key',
          description: 'API key in the `X-Client-Key` header.',
        },
        'api-key-bearer': { type: 'http', scheme: 'bearer', description: 'API key as `Authorization: Bearer <key>`.' },
        'api-key-cookie': {
          type: 'apiKey',
          in: 'cookie',
          name: 'client_key',
          description: 'API key in the `client_key` cookie.',
        },
        'api-key-query': {
          type: 'apiKey',
          in: 'query',
          name: 'api_key',
          description: 'API key in the `api_key` query parameter. Risky: URLs are logged; prefer a header.',
        },
      });
      expect(operations(v30)['GET /global']!.responses['401']).toMatchObject({
        headers: {
          'WWW-Authenticate': { description: 'Challenges: `ApiKey realm="orders"`, `Bearer realm="orders"`.' },
        },
      });
    });

    it('secures every operation but the @Public() ones, one alternative per source (OpenAPI 3.0)', () => {
      expect(securityOf(v30)).toEqual({
        'GET /global': each([]),
        'GET /global/any': each([]),
        'GET /global/all': each([]),
        'GET /global/public': 'none',
        'GET /global-public': 'none',
      });
    });

    it('gives the role-name form with OpenAPI 3.1: all-of in one list, any-of as one alternative per scope', () => {
      expect(securityOf(v31)).toEqual({
        'GET /global': each([]),
        'GET /global/any': schemes.flatMap((scheme) => [{ [scheme]: ['a'] }, { [scheme]: ['b'] }]),
        'GET /global/all': each(['a', 'b']),
        'GET /global/public': 'none',
        'GET /global-public': 'none',
      });
    });

    it("is a valid OpenAPI 3.0 and 3.1 document, without errors by Spectral's OpenAPI ruleset", async () => {
      await expect(validate(v30)).resolves.toBeDefined();
      await expect(validate(v31)).resolves.toBeDefined();
      const errors = (await spectralLint({ v30, v31 })).filter((result) => result.severity === 0);
      expect(errors).toEqual([]);
    });

    it('has examples in its error schemas only, and contains no configured key', () => {
      for (const document of [v30, v31]) {
        const { schemas, ...rest } = document.components ?? {};
        const names = propertyNames({ ...document, components: rest });
        expect(['example', 'examples', 'default', 'x-example'].filter((name) => names.has(name))).toEqual([]);
        expect(Object.keys(schemas ?? {}).sort()).toEqual([
          'ApiKeyForbiddenError',
          'ApiKeyRestrictedError',
          'ApiKeyUnauthorizedError',
          'ApiKeyUnavailableError',
        ]);
        const text = JSON.stringify(document);
        for (const { key } of TEST_KEYS) expect(text.includes(key)).toBe(false);
      }
    });
  });

  it('refuses a handler inherited by controllers that guard it differently, naming it', async () => {
    const app = await startApp(
      {
        imports: [ApiKeyModule.forRoot({ keys: [READER] })],
        controllers: [InheritedGuardedController, InheritedOpenController],
      },
      platform,
    );
    try {
      expect(() => build(app, config30())).toThrow(
        /InheritedOpenController\.list is inherited by controllers that guard it differently/,
      );
    } finally {
      await app.close();
    }
  });

  it('refuses two ApiKeyModule instances that read keys from different sources, and documents two that agree', async () => {
    @Module({
      imports: [ApiKeyModule.forRoot({ keys: [READER], sources: { header: 'X-Partner-Key' } })],
      controllers: [MethodGuardedController],
    })
    class PartnerModule {}
    @Module({
      imports: [ApiKeyModule.forRoot({ keys: [READER], sources: { header: 'x-api-key' } })],
      controllers: [ClassGuardedController],
    })
    class SameSourcesModule {}
    const differing = await startApp(
      { imports: [ApiKeyModule.forRoot({ keys: TEST_KEYS, isGlobal: true }), PartnerModule] },
      platform,
    );
    try {
      expect(() => build(differing, config30())).toThrow(
        /instances of this application read keys from different sources/,
      );
    } finally {
      await differing.close();
    }
    const agreeing = await startApp(
      { imports: [ApiKeyModule.forRoot({ keys: TEST_KEYS, isGlobal: true }), SameSourcesModule] },
      platform,
    );
    try {
      expect(Object.keys(build(agreeing, config30()).components?.securitySchemes ?? {})).toEqual(['api-key']);
    } finally {
      await agreeing.close();
    }
  });

  it('documents the guarded operations of an application that is not initialised yet (global guard)', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ApiKeyModule.forRoot({ keys: [READER] })],
      controllers: [GlobalController, GlobalPublicController],
      providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }],
    }).compile();
    const app = moduleRef.createNestApplication(platform.createAdapter(), { logger: false });
    try {
      const security = securityOf(build(app, config30()));
      expect(security['GET /global']).toEqual([{ 'api-key': [] }]);
      expect(security['GET /global/public']).toBe('none');
    } finally {
      await app.close();
    }
  });

  it('documents 429 on the guarded routes ApiKeyRateLimitModule limits, and only with it', async () => {
    const limited = await startApp(
      {
        imports: [
          ApiKeyModule.forRoot({ keys: [READER], isGlobal: true }),
          ApiKeyRateLimitModule.forRoot({ limit: { points: 10, durationMs: 60_000 } }),
        ],
        controllers: [RateLimitedController, GlobalPublicController],
      },
      platform,
    );
    try {
      const ops = operations(build(limited, config30()));
      expect(ops['GET /limited']!.responses['429']).toMatchObject({
        headers: { 'Retry-After': { schema: { type: 'integer' } } },
        content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiKeyRateLimitedError' } } },
      });
      expect(ops['GET /limited/unlimited']!.responses['429']).toBeUndefined();
      expect(ops['GET /global-public']!.responses['429']).toBeUndefined();
    } finally {
      await limited.close();
    }
    const unlimited = await startApp(
      { imports: [ApiKeyModule.forRoot({ keys: [READER] })], controllers: [RateLimitedController] },
      platform,
    );
    try {
      expect(operations(build(unlimited, config30()))['GET /limited']!.responses['429']).toBeUndefined();
    } finally {
      await unlimited.close();
    }
  });

  it('says so when ApiKeyModule is not imported', async () => {
    const app = await startApp({ controllers: [GlobalPublicController] }, platform);
    try {
      expect(() => build(app, config30())).toThrow(
        'nestjs-api-key/swagger: ApiKeyModule is not imported in this application',
      );
    } finally {
      await app.close();
    }
  });
});
