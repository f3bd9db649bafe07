import type { CounterState, RateLimitCounters } from './rate-limit.counters.js';

/** How many counters each {@link MemoryCounters.add} examines, walking round, to drop the ended ones. */
const SWEEP_STEP = 2;

interface Counter {
  consumed: number;
  /** When the window ends, in whole ms on the monotonic clock ({@link clock}). */
  readonly endsAt: number;
}

/**
 * Counters in this process's memory, in one Map keyed by bucket and key. They use no timers: an
 * ended counter is dropped when next touched, and every `add` examines the next two counters of
 * a walk round the Map, so ended counters leave within one walk (an `add` adds at most one
 * counter) and no request pays for a sweep of the whole Map. (A timer per counter cannot wait
 * past 2^31 ms, about 24.8 days: Node fires it after 1 ms, so a month's quota would restart at
 * once.) Windows run on the monotonic clock: changing the system time moves no window.
 */
export class MemoryCounters implements RateLimitCounters {
  private readonly counters = new Map<string, Counter>();
  private walk = this.counters.entries();

  add(bucket: string, seconds: number, key: string, points: number): Promise<CounterState> {
    const now = clock();
    this.sweep(now);
    const id = idOf(bucket, key);
    let counter = this.live(id, now);
    if (counter) counter.consumed += points;
    else this.counters.set(id, (counter = { consumed: points, endsAt: now + seconds * 1000 }));
    return Promise.resolve(stateOf(counter, now));
  }

  refund(bucket: string, _seconds: number, key: string, points: number): Promise<void> {
    const counter = this.live(idOf(bucket, key), clock());
    if (counter) counter.consumed -= points;
    return Promise.resolve();
  }

  /** Always resolves: memory is always there. */
  checkHealth(): Promise<void> {
    return Promise.resolve();
  }

  /** Counters held, ended ones not yet dropped included. */
  get size(): number {
    return this.counters.size;
  }

  /** The counter `id` if its window has not ended; an ended one is deleted. */
  private live(id: string, now: number): Counter | undefined {
    const counter = this.counters.get(id);
    if (counter && counter.endsAt <= now) {
      this.counters.delete(id);
      return undefined;
    }
    return counter;
  }

  private sweep(now: number): void {
    for (let i = 0; i < SWEEP_STEP; i++) {
      const next = this.walk.next();
      if (next.done) {
        this.walk = this.counters.entries();
        return;
      }
      const [id, counter] = next.value;
      if (counter.endsAt <= now) this.counters.delete(id);
    }
  }
}

/**
 * `performance.now()` in whole ms: with fractions, `now + 60_000 - now` can exceed 60,000 by a
 * rounding error, and a header rounding up would say 61 s.
 */
function clock(): number {
  return Math.floor(performance.now());
}

/** One Map key per bucket and counter key; a NUL cannot occur in a bucket name. */
function idOf(bucket: string, key: string): string {
  return `${bucket}\u0000${key}`;
}

function stateOf(counter: Counter, now: number): CounterState {
  return { consumed: counter.consumed, msBeforeNext: counter.endsAt - now };
}
