import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { AddressInfo } from 'node:net';
import { withApiKeySecurity } from 'nestjs-api-key/swagger';

/**
 * Serves Swagger UI at /docs and the OpenAPI document at /docs-json, with NestJS's own recipe.
 * The one line of ours is `withApiKeySecurity`: it adds the API key schemes to the
 * configuration and documents every guarded operation's requirement, scopes and errors.
 * The document is built on its first request, once the app listens, so `servers` can name the
 * address it listens on (or `PUBLIC_URL`) and generated clients get a base URL.
 *
 * `persistAuthorization` keeps the key in the browser's localStorage across reloads, where any
 * script on this origin can read it: convenient for this sample, not for a real deployment.
 */
export function setupSwagger(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, documentConfig(app)), {
    jsonDocumentUrl: 'docs-json',
    swaggerOptions: { persistAuthorization: true },
  });
}

function documentConfig(app: INestApplication) {
  return withApiKeySecurity(
    app,
    new DocumentBuilder()
      .setTitle('nestjs-api-key sample')
      .setDescription('A catalogue with public reads and scoped writes. Authorize with a demo key from the README.')
      .setVersion('1.0')
      .setLicense('MIT', 'https://opensource.org/license/mit')
      .addServer(publicUrl(app), 'This instance')
      .addTag('Catalogue', 'Products: public reads, writes for keys with a `catalogue:` scope.')
      .addTag('Account', 'The calling key.')
      .addTag('Admin', 'For keys with the `admin` scope.')
      .addTag('AdminKeys', 'Key management over HTTP, for keys with the `admin` scope.')
      .addTag('Health', 'For load balancers and orchestrators; public.')
      .build(),
  );
}

/** `PUBLIC_URL`, else the address the app listens on. */
function publicUrl(app: INestApplication): string {
  if (process.env.PUBLIC_URL) return process.env.PUBLIC_URL;
  const address = (app.getHttpServer() as { address(): AddressInfo | string | null }).address();
  if (!address || typeof address === 'string') return 'http://127.0.0.1:3000';
  const host = address.address === '0.0.0.0' || address.address === '::' ? 'localhost' : address.address;
  return `http://${address.family === 'IPv6' && host !== 'localhost' ? `[${host}]` : host}:${address.port}`;
}
