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
  const expressRequest = (app: { request: object }) =>
    Object.setPrototypeOf(nodeRequest(), app.request) as IncomingMessage & { apiKey?: unknown };

  it('is an ordinary own property on every kind of request, and no prototype is touched', () => {
    class AppRequest extends IncomingMessage {}
    const app = expressApp();
    const requests = [expressRequest(app), nodeRequest(), new AppRequest(new Socket()), { headers: {} }];
    for (const request of requests) {
      attachPrincipal(request, principal, null);
      expect(Object.getOwnPropertyDescriptor(request, 'apiKey')).toEqual({
        value: principal,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      expect(Object.keys(request)).toContain('apiKey');
      expect(remembered(request)).toBe(principal);
    }
    expect(['apiKey' in app.request, 'apiKey' in IncomingMessage.prototype, 'apiKey' in AppRequest.prototype]).toEqual([
      false,
      false,
      false,
    ]);
    expect(expressRequest(app).apiKey).toBeUndefined();
  });

  it('goes away with delete, and a spread copy carries it as any property', () => {
    const request = expressRequest(expressApp());
    attachPrincipal(request, principal, null);
    expect({ ...request }.apiKey).toBe(principal);
    expect(delete request.apiKey).toBe(true);
    expect([request.apiKey, principalOf(request), remembered(request)]).toEqual([undefined, undefined, undefined]);
  });

  it('can be assigned by other code; only a principal the authenticator issued counts as remembered', () => {
    const request = expressRequest(expressApp());
    attachPrincipal(request, principal, null);
    const lookAlike = { ...principal };
    request.apiKey = lookAlike;
    expect(principalOf(request)).toBe(lookAlike);
    expect(remembered(request)).toBeUndefined();
    request.apiKey = issuePrincipal({}, 'k-1', 'reporting', ['reports:read'], null, null);
    expect(remembered(request)).toBeUndefined();
  });
});
