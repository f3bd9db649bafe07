import { describe, expect, it } from '@jest/globals';
import { issuePrincipal, issuerOf } from './verified-api-key.js';

describe('issued principals', () => {
  const issuer = { store: 'the one that verified it' };
  const principal = issuePrincipal(issuer, 'k-1', 'reporting', ['reports:read'], 'team-a', { tier: 'gold' });

  it('are frozen, with their scopes and metadata, and known as issued by their issuer', () => {
    expect(principal).toEqual({
      id: 'k-1',
      name: 'reporting',
      scopes: ['reports:read'],
      ownerId: 'team-a',
      metadata: { tier: 'gold' },
    });
    expect(Object.isFrozen(principal) && Object.isFrozen(principal.scopes) && Object.isFrozen(principal.metadata)).toBe(
      true,
    );
    expect(issuerOf(principal)).toBe(issuer);
    expect(issuerOf(issuePrincipal({}, 'k-1', 'reporting', [], null, null))).not.toBe(issuer);
    expect(JSON.parse(JSON.stringify(principal))).toEqual({
      id: 'k-1',
      name: 'reporting',
      scopes: ['reports:read'],
      ownerId: 'team-a',
      metadata: { tier: 'gold' },
    });
  });

  it('cannot be imitated: copies, clones, proxies and objects built on them are not issued', () => {
    const lookAlikes: unknown[] = [
      { ...principal },
      structuredClone(principal),
      JSON.parse(JSON.stringify(principal)),
      new Proxy(principal, {}),
      Object.create(principal) as object,
      Object.assign(Object.create(Object.getPrototypeOf(principal) as object) as object, principal),
      null,
      'k-1',
    ];
    for (const value of lookAlikes) expect(issuerOf(value)).toBeUndefined();
  });
});
