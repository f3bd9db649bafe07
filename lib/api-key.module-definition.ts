import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ApiKeyModuleOptions } from './api-key-module-options.interface.js';

/** Extras of `forRoot`/`forRootAsync` that are not module options. */
export interface ApiKeyModuleExtras {
  /** Register the module globally, so feature modules need not import it. Default `false`. */
  isGlobal?: boolean;
}

export const {
  ConfigurableModuleClass: ConfigurableApiKeyModule,
  MODULE_OPTIONS_TOKEN: API_KEY_MODULE_OPTIONS,
  OPTIONS_TYPE: API_KEY_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: API_KEY_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ApiKeyModuleOptions>({ moduleName: 'ApiKey' })
  .setClassMethodName('forRoot')
  .setExtras<ApiKeyModuleExtras>({ isGlobal: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
