import { Module, type Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ResolvedApiKeyOptions } from './api-key-options.js';
import type { ApiKeyModuleOptions } from './api-key-module-options.interface.js';
import { ApiKeyAuthenticator } from './api-key.authenticator.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { ApiKeyHasher } from './api-key.hasher.js';
import { API_KEY_MODULE_OPTIONS, ConfigurableApiKeyModule } from './api-key.module-definition.js';
import { ApiKeyRepository } from './api-key.repository.js';
import { InMemoryApiKeyRepository } from './in-memory-api-key.repository.js';
import { CachedApiKeyStore } from './cached-api-key.store.js';

/**
 * API key authentication for a Nest application.
 *
 * `ApiKeyModule.forRoot({ keys, sources, repository, pepper })`, or
 * `ApiKeyModule.forRootAsync({ imports, inject, useFactory })` to read options from
 * `ConfigService` (a `registerAs(...).asProvider()` works as is). Add `isGlobal: true` so
 * `@UseGuards(ApiKeyGuard)` works in every module. Invalid options throw
 * {@link ApiKeyConfigurationError} at bootstrap.
 */
@Module({
  providers: [
    {
      provide: ResolvedApiKeyOptions,
      inject: [API_KEY_MODULE_OPTIONS],
      useFactory: (options: ApiKeyModuleOptions) => new ResolvedApiKeyOptions(options),
    },
    {
      provide: ApiKeyHasher,
      inject: [ResolvedApiKeyOptions],
      useFactory: (options: ResolvedApiKeyOptions) => new ApiKeyHasher(options.peppers),
    },
    {
      provide: ApiKeyRepository,
      inject: [ResolvedApiKeyOptions, ModuleRef],
      useFactory: async (options: ResolvedApiKeyOptions, moduleRef: ModuleRef) => {
        const { repository, cache } = options;
        const inner =
          repository === undefined
            ? new InMemoryApiKeyRepository()
            : typeof repository === 'function'
              ? await moduleRef.create(repository as Type<ApiKeyRepository>)
              : repository;
        return cache ? new CachedApiKeyStore(inner, cache) : inner;
      },
    },
    ApiKeyAuthenticator,
    ApiKeyGuard,
  ],
  exports: [ResolvedApiKeyOptions, ApiKeyHasher, ApiKeyRepository, ApiKeyAuthenticator, ApiKeyGuard],
})
export class ApiKeyModule extends ConfigurableApiKeyModule {}
