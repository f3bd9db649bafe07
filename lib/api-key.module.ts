import { Logger, Module, type Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ResolvedApiKeyOptions } from './resolved-api-key.options.js';
import type { ApiKeyModuleOptions } from './api-key-module-options.interface.js';
import { ApiKeyAuthenticator } from './verification/api-key.authenticator.js';
import { ApiKeyClock, SystemApiKeyClock } from './verification/api-key.clock.js';
import { ApiKeyEventSink, DefaultApiKeyEventSink } from './api-key.events.js';
import { ApiKeyGuard } from './guard/api-key.guard.js';
import { ApiKeySubscriptions } from './guard/contexts/graphql-subscriptions.js';
import { ApiKeyWebSockets } from './guard/contexts/ws-connections.js';
import { ApiKeyChanges } from './verification/api-key.changes.js';
import { ApiKeyHasher } from './keys/api-key.hasher.js';
import { API_KEY_MODULE_OPTIONS, ConfigurableApiKeyModule } from './api-key.module-definition.js';
import { ApiKeyRepository } from './storage/api-key.repository.js';
import { ApiKeyService } from './management/api-key.service.js';
import { ApiKeyLastUsedRecorder } from './verification/api-key-last-used.recorder.js';
import { InMemoryApiKeyStore } from './storage/in-memory-api-key.store.js';
import { CachedApiKeyStore } from './storage/cached-api-key.store.js';
import { checkStartupConfiguration } from './api-key-startup.checks.js';

/**
 * API key authentication for a Nest application.
 *
 * `ApiKeyModule.forRoot({ keys, sources, repository, pepper })`, or
 * `ApiKeyModule.forRootAsync({ imports, inject, useFactory })` to read options from
 * `ConfigService` (a `registerAs(...).asProvider()` works as is). Add `isGlobal: true` so
 * `@UseGuards(ApiKeyGuard)` works in every module. Invalid options, unknown option names included,
 * throw {@link ApiKeyConfigurationError} at bootstrap; valid but doubtful ones (no way to admit a
 * key, no pepper for a persistent store) log a warning. Provides {@link ApiKeyService} for key
 * management, {@link ApiKeyWebSockets} and {@link ApiKeySubscriptions} for WebSocket connections,
 * and {@link ApiKeyClock} and {@link ApiKeyEventSink} as replaceable tokens.
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
            ? new InMemoryApiKeyStore()
            : typeof repository === 'function'
              ? await moduleRef.create(repository as Type<ApiKeyRepository>)
              : repository;
        checkStartupConfiguration(options, inner, new Logger(ApiKeyModule.name));
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
    ApiKeyLastUsedRecorder,
    ApiKeyAuthenticator,
    ApiKeyGuard,
    ApiKeyChanges,
    ApiKeyService,
    ApiKeySubscriptions,
    ApiKeyWebSockets,
  ],
  exports: [
    ResolvedApiKeyOptions,
    ApiKeyHasher,
    ApiKeyRepository,
    ApiKeyAuthenticator,
    ApiKeyGuard,
    ApiKeyClock,
    ApiKeyEventSink,
    ApiKeyLastUsedRecorder,
    ApiKeyService,
    ApiKeySubscriptions,
    ApiKeyWebSockets,
  ],
})
export class ApiKeyModule extends ConfigurableApiKeyModule {}
