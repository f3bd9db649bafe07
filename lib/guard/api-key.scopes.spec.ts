import { describe, expect, it } from '@jest/globals';
import { grantsScope, satisfiesScopes } from './api-key.scopes.js';

describe('grantsScope', () => {
  it.each([
    [['orders:*'], 'orders:read', true],
    [['orders:*'], 'orders:items:read', true],
    [['orders:*'], 'orders', false],
    [['orders:*'], 'orders:', false],
    [['orders:*'], 'ordersx:read', false],
    [['orders:*'], 'Orders:read', false],
    [['Orders:read'], 'orders:read', false],
    [['*'], 'orders:read', false],
    [[':*'], 'orders:read', false],
    [[':*'], ':x', false],
    [['orders:read*'], 'orders:read:all', false],
    [[], 'orders:read', false],
  ])('%j grants %j: %s', (granted, required, expected) => {
    expect(grantsScope(granted, required)).toBe(expected);
  });
});

describe('satisfiesScopes', () => {
  it('needs every scope in all-of mode and one in any-of mode', () => {
    expect(satisfiesScopes(['a'], { mode: 'all', scopes: ['a', 'b'] })).toBe(false);
    expect(satisfiesScopes(['a', 'b'], { mode: 'all', scopes: ['a', 'b'] })).toBe(true);
    expect(satisfiesScopes(['b'], { mode: 'any', scopes: ['a', 'b'] })).toBe(true);
    expect(satisfiesScopes([], { mode: 'any', scopes: ['a', 'b'] })).toBe(false);
  });
});
