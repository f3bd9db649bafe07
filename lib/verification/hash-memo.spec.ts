import { describe, expect, it } from '@jest/globals';
import { HashMemo } from './hash-memo.js';

describe('HashMemo', () => {
  it('keys by a salted digest: the same key gets another digest in another memo, and no digest contains the key', () => {
    const [a, b] = [new HashMemo(), new HashMemo()];
    const key = 'sk_live_memo-test-key-0000000001';
    expect(a.digest(key)).toBe(a.digest(key));
    expect(a.digest(key)).not.toBe(b.digest(key));
    expect(a.digest(key)).toHaveLength(32);
    expect(a.digest(key)).not.toContain('memo-test');
  });

  it('remembers at most its capacity, the oldest leaving first, and forgets on request', () => {
    const memo = new HashMemo(2);
    const [one, two, three] = ['key-one-000000001', 'key-two-000000002', 'key-three-00000003'].map((key) => memo.digest(key));
    memo.remember(one!, 'h1');
    memo.remember(two!, 'h2');
    memo.remember(two!, 'h2b'); // an update, not a new entry
    expect([memo.get(one!), memo.get(two!)]).toEqual(['h1', 'h2b']);
    memo.remember(three!, 'h3');
    expect([memo.get(one!), memo.get(two!), memo.get(three!)]).toEqual([undefined, 'h2b', 'h3']);
    memo.forget(two!);
    expect(memo.get(two!)).toBeUndefined();
  });
});
