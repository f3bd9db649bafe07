import { describe, expect, it } from '@jest/globals';
import type { ApiKeyPrincipal } from '../api-key-principal.interface.js';
import { issuePrincipal, issuerOf } from './verified-api-key.js';

describe('issued principals', () => {
  const issuer = { store: 'the one that verified it' };
  const principal = issuePrincipal(issuer, 'k-1', 'reporting', ['reports:read'], 'team-a', { tier: 'gold' });

  it('are frozen, with their scopes and metadata, and known as issued by their issuer', () => {
    expect(principal).toEqual({ id: 'k-1', name: 'reporting', scopes: ['reports:read'], ownerId: 'team-a', metadata: { tier: 'gold' } });
    expect(Object.isFrozen(principal) && Object.isFrozen(principal.scopes) && Object.isFrozen(principal.metadata)).toBe(true);
    expect(issuerOf(principal)).toBe(issuer);
    expect(issuerOf(issuePrincipal({}, 'k-1', 'reporting', [], null, null))).not.toBe(issuer);
    expect(JSON.parse(JSON.stringify(principal))).toEqual({ id: 'k-1', name: 'reporting', scopes: ['reports:read'], ownerId: 'team-a', metadata: { tier: 'gold' } });
  });

  it('cannot be imitated: copies, clones, proxies and objects on their prototype are not issued', () => {
    const prototype = Object.getPrototypeOf(principal) as object;
    const lookAlikes: unknown[] = [
      { ...principal },
      structuredClone(principal),
      JSON.parse(JSON.stringify(principal)),
      new Proxy(principal, {}),
      Object.assign(Object.create(prototype) as object, principal),
      Object.setPrototypeOf({ ...principal }, prototype),
      null,
      'k-1',
    ];
    for (const value of lookAlikes) expect(issuerOf(value)).toBeUndefined();
  });

  it('cannot be built outside the library, even through their constructor or a subclass of it', () => {
    const Issued = principal.constructor as new (...args: unknown[]) => ApiKeyPrincipal;
    const forge = (issuing: unknown) => new Issued(issuing, {}, 'admin', 'admin', ['*'], null, {});
    expect(() => forge(undefined)).toThrow('API key principals are issued by nestjs-api-key only');
    expect(() => forge(Symbol('nestjs-api-key.issuing'))).toThrow(TypeError);
    class Forged extends Issued {
      constructor() {
        super(Symbol('nestjs-api-key.issuing'), {}, 'admin', 'admin', ['*'], null, {});
      }
    }
    expect(() => new Forged()).toThrow(TypeError);
  });

  it('a construction that fails hands out nothing: no setter on another prototype sees the object', () => {
    const Issued = principal.constructor as new (...args: unknown[]) => ApiKeyPrincipal;
    const seen: unknown[] = [];
    function Target() {}
    Object.defineProperty(Target.prototype, 'id', {
      set(this: unknown) {
        seen.push(this);
      },
    });
    expect(() => Reflect.construct(Issued, [undefined, {}, 'admin', 'admin', ['*'], null, {}], Target)).toThrow(TypeError);
    expect(seen).toEqual([]);
  });

  it('keep their class and prototype frozen, so no one can add to every principal or replace a method', () => {
    const Issued = principal.constructor as unknown as Record<string, unknown> & { prototype: object };
    expect(Object.isFrozen(Issued) && Object.isFrozen(Issued.prototype)).toBe(true);
    expect(() => Object.defineProperty(Issued.prototype, 'toJSON', { value: () => ({ id: 'admin' }) })).toThrow(TypeError);
    expect(issuerOf({ ...principal })).toBeUndefined();
  });
});
