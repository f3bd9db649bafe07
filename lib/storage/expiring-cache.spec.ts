import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { performance } from 'node:perf_hooks';
import { ExpiringCache, type ExpiringEntry } from './expiring-cache.js';

interface Named extends ExpiringEntry {
  readonly name: string;
}
const entry = (name: string): Named => ({ name, expiresAt: 0, read: false });

/** Drives the cache's clock: performance.now() answers `at` ms. */
function clock(start: number) {
  const time = { at: start };
  jest.spyOn(performance, 'now').mockImplementation(() => time.at);
  return time;
}

describe('ExpiringCache', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('answers an entry until ttlMs after it was set, then forgets it', () => {
    const time = clock(1_000.5);
    const cache = new ExpiringCache<Named>(10, 100);
    cache.set('a', entry('a'));
    time.at += 99;
    expect(cache.get('a')?.name).toBe('a');
    time.at += 1;
    expect(cache.get('a')).toBeUndefined();
    time.at -= 50; // gone for good, not merely hidden
    expect(cache.get('a')).toBeUndefined();
  });

  it('counts whole milliseconds rounded down: an entry may go up to 1 ms early, never late', () => {
    const time = clock(0);
    const cache = new ExpiringCache<Named>(10, 100);
    time.at = 10.9;
    cache.set('a', entry('a'));
    time.at = 109.99;
    expect(cache.get('a')?.name).toBe('a');
    time.at = 110; // 99.1 ms after it was set
    expect(cache.get('a')).toBeUndefined();
  });

  it('setting a key again replaces its entry and restarts its time', () => {
    const time = clock(0);
    const cache = new ExpiringCache<Named>(10, 100);
    cache.set('a', entry('first'));
    time.at = 80;
    cache.set('a', entry('second'));
    time.at = 150;
    expect(cache.get('a')?.name).toBe('second');
    time.at = 180;
    expect(cache.get('a')).toBeUndefined();
  });

  it('when full, drops the oldest entry not read since it was set, and keeps the ones read', () => {
    clock(0);
    const cache = new ExpiringCache<Named>(3, 1_000);
    for (const name of ['a', 'b', 'c']) cache.set(name, entry(name));
    cache.get('a');
    cache.set('d', entry('d')); // 'a' was read: it gets a second chance, 'b' goes
    expect(['a', 'b', 'c', 'd'].map((name) => cache.get(name)?.name)).toEqual(['a', undefined, 'c', 'd']);
  });

  it('gives a read entry one second chance only: unread since, it goes when its turn comes again', () => {
    clock(0);
    const cache = new ExpiringCache<Named>(2, 1_000);
    cache.set('a', entry('a'));
    cache.set('b', entry('b'));
    cache.get('a');
    cache.get('b');
    cache.set('c', entry('c')); // both read: both passed over once, then 'a' (now unmarked) goes
    expect(cache.get('a')).toBeUndefined();
    cache.set('d', entry('d')); // 'b' was passed over and not read since
    expect(['b', 'c', 'd'].map((name) => cache.get(name)?.name)).toEqual([undefined, 'c', 'd']);
  });

  it('drops an expired entry when its turn comes, even one that was read', () => {
    const time = clock(0);
    const cache = new ExpiringCache<Named>(2, 100);
    cache.set('old', entry('old'));
    cache.get('old');
    time.at = 60;
    cache.set('new', entry('new'));
    time.at = 120; // 'old' has expired, 'new' has not
    cache.set('newer', entry('newer'));
    expect(cache.get('new')?.name).toBe('new');
    expect(cache.get('newer')?.name).toBe('newer');
  });

  it('holds one entry at max 1, replaced by the next even when it was read', () => {
    clock(0);
    const cache = new ExpiringCache<Named>(1, 1_000);
    cache.set('a', entry('a'));
    cache.get('a');
    cache.set('b', entry('b'));
    expect([cache.get('a'), cache.get('b')?.name]).toEqual([undefined, 'b']);
  });

  it('keeps expiries right when its clock restarts (after 2^29 ms, about six days)', () => {
    const time = clock(0);
    const cache = new ExpiringCache<Named>(10, 1_000);
    time.at = 2 ** 29 - 500;
    cache.set('before', entry('before'));
    time.at = 2 ** 29 + 100; // the next set restarts the clock
    cache.set('after', entry('after'));
    expect(cache.get('before')?.name).toBe('before');
    time.at = 2 ** 29 + 499;
    expect(cache.get('before')?.name).toBe('before');
    time.at = 2 ** 29 + 500;
    expect(cache.get('before')).toBeUndefined();
    time.at = 2 ** 29 + 1_099;
    expect(cache.get('after')?.name).toBe('after');
    time.at = 2 ** 29 + 1_100;
    expect(cache.get('after')).toBeUndefined();
  });

  it('deleteWhere forgets the matching entries only; clear forgets all', () => {
    clock(0);
    const cache = new ExpiringCache<Named>(10, 1_000);
    for (const name of ['a1', 'b1', 'a2']) cache.set(name, entry(name));
    cache.deleteWhere((found) => found.name.startsWith('a'));
    expect(['a1', 'b1', 'a2'].map((name) => cache.get(name)?.name)).toEqual([undefined, 'b1', undefined]);
    cache.clear();
    expect(cache.get('b1')).toBeUndefined();
  });
});
