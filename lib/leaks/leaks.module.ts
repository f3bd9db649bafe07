import { Module } from '@nestjs/common';
import { ApiKeyLeakReceiver } from './api-key-leak.receiver.js';
import { API_KEY_LEAKS_OPTIONS, ConfigurableApiKeyLeaksModule } from './leaks.module-definition.js';
import type { ApiKeyLeaksOptions } from './leaks-options.interface.js';
import { ResolvedLeaksOptions } from './leaks-options.js';

/**
 * Receives GitHub secret-scanning reports of leaked keys at a route (`path`, default
 * `github/secret-scanning`) and revokes, disables or just reports each leaked key (see
 * {@link ApiKeyLeakReceiver}). Needs `ApiKeyModule.forRoot()` somewhere in the application and
 * the application created with `rawBody: true` (the signature covers the exact bytes).
 * `forRoot(options)` or `forRootAsync({ imports, inject, useFactory, path })`; invalid options
 * throw `ApiKeyConfigurationError` at bootstrap. Exports the receiver.
 */
@Module({
  providers: [
    {
      provide: ResolvedLeaksOptions,
      inject: [API_KEY_LEAKS_OPTIONS],
      useFactory: (options: ApiKeyLeaksOptions) => new ResolvedLeaksOptions(options),
    },
    ApiKeyLeakReceiver,
  ],
  exports: [ApiKeyLeakReceiver],
})
export class ApiKeyLeaksModule extends ConfigurableApiKeyLeaksModule {}
