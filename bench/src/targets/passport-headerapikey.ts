import { Controller, Get, Injectable, Module, UnauthorizedException, UseGuards } from '@nestjs/common';
import { AuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import type { ApiKeyRecord } from 'nestjs-api-key';
import { HeaderAPIKeyStrategy } from 'passport-headerapikey';
import type { BenchKeySet } from '../keys.js';
import type { BenchTarget } from '../target.js';

let keySet: BenchKeySet;
let byHash: Map<string, ApiKeyRecord>;

/** What a passport user writes: hash the presented key with the same HMAC, look it up. */
@Injectable()
class HeaderApiKeyStrategy extends PassportStrategy(HeaderAPIKeyStrategy, 'headerapikey') {
  constructor() {
    super({ header: 'X-API-Key', prefix: '' }, false);
  }

  validate(apiKey: string): { id: string; scopes: readonly string[] } {
    const record = byHash.get(keySet.hasher.hash(apiKey));
    if (!record) throw new UnauthorizedException();
    return { id: record.id, scopes: record.scopes };
  }
}

@Controller()
@UseGuards(AuthGuard('headerapikey'))
class PassportController {
  @Get('bench')
  get() {
    return { ok: true };
  }
}

@Module({ imports: [PassportModule], controllers: [PassportController], providers: [HeaderApiKeyStrategy] })
class PassportBenchModule {}

/** `@nestjs/passport` + `passport-headerapikey`, hashed lookup over the same key set. */
const target: BenchTarget = {
  name: 'passport-headerapikey',
  description: '@nestjs/passport AuthGuard + passport-headerapikey, HMAC lookup in a Map of the key set (no scopes)',
  module: (keys: BenchKeySet) => {
    keySet = keys;
    byHash = new Map(keys.records.map((record) => [record.hash, record]));
    return PassportBenchModule;
  },
};
export default target;
