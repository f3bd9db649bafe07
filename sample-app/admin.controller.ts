import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiKey, ApiKeyGuard, RequireScopes } from 'nestjs-api-key';

/**
 * The admin area, guarded explicitly with `@UseGuards` and a class-level scope. (The global
 * guard already ran: the second pass reuses its result and only checks the scope.)
 */
@Controller('admin')
@UseGuards(ApiKeyGuard)
@RequireScopes('admin')
export class AdminController {
  @Get('stats')
  stats(@ApiKey('name') caller: string) {
    return { caller, uptimeSeconds: Math.round(process.uptime()) };
  }
}
