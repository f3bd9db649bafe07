import { performance } from 'node:perf_hooks';

interface Pending {
  readonly deadline: number;
  readonly reject: (error: unknown) => void;
  settled: boolean;
}

/**
 * Races promises against one fixed timeout using a single timer for all of them, instead of
 * arming and clearing a timer per promise (the larger part of a fast lookup's cost).
 *
 * Deadlines arrive in order (start + the same timeout), so pending races form a queue: the
 * timer waits for the oldest unsettled one, and settled ones leave the queue's head at once.
 * The timer is unref'd: it never keeps a process alive on its own.
 */
export class FixedTimeout {
  private queue: Pending[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  /** @param ms the timeout; `error()` is what a race that outlives it rejects with. */
  constructor(
    private readonly ms: number,
    private readonly error: () => Error,
  ) {}

  /**
   * Settles like `promise`, or rejects with the timeout error if it does not settle in time.
   * `done`, when given, runs once as the race settles, before its callers resume.
   */
  race<T>(promise: T | PromiseLike<T>, done?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        deadline: performance.now() + this.ms,
        reject: done
          ? (error) => {
              done();
              reject(error);
            }
          : reject,
        settled: false,
      };
      this.queue.push(pending);
      if (!this.timer) this.arm(this.ms);
      Promise.resolve(promise).then(
        (value) => {
          if (pending.settled) return;
          this.settle(pending);
          done?.();
          resolve(value);
        },
        (error: unknown) => {
          if (pending.settled) return;
          this.settle(pending);
          pending.reject(error);
        },
      );
    });
  }

  private settle(pending: Pending): void {
    pending.settled = true;
    while (this.head < this.queue.length && this.queue[this.head]!.settled) this.head++;
    this.compact();
  }

  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.head < this.queue.length) {
      const pending = this.queue[this.head]!;
      if (!pending.settled) {
        if (pending.deadline > now) break;
        pending.settled = true;
        pending.reject(this.error());
      }
      this.head++;
    }
    this.compact();
    if (this.head < this.queue.length) this.arm(this.queue[this.head]!.deadline - now);
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.expire(), Math.max(1, Math.ceil(ms))).unref();
  }
}
