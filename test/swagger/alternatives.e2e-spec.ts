import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, UseGuards, type INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { ApiKeyGuard, ApiKeyModule, ApiKeyOr, OptionalApiKey, RequireScopes } from 'nestjs-api-key';
import { ApiKeyAuth, withApiKeySecurity } from 'nestjs-api-key/swagger';
import { READER } from '../support/keys.js';
import { platforms, startApp } from '../support/platforms.js';

@Controller('feed')
@UseGuards(ApiKeyGuard)
class FeedController {
  @Get()
  @OptionalApiKey()
  feed() {}

  @Get('drafts')
  @OptionalApiKey()
  @RequireScopes('orders:write')
  drafts() {}

  @Get('private')
  private() {}
}

@Controller('either')
@UseGuards(AuthGuard(['api-key', 'jwt']))
class EitherController {
  @Get()
  @ApiKeyAuth({ or: ['jwt'] })
  either() {}

  @Get('unmarked')
  unmarked() {}
}

@Controller('key-or-jwt')
@UseGuards(ApiKeyOr(AuthGuard('jwt')))
@ApiKeyAuth({ or: ['jwt'] })
class KeyOrJwtController {
  @Get()
  get() {}

  @Get('scoped')
  @RequireScopes('orders:write')
  scoped() {}

  @Get('optional')
  @OptionalApiKey()
  optional() {}
}

/** `ApiKeyOr` without `@ApiKeyAuth`: the document cannot know the other guard's scheme. */
@Controller('unnamed')
@UseGuards(ApiKeyOr(AuthGuard('jwt')))
class UnnamedAlternativesController {
  @Get()
  get() {}
}

const config = (openapi = '3.0.0') =>
  new DocumentBuilder()
    .setTitle('test')
    .setVersion('1')
    .setOpenAPIVersion(openapi)
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'jwt')
    .build();

const securityOf = (document: OpenAPIObject, path: string) =>
  (document.paths[path]!.get as { security?: unknown }).security ?? 'none';

describe.each(platforms)('alternatives in the OpenAPI document on $name', (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp(
      {
        imports: [ApiKeyModule.forRoot({ keys: [READER] })],
        controllers: [FeedController, EitherController, KeyOrJwtController],
      },
      platform,
    );
  });
  afterAll(() => app.close());

  it('lists an empty requirement beside the key on @OptionalApiKey() routes, and only there', async () => {
    const document = SwaggerModule.createDocument(app, withApiKeySecurity(app, config()));
    expect(securityOf(document, '/feed')).toEqual([{ 'api-key': [] }, {}]);
    expect(securityOf(document, '/feed/drafts')).toEqual([{ 'api-key': [] }, {}]);
    expect(securityOf(document, '/feed/private')).toEqual([{ 'api-key': [] }]);
    // An optional route still answers 401 to a key that is not valid, and 403 to a key without its scope.
    expect(Object.keys(document.paths['/feed/drafts']!.get!.responses)).toEqual(
      expect.arrayContaining(['401', '403', '503']),
    );
    await SwaggerParser.validate(structuredClone(document) as never);
  });

  it('lists the key and each scheme of @ApiKeyAuth({ or }) as alternatives', async () => {
    const document = SwaggerModule.createDocument(app, withApiKeySecurity(app, config()));
    expect(securityOf(document, '/either')).toEqual([{ 'api-key': [] }, { jwt: [] }]);
    expect(securityOf(document, '/either/unmarked')).toBe('none'); // AuthGuard is not ApiKeyGuard: mark it
    await SwaggerParser.validate(structuredClone(document) as never);
  });

  it('lists the key and the schemes @ApiKeyAuth({ or }) names on routes of ApiKeyOr(...), with the key’s scopes', async () => {
    const document = SwaggerModule.createDocument(app, withApiKeySecurity(app, config('3.1.0')));
    expect(securityOf(document, '/key-or-jwt')).toEqual([{ 'api-key': [] }, { jwt: [] }]);
    expect(securityOf(document, '/key-or-jwt/scoped')).toEqual([{ 'api-key': ['orders:write'] }, { jwt: [] }]);
    // ApiKeyOr admits no anonymous caller: @OptionalApiKey() (for a global ApiKeyGuard) adds no `{}`.
    expect(securityOf(document, '/key-or-jwt/optional')).toEqual([{ 'api-key': [] }, { jwt: [] }]);
    expect(Object.keys(document.paths['/key-or-jwt']!.get!.responses)).toEqual(
      expect.arrayContaining(['401', '403', '503']),
    );
    await SwaggerParser.validate(structuredClone(document) as never);
  });

  it('keeps a document-wide requirement of the other scheme as an alternative, not an added requirement', () => {
    const withJwtEverywhere = { ...config(), security: [{ jwt: [] }] };
    const document = SwaggerModule.createDocument(app, withApiKeySecurity(app, withJwtEverywhere));
    expect(securityOf(document, '/either')).toEqual([{ 'api-key': [] }, { jwt: [] }]);
    // Elsewhere the document's requirement still holds beside the key: an optional key adds nothing to it.
    expect(securityOf(document, '/feed')).toEqual([{ jwt: [], 'api-key': [] }, { jwt: [] }]);
  });

  it('lists the scopes of the key in OpenAPI 3.1, the alternatives unchanged', () => {
    const document = SwaggerModule.createDocument(app, withApiKeySecurity(app, config('3.1.0')));
    expect(securityOf(document, '/feed/drafts')).toEqual([{ 'api-key': ['orders:write'] }, {}]);
  });

  it('refuses a scheme of @ApiKeyAuth({ or }) that the document does not declare', () => {
    const bare = new DocumentBuilder().setTitle('test').setVersion('1').build();
    expect(() => withApiKeySecurity(app, bare)).toThrow(
      '@ApiKeyAuth({ or }) on EitherController.either names the security scheme "jwt", which the document does not declare',
    );
  });
});

describe('@ApiKeyAuth({ or })', () => {
  it('refuses names that are not scheme names, at decoration time', () => {
    expect(() => ApiKeyAuth({ or: [''] })).toThrow(TypeError);
    expect(() => ApiKeyAuth({ or: 'jwt' as never })).toThrow(
      '@ApiKeyAuth({ or }) takes the names of security schemes of the document',
    );
  });
});

describe.each(platforms)('ApiKeyOr(...) without @ApiKeyAuth in the OpenAPI document on $name', (platform) => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp(
      { imports: [ApiKeyModule.forRoot({ keys: [READER] })], controllers: [UnnamedAlternativesController] },
      platform,
    );
  });
  afterAll(() => app.close());

  it('refuses to document it as taking a key only', () => {
    expect(() => withApiKeySecurity(app, config())).toThrow(
      'UnnamedAlternativesController.get is guarded by ApiKeyOr(...), which admits callers without a key ' +
        "through other guards: name their security schemes with @ApiKeyAuth({ or: ['jwt'] })",
    );
  });
});

/** Guarded by nothing of its own: the global guard is `ApiKeyOr`. */
@Controller('everywhere')
@ApiKeyAuth({ or: ['jwt'] })
class NamedUnderGlobalOrController {
  @Get()
  get() {}
}

/** Neither guarded nor marked: only the global `ApiKeyOr` guards it. */
@Controller('bare')
class BareController {
  @Get()
  get() {}
}

/** Under the global `ApiKeyOr`, a route of its own `ApiKeyGuard`: callers without a key never get in. */
@Controller('key-only')
@ApiKeyAuth({ or: ['jwt'] })
@UseGuards(ApiKeyGuard)
class KeyOnlyUnderGlobalOrController {
  @Get()
  get() {}
}

describe.each(platforms)('ApiKeyOr(...) as the global guard in the OpenAPI document on $name', (platform) => {
  const start = (controller: new () => object) =>
    startApp(
      {
        imports: [ApiKeyModule.forRoot({ keys: [READER] })],
        controllers: [controller],
        providers: [{ provide: APP_GUARD, useClass: ApiKeyOr(AuthGuard('jwt')) }],
      },
      platform,
    );

  it('lists the key and the named scheme on every route, and refuses a route that names none', async () => {
    const named = await start(NamedUnderGlobalOrController);
    const document = SwaggerModule.createDocument(named, withApiKeySecurity(named, config()));
    expect(securityOf(document, '/everywhere')).toEqual([{ 'api-key': [] }, { jwt: [] }]);
    await named.close();
    const unnamed = await start(BareController);
    expect(() => withApiKeySecurity(unnamed, config())).toThrow('BareController.get is guarded by ApiKeyOr(...)');
    await unnamed.close();
  });

  it('lists only the key on a route whose own ApiKeyGuard refuses callers without a key', async () => {
    const app = await start(KeyOnlyUnderGlobalOrController);
    const document = SwaggerModule.createDocument(app, withApiKeySecurity(app, config()));
    expect(securityOf(document, '/key-only')).toEqual([{ 'api-key': [] }]);
    await app.close();
  });
});
