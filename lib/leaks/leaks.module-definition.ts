import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ApiKeyLeaksOptions } from './leaks-options.interface.js';
import type { ApiKeyLeaksExtras } from './leaks-options.js';
import { leakReportController } from './leak-report.controller.js';

/** The default route of the receiver. */
export const DEFAULT_LEAKS_PATH = 'github/secret-scanning';

export const { ConfigurableModuleClass: ConfigurableApiKeyLeaksModule, MODULE_OPTIONS_TOKEN: API_KEY_LEAKS_OPTIONS } =
  new ConfigurableModuleBuilder<ApiKeyLeaksOptions>({ moduleName: 'ApiKeyLeaks' })
    .setClassMethodName('forRoot')
    // The route is an extra, not an option: a controller's path is fixed when the module is
    // defined, before forRootAsync's factory runs.
    .setExtras<ApiKeyLeaksExtras>({ path: DEFAULT_LEAKS_PATH }, (definition, extras) => ({
      ...definition,
      controllers: [leakReportController(extras.path ?? DEFAULT_LEAKS_PATH)],
    }))
    .build();
