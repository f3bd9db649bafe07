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
let iterations = 0;
let sink = 0;

/** A fixed amount of arithmetic: `n` rounds of an integer hash. */
function spin(n: number): number {
  let x = sink | 1;
  for (let i = 0; i < n; i++) x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + i;
  return x;
}

/** How many rounds take 10 µs of CPU in a tight loop here, measured when the server starts. */
function calibrate(): number {
  let n = 1000;
  for (;;) {
    const start = process.cpuUsage();
    for (let r = 0; r < 100; r++) sink = spin(n);
    const used = process.cpuUsage(start);
    const perCall = (used.user + used.system) / 100;
    if (perCall > 2) return Math.round((n * 10) / perCall);
    n *= 2;
  }
}

@Injectable()
class SpinGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>();
    if (request.headers['x-api-key'] !== expected) throw new UnauthorizedException();
    sink = spin(iterations);
    return true;
  }
}

@Controller()
@UseGuards(SpinGuard)
class SpinController {
  @Get('bench')
  get() {
    return { ok: true };
  }
}

@Module({ controllers: [SpinController], providers: [SpinGuard] })
class SpinModule {}

/**
 * A check of the instrument: `naive-equals` plus arithmetic that takes 10 µs of CPU in a tight
 * loop (calibrated at startup, median of a few tries). Its row minus naive-equals' should read
 * about 10 µs if the conversion to µs of an unshared core holds.
 */
const target: BenchTarget = {
  name: 'spin-10us',
  description:
    'naive-equals + 10 µs of arithmetic (as timed in a tight loop at startup): checks the unit (should read about 10 µs above naive-equals)',
  module: (keys: BenchKeySet) => {
    expected = keys.validKey;
    const tries = Array.from({ length: 5 }, calibrate).sort((a, b) => a - b);
    iterations = tries[2]!;
    return SpinModule;
  },
};
export default target;
