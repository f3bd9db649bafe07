import {
  Controller,
  Get,
  Injectable,
  Module,
  UnauthorizedException,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiKey, type ApiKeyPrincipal } from 'nestjs-api-key';
import type { BenchKeySet } from '../keys.js';
import type { BenchTarget } from '../target.js';

let expected = '';
const principal: ApiKeyPrincipal = Object.freeze({
  id: 'naive',
  name: 'naive',
  scopes: Object.freeze(['bench:read']),
  ownerId: null,
  metadata: Object.freeze({}),
});

/** naive-equals plus what every principal-carrying guard does on a pass: the principal on the request and a no-store response. */
@Injectable()
class NaivePrincipalGuard implements CanActivate {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const request = http.getRequest<{ headers: Record<string, unknown>; apiKey?: ApiKeyPrincipal }>();
    if (request.headers['x-api-key'] !== expected) throw new UnauthorizedException();
    request.apiKey = principal;
    this.adapterHost.httpAdapter.setHeader(http.getResponse(), 'Cache-Control', 'no-store');
    return true;
  }
}

@Controller()
@UseGuards(NaivePrincipalGuard)
class NaivePrincipalController {
  @Get('bench')
  get(@ApiKey() key: ApiKeyPrincipal) {
    return { ok: key.id !== '' };
  }
}

@Module({ controllers: [NaivePrincipalController], providers: [NaivePrincipalGuard] })
class NaivePrincipalModule {}

/**
 * The floor under any guard that offers what ours does on a pass, without verifying anything:
 * one `===`, the principal on `request.apiKey`, `Cache-Control: no-store` and `@ApiKey()` in the
 * handler (Nest's custom-parameter path). What our guard adds over it is hashing, lookup and
 * checks.
 */
const target: BenchTarget = {
  name: 'naive-principal',
  description:
    'naive-equals plus the principal on request.apiKey, Cache-Control: no-store and @ApiKey() in the handler (no hash, no lookup)',
  module: (keys: BenchKeySet) => {
    expected = keys.validKey;
    return NaivePrincipalModule;
  },
};
export default target;
