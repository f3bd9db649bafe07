import { describe, expect, it } from '@jest/globals';
import { ExpressAdapter } from '@nestjs/platform-express';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import { attachPrincipal, principalOf, rememberedPrincipal } from './api-key.request.js';
import { issuePrincipal, issuerOf } from '../storage/verified-api-key.js';

describe('the principal on request.apiKey', () => {
  const issuer = {};
  /** The authenticator's side of the check: principals `issuer` issued. */
  const authenticator = { issued: (value: unknown): value is ApiKeyPrincipal => issuerOf(value) === issuer };
  const principal = issuePrincipal(issuer, 'k-1', 'reporting', ['reports:read'], null, null);
  const remembered = (request: object) => rememberedPrincipal(request, authenticator);
  const nodeRequest = () => new IncomingMessage(new Socket());
  /** A real Express app (the one Nest's adapter makes): `request` is the prototype it gives requests. */
  const expressApp = () => new ExpressAdapter().getInstance() as { request: object };
  /** A request as an Express app hands it on: Node's, with the app's request prototype swapped in. */
  const expressRequest = (app: { request: object }) => Object.setPrototypeOf(nodeRequest(), app.request) as IncomingMessage & { apiKey?: unknown };

  it("is an accessor on an Express app's request prototype, holding each request's own value", () => {
    const app = expressApp();
    const first = expressRequest(app);
    const second = expressRequest(app);
    attachPrincipal(first, principal);

    expect(first.apiKey).toBe(principal);
    expect(Object.hasOwn(first, 'apiKey')).toBe(false);
    expect(Object.getOwnPropertyDescriptor(app.request, 'apiKey')).toMatchObject({ enumerable: false, configurable: true });
    expect(second.apiKey).toBeUndefined();
    expect([principalOf(first), remembered(first)]).toEqual([principal, principal]);
    expect([principalOf(second), remembered(second)]).toEqual([undefined, undefined]);
  });

  it('can be assigned by other code as a property can; only a principal the authenticator issued counts as remembered', () => {
    const request = expressRequest(expressApp());
    attachPrincipal(request, principal);
    const lookAlike = { ...principal };
    request.apiKey = lookAlike;
    expect(request.apiKey).toBe(lookAlike);
    expect(principalOf(request)).toBe(lookAlike);
    expect(remembered(request)).toBeUndefined();
    request.apiKey = issuePrincipal({}, 'k-1', 'reporting', ['reports:read'], null, null);
    expect(remembered(request)).toBeUndefined();
  });

  it('on Express, is cleared by assigning undefined, not by delete; every reader sees the same value', () => {
    const request = expressRequest(expressApp());
    attachPrincipal(request, principal);
    expect(delete request.apiKey).toBe(true);
    expect([request.apiKey, principalOf(request), remembered(request)]).toEqual([principal, principal, principal]);
    request.apiKey = undefined;
    expect([request.apiKey, principalOf(request), remembered(request)]).toEqual([undefined, undefined, undefined]);

    const shadowed = expressRequest(expressApp());
    attachPrincipal(shadowed, principal);
    Object.defineProperty(shadowed, 'apiKey', { value: undefined });
    expect([principalOf(shadowed), remembered(shadowed)]).toEqual([undefined, undefined]);
  });

  it('keeps the requests of two Express apps apart, each app with its own accessor', () => {
    const [one, two] = [expressApp(), expressApp()];
    const other = issuePrincipal(issuer, 'k-2', 'other', [], null, null);
    const [first, second] = [expressRequest(one), expressRequest(two)];
    attachPrincipal(first, principal);
    attachPrincipal(second, other);
    expect([principalOf(first), principalOf(second)]).toEqual([principal, other]);
    expect(Object.hasOwn(one.request, 'apiKey') && Object.hasOwn(two.request, 'apiKey')).toBe(true);
  });

  it('falls back to an own property when the swapped-in prototype cannot take the accessor', () => {
    const app = expressApp();
    Object.preventExtensions(app.request);
    const [first, second] = [expressRequest(app), expressRequest(app)];
    attachPrincipal(first, principal);
    attachPrincipal(second, principal);
    expect([Object.hasOwn(first, 'apiKey'), Object.hasOwn(second, 'apiKey'), remembered(second)]).toEqual([true, true, principal]);
  });

  it('is an own property on requests whose prototype was not swapped, and no shared prototype is touched', () => {
    class AppRequest extends IncomingMessage {}
    const requests = [nodeRequest(), new AppRequest(new Socket()), { headers: {} }];
    for (const request of requests) {
      attachPrincipal(request, principal);
      expect(Object.getOwnPropertyDescriptor(request, 'apiKey')).toMatchObject({ value: principal, enumerable: true, writable: true });
      expect(remembered(request)).toBe(principal);
    }
    expect('apiKey' in IncomingMessage.prototype || 'apiKey' in AppRequest.prototype).toBe(false);
  });

  it('leaves an apiKey already on the prototype chain in place', () => {
    const app = expressApp();
    const assigned: unknown[] = [];
    Object.defineProperty(app.request, 'apiKey', { set: (value: unknown) => assigned.push(value), get: () => 'theirs', configurable: true });
    const request = expressRequest(app);
    attachPrincipal(request, principal);
    expect(assigned).toEqual([principal]);
    expect(request.apiKey).toBe('theirs');
  });
});
