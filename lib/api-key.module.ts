import { Module, type Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ResolvedApiKeyOptions } from './api-key-options.js';
import type { ApiKeyModuleOptions } from './api-key-module-options.interface.js';
import { ApiKeyAuthenticator } from './api-key.authenticator.js';
import { ApiKeyClock, SystemApiKeyClock } from './api-key.clock.js';
import { ApiKeyEventSink, DefaultApiKeyEventSink } from './api-key.events.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { ApiKeyHasher } from './api-key.hasher.js';
import { API_KEY_MODULE_OPTIONS, ConfigurableApiKeyModule } from './api-key.module-definition.js';
import { ApiKeyRepository } from './api-key.repository.js';
import { ApiKeyService } from './api-key.service.js';
import { ApiKeyUsageTracker } from './api-key.usage-tracker.js';
import { InMemoryApiKeyRepository } from './in-memory-api-key.repository.js';
import { CachedApiKeyStore } from './cached-api-key.store.js';

/**
 * API key authentication for a Nest application.
 *
 * `ApiKeyModule.forRoot({ keys, sources, repository, pepper })`, or
 * `ApiKeyModule.forRootAsync({ imports, inject, useFactory })` to read options from
 * `ConfigService` (a `registerAs(...).asProvider()` works as is). Add `isGlobal: true` so
 * `@UseGuards(ApiKeyGuard)` works in every module. Invalid options throw
 * {@link ApiKeyConfigurationError} at bootstrap. Provides {@link ApiKeyService} for key
 * management, and {@link ApiKeyClock} and {@link ApiKeyEventSink} as replaceable tokens.
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
    { provide: ApiKeyClock, useClass: SystemApiKeyClock },
    {
      provide: ApiKeyEventSink,
      inject: [ResolvedApiKeyOptions, ModuleRef],
      useFactory: (options: ResolvedApiKeyOptions, moduleRef: ModuleRef) => {
        const { events } = options;
        if (events === undefined) return new DefaultApiKeyEventSink(moduleRef);
        return typeof events === 'function' ? moduleRef.create(events as Type<ApiKeyEventSink>) : events;
      },
    },
    ApiKeyUsageTracker,
    ApiKeyAuthenticator,
    ApiKeyGuard,
    ApiKeyService,
  ],
  exports: [
    ResolvedApiKeyOptions,
    ApiKeyHasher,
    ApiKeyRepository,
    ApiKeyAuthenticator,
    ApiKeyGuard,
    ApiKeyClock,
    ApiKeyEventSink,
    ApiKeyUsageTracker,
    ApiKeyService,
  ],
})
export class ApiKeyModule extends ConfigurableApiKeyModule {}
