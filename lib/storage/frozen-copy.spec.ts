import { describe, expect, it } from '@jest/globals';
import { frozenCopy } from './frozen-copy.js';

describe('frozenCopy', () => {
  it('copies and freezes plain objects and arrays all the way down, keeping other values', () => {
    const date = new Date(0);
    const source = { a: { b: [1, { c: 'x' }] }, date, ['__proto__']: { own: true } };
    const copy = frozenCopy(source);
    expect(copy).toEqual(source);
    expect([
      Object.isFrozen(copy),
      Object.isFrozen(copy.a),
      Object.isFrozen(copy.a.b),
      Object.isFrozen(copy.a.b[1]),
    ]).toEqual([true, true, true, true]);
    expect(copy.a).not.toBe(source.a);
    expect(copy.date).toBe(date);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype); // "__proto__" stays an own key
  });

  it('refuses a cycle with a clear error, and copies a value shared by two branches twice', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = { back: cyclic };
    expect(() => frozenCopy(cyclic)).toThrow('metadata must not contain itself');
    const shared = { n: 1 };
    expect(frozenCopy({ left: shared, right: [shared] })).toEqual({ left: { n: 1 }, right: [{ n: 1 }] });
  });
});
