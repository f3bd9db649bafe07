import { describe, expect, it } from '@jest/globals';
import { createHash, createHmac } from 'node:crypto';
import { ApiKeyHasher } from './api-key.hasher.js';

describe('ApiKeyHasher', () => {
  it('hashes with HMAC-SHA-256 under the current pepper', () => {
    // The hasher accepts any pepper; the module's options are what demand 16 characters.
    const hasher = new ApiKeyHasher(['Jefe']);
    expect(hasher.keyed).toBe(true);
    const key = 'sk_live_0123456789abcdef';
    expect(hasher.hash(key)).toBe(createHmac('sha256', 'Jefe').update(key).digest('base64url'));
  });

  it('falls back to plain SHA-256 without a pepper', () => {
    const hasher = new ApiKeyHasher();
    expect(hasher.keyed).toBe(false);
    expect(hasher.hash('some-key')).toBe(createHash('sha256').update('some-key').digest('base64url'));
  });

  it('lists one candidate per pepper, current first', () => {
    const hasher = new ApiKeyHasher(['current-pepper-000001', 'previous-pepper-00001']);
    expect(hasher.candidates('k')).toEqual([
      createHmac('sha256', 'current-pepper-000001').update('k').digest('base64url'),
      createHmac('sha256', 'previous-pepper-00001').update('k').digest('base64url'),
    ]);
  });

  it('compares digests in constant time and refuses anything that is not a 32-byte digest', () => {
    const hasher = new ApiKeyHasher();
    const a = hasher.hash('a');
    expect(ApiKeyHasher.equal(a, a)).toBe(true);
    expect(ApiKeyHasher.equal(a, hasher.hash('b'))).toBe(false);
    expect(ApiKeyHasher.equal(a, a.slice(0, 20))).toBe(false);
    expect(ApiKeyHasher.equal('', '')).toBe(false);
  });
});
