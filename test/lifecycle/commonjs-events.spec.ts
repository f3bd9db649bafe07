import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

describe('the CommonJS build', () => {
  it('finds the optional @nestjs/event-emitter at run time and delivers lifecycle events to it', () => {
    const script = `
      require('reflect-metadata');
      const { Module, Injectable } = require('@nestjs/common');
      const { NestFactory } = require('@nestjs/core');
      const { EventEmitterModule, OnEvent } = require('@nestjs/event-emitter');
      const { ApiKeyModule, ApiKeyService } = require('nestjs-api-key');
      const seen = [];
      class Listener { on(event) { seen.push([event.type, typeof event.keyId]); } }
      OnEvent('api-key.created')(Listener.prototype, 'on', Object.getOwnPropertyDescriptor(Listener.prototype, 'on'));
      Injectable()(Listener);
      class AppModule {}
      Module({ imports: [EventEmitterModule.forRoot(), ApiKeyModule.forRoot({})], providers: [Listener] })(AppModule);
      (async () => {
        const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
        await app.get(ApiKeyService).create({ name: 'cjs' });
        await app.close();
        console.log(JSON.stringify(seen));
      })();`;
    expect(JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' }))).toEqual([
      ['api-key.created', 'string'],
    ]);
  });
});
