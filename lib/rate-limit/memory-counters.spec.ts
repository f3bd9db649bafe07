import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { MemoryCounters } from './memory-counters.js';

describe('MemoryCounters', () => {
  let counters: MemoryCounters;
  beforeEach(() => {
    jest.useFakeTimers();
    counters = new MemoryCounters();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('counts in fixed windows that start with the first point', async () => {
    expect(await counters.add('limit:60', 60, 'k', 2)).toEqual({ consumed: 2, msBeforeNext: 60_000 });
    jest.advanceTimersByTime(59_999);
    expect(await counters.add('limit:60', 60, 'k', 1)).toEqual({ consumed: 3, msBeforeNext: 1 });
    jest.advanceTimersByTime(1);
    expect(await counters.add('limit:60', 60, 'k', 1)).toEqual({ consumed: 1, msBeforeNext: 60_000 });
  });

  it('reports whole milliseconds left, never a rounding error over the window', async () => {
    jest.useRealTimers();
    // + 60,000 - itself = 60,000.000_000_000_01;
    const now = jest.spyOn(performance, 'now').mockReturnValue(10_114.918_656_283_198);
    try {
      expect(await counters.add('limit:60', 60, 'k', 1)).toEqual({ consumed: 1, msBeforeNext: 60_000 });
      now.mockReturnValue(10_115.9);
      expect(await counters.add('limit:60', 60, 'k', 0)).toEqual({ consumed: 1, msBeforeNext: 59_999 });
    } finally {
      now.mockRestore();
    }
  });

  it('keeps buckets and keys apart', async () => {
    await counters.add('a', 60, 'k', 1);
    await counters.add('b', 60, 'k', 5);
    await counters.add('a', 60, 'other', 7);
    expect([
      await counters.add('a', 60, 'k', 0),
      await counters.add('b', 60, 'k', 0),
      await counters.add('c', 60, 'k', 0),
    ]).toEqual([1, 5, 0].map((consumed) => ({ consumed, msBeforeNext: 60_000 })));
  });

  it('counts windows longer than a timer can wait (2^31 ms) to their end', async () => {
    const month = 31 * 86_400;
    await counters.add('quota', month, 'k', 1);
    jest.advanceTimersByTime(30 * 86_400_000);
    expect(await counters.add('quota', month, 'k', 1)).toEqual({ consumed: 2, msBeforeNext: 86_400_000 });
  });

  it('refunds only a live counter and never starts one', async () => {
    await counters.add('limit', 60, 'k', 3);
    await counters.refund('limit', 60, 'k', 1);
    expect(await counters.add('limit', 60, 'k', 0)).toMatchObject({ consumed: 2 });
    await counters.refund('limit', 60, 'absent', 1);
    expect(await counters.add('limit', 60, 'absent', 0)).toMatchObject({ consumed: 0 });
    jest.advanceTimersByTime(60_000);
    await counters.refund('limit', 60, 'k', 1);
    expect(await counters.add('limit', 60, 'k', 0)).toEqual({ consumed: 0, msBeforeNext: 60_000 });
  });

  it(
    'drops ended counters a few per add, ' +
      'so a flood of addresses leaves within one walk and no add sweeps them all',
    async () => {
      for (let i = 0; i < 1000; i++) await counters.add('address:1', 1, `203.0.113.${i}`, 1);
      await counters.add('quota', 3600, 'k', 1);
      jest.advanceTimersByTime(1000);
      await counters.add('limit:60', 60, 'steady', 1);
      expect(counters.size).toBeGreaterThanOrEqual(1000); // 1,002 held, at most two of them walked over
      for (let i = 0; i < 600; i++) await counters.add('limit:60', 60, 'steady', 1);
      expect(counters.size).toBe(2); // the quota and the steady counter
      expect([await counters.add('quota', 3600, 'k', 0), await counters.add('limit:60', 60, 'steady', 0)]).toEqual([
        { consumed: 1, msBeforeNext: 3_599_000 },
        { consumed: 601, msBeforeNext: 60_000 },
      ]);
    },
  );

  it('is always healthy', async () => {
    await expect(counters.checkHealth()).resolves.toBeUndefined();
  });
});
