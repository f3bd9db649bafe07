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
import type { BenchKeySet } from '../keys.js';
import type { BenchTarget } from '../target.js';

let expected = '';

@Injectable()
class NaiveGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>();
    if (request.headers['x-api-key'] !== expected) throw new UnauthorizedException();
    return true;
  }
}

@Controller()
@UseGuards(NaiveGuard)
class NaiveController {
  @Get('bench')
  get() {
    return { ok: true };
  }
}

@Module({ controllers: [NaiveController], providers: [NaiveGuard] })
class NaiveModule {}

/** The cheapest possible guard (one string comparison, no hashing, no principal): a floor. */
const target: BenchTarget = {
  name: 'naive-equals',
  description: 'a hand-written guard comparing the header to one key with === (no hash, no scopes, no principal)',
  module: (keys: BenchKeySet) => {
    expected = keys.validKey;
    return NaiveModule;
  },
};
export default target;
