import type { CounterState, RateLimitCounters } from './rate-limit.counters.js';

/** How often, at most, {@link MemoryCounters.add} walks every counter to drop the ended ones. */
const SWEEP_INTERVAL_MS = 60_000;

interface Counter {
  consumed: number;
  /** When the window ends, on the monotonic clock (`performance.now()`). */
  readonly endsAt: number;
}

/**
 * Counters in this process's memory, one Map per bucket. They use no timers: an ended counter
 * is dropped when next touched, and by a sweep that `add` runs at most once a minute, so the
 * Maps hold little more than the live windows. (A timer per counter cannot wait past 2^31 ms,
 * about 24.8 days: Node fires it after 1 ms, so a month's quota would restart at once.)
 * Windows run on the monotonic clock: changing the system time moves no window.
 */
export class MemoryCounters implements RateLimitCounters {
  private readonly buckets = new Map<string, Map<string, Counter>>();
  private nextSweep = performance.now() + SWEEP_INTERVAL_MS;

  add(bucket: string, duration: number, key: string, points: number): Promise<CounterState> {
    const now = performance.now();
    if (now >= this.nextSweep) this.sweep(now);
    let counters = this.buckets.get(bucket);
    if (!counters) this.buckets.set(bucket, (counters = new Map()));
    let counter = live(counters, key, now);
    if (counter) counter.consumed += points;
    else counters.set(key, (counter = { consumed: points, endsAt: now + duration * 1000 }));
    return Promise.resolve(stateOf(counter, now));
  }

  read(bucket: string, _duration: number, key: string): Promise<CounterState | null> {
    const now = performance.now();
    const counters = this.buckets.get(bucket);
    const counter = counters && live(counters, key, now);
    return Promise.resolve(counter ? stateOf(counter, now) : null);
  }

  refund(bucket: string, _duration: number, key: string, points: number): Promise<void> {
    const counters = this.buckets.get(bucket);
    const counter = counters && live(counters, key, performance.now());
    if (counter) counter.consumed -= points;
    return Promise.resolve();
  }

  /** Counters held, ended ones not yet dropped included. */
  get size(): number {
    let size = 0;
    for (const counters of this.buckets.values()) size += counters.size;
    return size;
  }

  private sweep(now: number): void {
    for (const counters of this.buckets.values()) {
      for (const [key, counter] of counters) if (counter.endsAt <= now) counters.delete(key);
    }
    this.nextSweep = now + SWEEP_INTERVAL_MS;
  }
}

/** `key`'s counter if its window has not ended; an ended one is deleted. */
function live(counters: Map<string, Counter>, key: string, now: number): Counter | undefined {
  const counter = counters.get(key);
  if (counter && counter.endsAt <= now) {
    counters.delete(key);
    return undefined;
  }
  return counter;
}

function stateOf(counter: Counter, now: number): CounterState {
  return { consumed: counter.consumed, msBeforeNext: counter.endsAt - now };
}
