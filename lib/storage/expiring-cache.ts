import { performance } from 'node:perf_hooks';

/** The two fields {@link ExpiringCache} keeps on each entry; the rest of the entry is the caller's. */
export interface ExpiringEntry {
  /** When the entry expires, in the cache's own whole milliseconds (set by the cache). */
  expiresAt: number;
  /** Whether it was read since it was set or last passed over (set by the cache). */
  read: boolean;
}

/** How far the cache's clock runs before it is moved to zero again (well within V8's small integers). */
const CLOCK_SPAN_MS = 2 ** 29;

/**
 * A map of at most `max` entries, each forgotten `ttlMs` after it was set (checked when it is
 * read: nothing is armed). When full, a new entry takes the place of the oldest one that was
 * not read since it was set or last passed over (the "second chance", or CLOCK, policy): a
 * read only marks its entry, so it moves nothing and allocates nothing.
 *
 * The caller's entry objects carry the expiry and the mark themselves, so a lookup touches one
 * object; times are whole milliseconds since the cache's own origin, small integers that V8
 * keeps inside the object rather than in a number of their own.
 */
export class ExpiringCache<E extends ExpiringEntry> {
  private readonly entries = new Map<string, E>();
  private origin = performance.now();

  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
  ) {}

  /** The entry set under `key`, unless it has expired (then it is forgotten) or was never set. */
  get(key: string): E | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (this.now() >= entry.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    if (!entry.read) entry.read = true; // a read of a marked entry writes nothing
    return entry;
  }

  /**
   * Keeps `entry` under `key` for `ttlMs` from now, in place of any entry already there, making room first when full.
   */
  set(key: string, entry: E): void {
    let now = this.now();
    if (now >= CLOCK_SPAN_MS) now = this.restartClock(now);
    entry.expiresAt = now + this.ttlMs;
    entry.read = false;
    if (this.entries.size >= this.max && !this.entries.has(key)) this.evictOne(now);
    this.entries.set(key, entry);
  }

  /** Forgets every entry that matches. */
  deleteWhere(matches: (entry: E) => boolean): void {
    for (const [key, entry] of this.entries) if (matches(entry)) this.entries.delete(key);
  }

  /** Forgets everything. */
  clear(): void {
    this.entries.clear();
  }

  /** Whole milliseconds since the origin, rounded down: an entry may expire up to 1 ms early, never late. */
  private now(): number {
    return Math.floor(performance.now() - this.origin);
  }

  /** Moves the origin to now, shifting every expiry with it (once every few days). */
  private restartClock(now: number): number {
    this.origin += now;
    for (const entry of this.entries.values()) entry.expiresAt -= now;
    return 0;
  }

  /**
   * Drops the oldest entry that has expired or was not read since it was set or last passed
   * over; the read ones it passes over go to the back, unmarked. Ends within one round.
   */
  private evictOne(now: number): void {
    for (const [key, entry] of this.entries) {
      this.entries.delete(key);
      if (!entry.read || now >= entry.expiresAt) return;
      entry.read = false;
      this.entries.set(key, entry);
    }
  }
}
