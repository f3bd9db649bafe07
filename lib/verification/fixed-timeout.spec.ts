import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { performance } from 'node:perf_hooks';
import { FixedTimeout } from './fixed-timeout.js';

const never = new Promise<never>(() => undefined);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('FixedTimeout', () => {
  const timeout = () => new FixedTimeout(40, () => new Error('timed out'));
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('settles like the raced promise when it settles in time', async () => {
    const races = timeout();
    await expect(races.race(Promise.resolve('value'))).resolves.toBe('value');
    await expect(races.race(Promise.reject(new Error('failed')))).rejects.toThrow('failed');
    await expect(races.race('plain value')).resolves.toBe('plain value');
  });

  it('rejects a race that outlives the timeout, and only that one', async () => {
    const races = timeout();
    const slow = races.race(never);
    const fast = races.race(sleep(5).then(() => 'fast'));
    await expect(fast).resolves.toBe('fast');
    await expect(slow).rejects.toThrow('timed out');
  });

  it('gives each race its own deadline when they start at different times', async () => {
    // FixedTimeout reads its deadlines from performance.now(), driven here; its timer stays real.
    const time = { at: 0 };
    jest.spyOn(performance, 'now').mockImplementation(() => time.at);
    const races = timeout();
    const first = races.race(never); // deadline 40
    time.at = 20;
    let secondSettled = false;
    const second = races.race(never).catch((error: Error) => {
      secondSettled = true;
      throw error;
    }); // deadline 60
    time.at = 40;
    await expect(first).rejects.toThrow('timed out');
    expect(secondSettled).toBe(false);
    time.at = 60;
    await expect(second).rejects.toThrow('timed out');
  });

  it('keeps working after the queue empties', async () => {
    const races = timeout();
    await expect(races.race(never)).rejects.toThrow('timed out');
    await expect(races.race(Promise.resolve(1))).resolves.toBe(1);
    await expect(races.race(never)).rejects.toThrow('timed out');
  });
});
