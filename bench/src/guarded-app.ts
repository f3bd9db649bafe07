import { Controller, Get, UseGuards, type DynamicModule, type Type } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import {
  ApiKey,
  ApiKeyGuard,
  ApiKeyModule,
  RequireScopes,
  type ApiKeyModuleOptions,
  type ApiKeyPrincipal,
} from 'nestjs-api-key';
import { BENCH_PEPPER, BENCH_SCOPE } from './keys.js';

@Controller()
@UseGuards(ApiKeyGuard)
class GuardedController {
  @Get('bench')
  @RequireScopes(BENCH_SCOPE)
  get(@ApiKey() key: ApiKeyPrincipal) {
    return { ok: key.id !== '' };
  }
}

/**
 * An app whose `GET /bench` uses every core feature: `ApiKeyGuard`, `@RequireScopes` and the
 * `@ApiKey()` principal. Targets vary only the module options (the storage, mostly).
 */
export function guardedModule(options: Omit<ApiKeyModuleOptions, 'pepper'>): DynamicModule {
  return {
    module: class GuardedBenchModule {},
    imports: [ApiKeyModule.forRoot({ ...options, pepper: BENCH_PEPPER })],
    controllers: [GuardedController],
  };
}

/** `module` with the app's `EventEmitter2` (`EventEmitterModule.forRoot()`) and `listener` among its providers. */
export function withEventEmitter(module: DynamicModule, listener: Type): DynamicModule {
  return {
    ...module,
    imports: [...(module.imports ?? []), EventEmitterModule.forRoot()],
    providers: [...(module.providers ?? []), listener],
  };
}
