/**
 * The values added within the last `windowMs`, at most `capacity` of them (the oldest is
 * forgotten first when full). Every value gets the same window, so insertion order is expiry
 * order and forgetting is O(1) per value.
 */
export class RecentSet {
  private readonly expiries = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly capacity: number,
  ) {}

  /** Whether `value` was added less than `windowMs` before `now`. */
  has(value: string, now: number): boolean {
    const expiry = this.expiries.get(value);
    return expiry !== undefined && expiry > now;
  }

  /** Remembers `value` from `now` on. */
  add(value: string, now: number): void {
    for (const [oldest, expiry] of this.expiries) {
      if (expiry > now && this.expiries.size < this.capacity) break;
      this.expiries.delete(oldest);
    }
    this.expiries.delete(value);
    this.expiries.set(value, now + this.windowMs);
  }
}
