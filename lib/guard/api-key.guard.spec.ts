import { describe, expect, it } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { ApiKeyAuthenticator } from '../verification/api-key.authenticator.js';
import { ApiKeyInvalidException, ApiKeyMissingException } from '../api-key.exceptions.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { ApiKeyHasher } from '../keys/api-key.hasher.js';
import { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import { InMemoryApiKeyStore } from '../storage/in-memory-api-key.store.js';
import { RequireScopes } from './require-scopes.decorator.js';

const KEY = 'unit-test-key-000000000001';

class Handlers {
  @RequireScopes('jobs:run')
  run() {}
  plain() {}
}

function makeGuard<T extends ApiKeyGuard>(
  Guard: new (...args: ConstructorParameters<typeof ApiKeyGuard>) => T,
  sources = {},
): T {
  const options = new ResolvedApiKeyOptions({ keys: [{ name: 'worker', key: KEY, scopes: ['jobs:run'] }], sources });
  const hasher = new ApiKeyHasher(options.peppers);
  const headers: Record<string, string> = {};
  const adapterHost = {
    httpAdapter: { setHeader: (_: unknown, name: string, value: string) => (headers[name] = value) },
  } as unknown as HttpAdapterHost;
  return new Guard(
    new Reflector(),
    options,
    new ApiKeyAuthenticator(options, hasher, new InMemoryApiKeyStore()),
    adapterHost,
  );
}

function context(type: string, request: object, handler: keyof Handlers = 'plain'): ExecutionContext {
  return {
    getType: () => type,
    getHandler: () => Handlers.prototype[handler],
    getClass: () => Handlers,
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => ({}) }),
    getArgByIndex: (index: number) => [request, {}][index],
    switchToRpc: () => ({ getData: () => request }),
  } as unknown as ExecutionContext;
}

describe('ApiKeyGuard steps', () => {
  it('denies a context it cannot read a request from, rather than allowing it', async () => {
    await expect(async () =>
      makeGuard(ApiKeyGuard).canActivate(context('cron', { headers: { 'x-api-key': KEY } })),
    ).resolves.toBe(false);
  });

  it('lets a subclass supply the request for another context, reusing every other step', async () => {
    class RpcGuard extends ApiKeyGuard {
      protected override getRequestResponse(ctx: ExecutionContext) {
        return { request: ctx.switchToRpc().getData() as object, response: {} };
      }
    }
    const message: { headers: Record<string, string>; apiKey?: unknown } = { headers: { 'x-api-key': KEY } };
    await expect(async () => makeGuard(RpcGuard).canActivate(context('rpc', message, 'run'))).resolves.toBe(true);
    expect(message.apiKey).toMatchObject({ name: 'worker', scopes: ['jobs:run'] });
    await expect(async () => makeGuard(RpcGuard).canActivate(context('rpc', { headers: {} }))).rejects.toBeInstanceOf(
      ApiKeyMissingException,
    );
    await expect(async () =>
      makeGuard(RpcGuard).canActivate(context('rpc', { headers: { 'x-api-key': 'wrong-key-00000000001' } })),
    ).rejects.toBeInstanceOf(ApiKeyInvalidException);
  });

  it('admits a valid key and refuses a missing or unknown one, from memory or from the store', async () => {
    const guard = makeGuard(ApiKeyGuard);
    await expect(guard.canActivate(context('http', { headers: { 'x-api-key': KEY } }))).resolves.toBe(true);
    await expect(guard.canActivate(context('http', { headers: {} }))).rejects.toBeInstanceOf(ApiKeyMissingException);
    const slow = new (class extends InMemoryApiKeyStore {
      override findByHash() {
        return new Promise<null>((resolve) => setTimeout(() => resolve(null), 5));
      }
    })();
    const options = new ResolvedApiKeyOptions({ repository: slow });
    const adapterHost = { httpAdapter: { setHeader: () => undefined } } as unknown as HttpAdapterHost;
    const pending = new ApiKeyGuard(
      new Reflector(),
      options,
      new ApiKeyAuthenticator(options, new ApiKeyHasher(), slow),
      adapterHost,
    ).canActivate(context('http', { headers: { 'x-api-key': KEY } }));
    await expect(pending).rejects.toBeInstanceOf(ApiKeyInvalidException);
  });

  it('reads the scope requirement from handler metadata', () => {
    class Probe extends ApiKeyGuard {
      requirementOf(ctx: ExecutionContext) {
        return this.getScopeRequirement(ctx);
      }
    }
    const guard = makeGuard(Probe);
    expect(guard.requirementOf(context('http', {}, 'run'))).toEqual({ mode: 'all', scopes: ['jobs:run'] });
    expect(guard.requirementOf(context('http', {}, 'plain'))).toBeUndefined();
  });
});
