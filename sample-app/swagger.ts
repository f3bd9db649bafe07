import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { withApiKeySecurity } from 'nestjs-api-key/swagger';

/**
 * Serves Swagger UI at /docs and the OpenAPI document at /docs-json, with NestJS's own recipe.
 * The one line of ours is `withApiKeySecurity`: it adds the API key schemes to the
 * configuration and documents every guarded operation's requirement, scopes and errors.
 *
 * `persistAuthorization` keeps the key in the browser's localStorage across reloads, where any
 * script on this origin can read it: convenient for this sample, not for a real deployment.
 */
export function setupSwagger(app: INestApplication): void {
  const config = withApiKeySecurity(
    app,
    new DocumentBuilder()
      .setTitle('nestjs-api-key sample')
      .setDescription('A catalogue with public reads and scoped writes. Authorize with a demo key from the README.')
      .setVersion('1.0')
      .build(),
  );
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, config), {
    jsonDocumentUrl: 'docs-json',
    swaggerOptions: { persistAuthorization: true },
  });
}
