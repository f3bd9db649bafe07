import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeyGuard, ApiKeyModule } from 'nestjs-api-key';
import { AccountController } from './account.controller.js';
import { AdminController } from './admin.controller.js';
import { AdminKeysController } from './admin-keys.controller.js';
import { apiKeyConfig } from './api-key.config.js';
import { CatalogueController } from './catalogue.controller.js';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, load: [apiKeyConfig] }),
    ApiKeyModule.forRootAsync({ ...apiKeyConfig.asProvider(), isGlobal: true }),
  ],
  controllers: [CatalogueController, AccountController, AdminController, AdminKeysController],
  providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }],
})
export class AppModule {}
