import { Controller, Get, Module } from '@nestjs/common';
import type { BenchTarget } from '../target.js';

@Controller()
class UnguardedController {
  @Get('bench')
  get() {
    return { ok: true };
  }
}

@Module({ controllers: [UnguardedController] })
class UnguardedModule {}

/** The baseline: the same route without any authentication. */
const target: BenchTarget = {
  name: 'unguarded',
  description: 'no authentication (the baseline every other target is compared with)',
  module: () => UnguardedModule,
};
export default target;
