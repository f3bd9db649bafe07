// The guard outside Nest, for the in-process benchmarks (micro.ts, restrictions.ts).
import type { ExecutionContext, Type } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import {
  ApiKeyGuard,
  type ApiKeyAuthenticator,
  type ApiKeyPrincipal,
  type ResolvedApiKeyOptions,
} from 'nestjs-api-key';

/** The guard, with the steps a benchmark times on their own reached as a subclass reaches them. */
export class StepGuard extends ApiKeyGuard {
  read(request: object) {
    return this.readKey(request);
  }
  remembered(request: object) {
    return this.getRememberedPrincipal(request);
  }
  enforce(request: object, principal: ApiKeyPrincipal): void {
    this.enforceRestrictions(request, principal);
  }
}

/** A guard over these options and authenticator, without Nest: the headers it sets go nowhere. */
export function inProcessGuard(options: ResolvedApiKeyOptions, authenticator: ApiKeyAuthenticator): StepGuard {
  const adapterHost = new HttpAdapterHost();
  adapterHost.httpAdapter = { setHeader: () => undefined } as unknown as HttpAdapterHost['httpAdapter'];
  return new StepGuard(new Reflector(), options, authenticator, adapterHost);
}

/** The HTTP execution context of `request` to the `handler` method of `controller` (its response an empty object). */
export function httpContextOf(controller: Type, handler: string, request: object): ExecutionContext {
  const response = {};
  return {
    getType: () => 'http',
    getHandler: () => controller.prototype[handler],
    getClass: () => controller,
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => response }),
    getArgByIndex: (index: number) => [request, response][index],
    getArgs: () => [request, response],
  } as unknown as ExecutionContext;
}
