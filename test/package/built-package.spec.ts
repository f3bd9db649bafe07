import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const entries = Object.keys(manifest.exports as object)
  .filter((entry) => entry !== './package.json')
  .map((entry) => entry.replace(/^\./, manifest.name));

/** Runs a script in a plain Node process in the package root, where the package can import itself. */
function node(args: string[]): unknown {
  return JSON.parse(execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }));
}

describe.each(entries)('the built entry point %s', (entry) => {
  const expected = node([
    '--input-type=module',
    '-e',
    `const m = await import('${entry}'); console.log(JSON.stringify(Object.keys(m).sort()))`,
  ]);

  it('loads through import with a non-empty set of exports', () => {
    expect((expected as string[]).length).toBeGreaterThan(0);
  });

  it('loads through require (the CommonJS build) with the same exports', () => {
    const viaRequire = node([
      '-e',
      `console.log(JSON.stringify(Object.keys(require('${entry}')).filter((k) => k !== '__esModule').sort()))`,
    ]);
    expect(viaRequire).toEqual(expected);
  });
});

describe('the CommonJS build', () => {
  it('boots a Nest application that authenticates a request', () => {
    const script = `
      require('reflect-metadata');
      const { Controller, Get, Module, UseGuards } = require('@nestjs/common');
      const { NestFactory } = require('@nestjs/core');
      const { ApiKeyModule, ApiKeyGuard } = require('nestjs-api-key');
      class C { get() { return { ok: true }; } }
      Get()(C.prototype, 'get', Object.getOwnPropertyDescriptor(C.prototype, 'get'));
      UseGuards(ApiKeyGuard)(C); Controller('x')(C);
      class M {}
      Module({ imports: [ApiKeyModule.forRoot({ keys: [{ name: 'cjs', key: 'cjs-build-key-000000000001' }] })], controllers: [C] })(M);
      (async () => {
        const app = await NestFactory.create(M, { logger: false });
        await app.listen(0, '127.0.0.1');
        const url = await app.getUrl();
        const denied = (await fetch(url + '/x')).status;
        const allowed = (await fetch(url + '/x', { headers: { 'x-api-key': 'cjs-build-key-000000000001' } })).status;
        await app.close();
        console.log(JSON.stringify({ denied, allowed }));
      })();`;
    expect(node(['-e', script])).toEqual({ denied: 401, allowed: 200 });
  });
});

describe('the CommonJS build of nestjs-api-key/passport', () => {
  it("authenticates through AuthGuard(['api-key']) of the @nestjs/passport the app itself loads", () => {
    const script = `
      require('reflect-metadata');
      const { Controller, Get, Module, UseGuards } = require('@nestjs/common');
      const { NestFactory } = require('@nestjs/core');
      const { AuthGuard } = require('@nestjs/passport');
      const { ApiKeyModule } = require('nestjs-api-key');
      const { ApiKeyStrategy } = require('nestjs-api-key/passport');
      class C { get() { return { ok: true }; } }
      Get()(C.prototype, 'get', Object.getOwnPropertyDescriptor(C.prototype, 'get'));
      UseGuards(AuthGuard(['api-key']))(C); Controller('x')(C);
      class M {}
      Module({
        imports: [ApiKeyModule.forRoot({ keys: [{ name: 'cjs', key: 'cjs-build-key-000000000001' }] })],
        controllers: [C],
        providers: [ApiKeyStrategy],
      })(M);
      (async () => {
        const app = await NestFactory.create(M, { logger: false });
        await app.listen(0, '127.0.0.1');
        const url = await app.getUrl();
        const denied = (await fetch(url + '/x', { headers: { 'x-api-key': 'cjs-build-key-000000000002' } })).status;
        const allowed = (await fetch(url + '/x', { headers: { 'x-api-key': 'cjs-build-key-000000000001' } })).status;
        await app.close();
        console.log(JSON.stringify({ denied, allowed }));
      })();`;
    expect(node(['-e', script])).toEqual({ denied: 401, allowed: 200 });
  });
});
