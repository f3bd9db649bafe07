import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiKey, ApiKeyGuard, Public, RequireAnyScope, RequireScopes, type ApiKeyPrincipal } from 'nestjs-api-key';

/** Routes guarded with `@UseGuards` on the class, covering every scope form. */
@Controller('orders')
@UseGuards(ApiKeyGuard)
export class OrdersController {
  @Get('whoami')
  whoami(@ApiKey() principal: ApiKeyPrincipal) {
    return principal;
  }

  @Get('owner')
  owner(@ApiKey('ownerId') ownerId: string | null) {
    return { ownerId };
  }

  @Get()
  @RequireScopes('orders:read')
  list() {
    return ['order-1'];
  }

  @Get('write')
  @RequireScopes('orders:read', 'orders:write')
  write() {
    return { written: true };
  }

  @Get('any')
  @RequireAnyScope('orders:write', 'reports:read')
  any() {
    return { any: true };
  }

  @Get('items')
  @RequireScopes('orders:items:read')
  items() {
    return { items: true };
  }
}

/** Class-level scopes, overridden on one handler (method metadata wins). */
@Controller('reports')
@UseGuards(ApiKeyGuard)
@RequireScopes('reports:read')
export class ReportsController {
  @Get()
  list() {
    return { reports: true };
  }

  @Get('orders')
  @RequireScopes('orders:read')
  orders() {
    return { overridden: true };
  }
}

/** For apps that register the guard globally: one open route, one guarded. */
@Controller('global')
export class GlobalController {
  @Get('open')
  @Public()
  open() {
    return { open: true };
  }

  @Get('closed')
  closed(@ApiKey() principal: ApiKeyPrincipal) {
    return { id: principal.id };
  }
}
