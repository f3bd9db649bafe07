import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ApiKeyRateLimitOptions } from './rate-limit-options.interface.js';

export const {
  ConfigurableModuleClass: ConfigurableApiKeyRateLimitModule,
  MODULE_OPTIONS_TOKEN: API_KEY_RATE_LIMIT_OPTIONS,
} = new ConfigurableModuleBuilder<ApiKeyRateLimitOptions>({ moduleName: 'ApiKeyRateLimit' })
  .setClassMethodName('forRoot')
  // Always global: every ApiKeyGuard, wherever it is instantiated, must see the hook. A guard
  // that silently missed it would not limit at all.
  .setExtras({}, (definition) => ({ ...definition, global: true }))
  .build();
