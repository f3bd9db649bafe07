import { describe, expect, it } from '@jest/globals';
import { createHash, createHmac } from 'node:crypto';
import { ApiKeyHasher } from './api-key.hasher.js';

describe('ApiKeyHasher', () => {
  it('matches the fixed HMAC-SHA-256 vector of RFC 4231 test case 2', () => {
    // The hasher accepts any pepper; the module's options are what demand 16 characters.
    const hasher = new ApiKeyHasher(['Jefe']);
    expect(Buffer.from(hasher.hash('what do ya want for nothing?'), 'base64url').toString('hex')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('gives the same bytes as createHmac for short, block-sized and long peppers and any input', () => {
    for (const pepper of ['p'.repeat(16), 'q'.repeat(64), 'r'.repeat(65), 'ünïcödé-pepper-0000', 's'.repeat(300)]) {
      const hasher = new ApiKeyHasher([pepper]);
      // Keys past 256 characters grow the scratch buffer; the shorter ones after it read fresh views.
      for (const key of ['a', 'sk_live_0123456789abcdef', 'x'.repeat(256), 'ключ', 'y'.repeat(1000), 'a', 'ключ'.repeat(400), 'sk_live_0123456789abcdef']) {
        expect(hasher.hash(key)).toBe(createHmac('sha256', pepper).update(key).digest('base64url'));
      }
    }
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
