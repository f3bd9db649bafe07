import { describe, expect, it } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import { ApiKeyInvalidException } from '../api-key.exceptions.js';
import { MemoryCounters } from './memory-counters.js';
import { ResolvedRateLimitOptions } from './rate-limit-options.js';
import { ApiKeyRateLimitHook } from './rate-limit.hook.js';
import { ApiKeyRateLimitedException } from './rate-limit.exceptions.js';

class Resolver {
  orders() {}
}

/** A GraphQL-style context: argument 0 is the parent object, the request sits in the resolver's context. */
function graphqlContext(request: object, response: object): ExecutionContext {
  return {
    getType: () => 'graphql',
    getHandler: () => Resolver.prototype.orders,
    getClass: () => Resolver,
    getArgByIndex: (index: number) => [{ parent: true }, {}, { req: request, res: response }, {}][index],
    switchToHttp: () => {
      throw new Error('a GraphQL context has no HTTP request at argument 0');
    },
  } as unknown as ExecutionContext;
}

describe('ApiKeyRateLimitHook on the request and response the guard read', () => {
  const headers = new Map<object, Record<string, string>>();
  const adapterHost = {
    httpAdapter: {
      setHeader: (response: object, name: string, value: string) =>
        headers.set(response, { ...headers.get(response), [name]: value }),
    },
  } as unknown as HttpAdapterHost;
  const options = new ResolvedRateLimitOptions({
    limit: { points: 5, durationMs: 60_000 },
    perAddress: { points: 1, durationMs: 60_000 },
  });
  const hook = new ApiKeyRateLimitHook(options, new Reflector(), adapterHost, new MemoryCounters());
  const principal = { id: 'k1', name: 'k1', scopes: [], metadata: {} } as unknown as ApiKeyPrincipal;

  it('counts failed authentications against the address of the request it is given', async () => {
    const request = { ip: '203.0.113.7' };
    const context = graphqlContext(request, {});
    const invalid = () => Promise.reject(new ApiKeyInvalidException('ApiKey realm="api"'));
    await expect(hook.authenticate(context, invalid, request)).rejects.toBeInstanceOf(ApiKeyInvalidException);
    await expect(hook.authenticate(context, invalid, request)).rejects.toBeInstanceOf(ApiKeyRateLimitedException);
    // Over its budget, the address is still admitted with a valid key; another address has its own count.
    await expect(hook.authenticate(context, () => Promise.resolve(principal), request)).resolves.toBe(principal);
    await expect(hook.authenticate(context, invalid, { ip: '203.0.113.8' })).rejects.toBeInstanceOf(
      ApiKeyInvalidException,
    );
  });

  it('sets the RateLimit headers on the response it is given', async () => {
    const response = {};
    await hook.authorized(graphqlContext({}, response), principal, response);
    expect(headers.get(response)).toEqual({
      'RateLimit-Policy': '"default";q=5;w=60',
      RateLimit: '"default";r=4;t=60',
    });
  });
});
