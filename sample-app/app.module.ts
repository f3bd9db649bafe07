import { Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigModule, ConfigService, type ConfigType } from '@nestjs/config';
import { APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ApiKeyGuard, ApiKeyModule, createApiKeyStore } from 'nestjs-api-key';
import { ApiKeyHealthIndicator } from 'nestjs-api-key/health';
import {
  ApiKeyLeaksModule,
  GITHUB_SECRET_SCANNING_KEYS_URL,
  GitHubSecretScanningPublicKeys,
} from 'nestjs-api-key/leaks';
import { ApiKeyRateLimitModule, ResolvedRateLimitOptions } from 'nestjs-api-key/rate-limit';
import { AccountController } from './account.controller.js';
import { AdminController } from './admin.controller.js';
import { AdminKeysController } from './admin-keys.controller.js';
import { apiKeyConfig } from './api-key.config.js';
import { Catalogue } from './catalogue.js';
import { CatalogueController } from './catalogue.controller.js';
import { CatalogueGateway } from './catalogue.gateway.js';
import { FirstAdminKey } from './first-admin-key.js';
import { graphqlModule } from './graphql.module.js';
import { HealthController } from './health.controller.js';
import { rateLimitConfig, redisFromEnvironment } from './rate-limit.config.js';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, load: [apiKeyConfig, rateLimitConfig] }),
    ApiKeyModule.forRootAsync({
      isGlobal: true,
      inject: [apiKeyConfig.KEY, ConfigService],
      useFactory: async (options: ConfigType<typeof apiKeyConfig>, config: ConfigService) => ({
        ...options,
        // The CLI's store URL: a SQLite file by default (nothing to install, kept across restarts),
        // or postgres://… (several instances share it), or memory:. The sample migrates at startup;
        // a production app would rather run `npx nestjs-api-key migrate` once per release.
        repository: await createApiKeyStore(config.get('DATABASE_URL', 'sqlite:./data/sample-app.db'), {
          migrate: true,
        }),
        cache: true,
      }),
    }),
    ApiKeyRateLimitModule.forRootAsync({
      inject: [rateLimitConfig.KEY],
      useFactory: async (options: ConfigType<typeof rateLimitConfig>) => ({
        ...options,
        redis: await redisFromEnvironment(),
      }),
    }),
    // GitHub's secret-scanning reports at POST /github/secret-scanning (the app is created with
    // rawBody: true): a leaked key is revoked and an api-key.leaked event logged with its owner.
    // SECRET_SCANNING_KEYS_URL points at a GitHub Enterprise Server's keys (or a test's).
    ApiKeyLeaksModule.forRootAsync({
      path: 'github/secret-scanning',
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        action: 'revoke' as const,
        publicKeys: new GitHubSecretScanningPublicKeys({
          url: config.get('SECRET_SCANNING_KEYS_URL', GITHUB_SECRET_SCANNING_KEYS_URL),
          token: config.get('GITHUB_TOKEN'),
        }),
      }),
    }),
    TerminusModule,
  ],
  controllers: [CatalogueController, AccountController, AdminController, AdminKeysController, HealthController],
  providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }, Catalogue, FirstAdminKey, ApiKeyHealthIndicator],
})
export class AppModule implements OnApplicationShutdown {
  constructor(private readonly rateLimit: ResolvedRateLimitOptions) {}

  /**
   * The app with its GraphQL endpoint for `adapter` (Apollo on Express, Mercurius on Fastify), and
   * on Express its socket.io gateway. Not on Fastify: Mercurius's subscriptions (@fastify/websocket)
   * route every upgrade request through Fastify, whose 404 corrupts socket.io's WebSocket connections.
   */
  static forAdapter(adapter: string): DynamicModule {
    return {
      module: AppModule,
      imports: graphqlModule(adapter),
      providers: adapter === 'express' ? [CatalogueGateway] : [],
    };
  }

  /** The Redis client is the app's own (the rate limiter never closes it): it goes with the app. */
  onApplicationShutdown(): void {
    this.rateLimit.redis?.disconnect();
  }
}
