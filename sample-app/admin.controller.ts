import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { ApiKey, ApiKeyGuard, RequireScopes } from 'nestjs-api-key';
import { AdminStats } from './account.dto.js';

/**
 * The admin area, guarded explicitly with `@UseGuards` and a class-level scope. (The global
 * guard already ran: the second pass reuses its result and only checks the scope.)
 */
@Controller('admin')
@UseGuards(ApiKeyGuard)
@RequireScopes('admin')
export class AdminController {
  @Get('stats')
  @ApiOperation({ summary: 'Server statistics', description: 'For keys with the `admin` scope.' })
  @ApiOkResponse({ type: AdminStats })
  stats(@ApiKey('name') caller: string) {
    return { caller, uptimeSeconds: Math.round(process.uptime()) };
  }
}
