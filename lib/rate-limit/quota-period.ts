import type { QuotaPeriod } from './rate-limit-options.interface.js';

/** The calendar period (UTC) a moment falls in. */
export interface QuotaPeriodWindow {
  /** Identifier of the period, part of the counter's key: `2026-11`, `2026-11-27`, `2026-11-27T23`. */
  readonly id: string;
  /** Length of the period in seconds (the `w` of its policy). */
  readonly length: number;
  /** Whole seconds from `now` to the end of the period, at least 1. */
  readonly remaining: number;
}

/** The `period` (UTC hour, day or month) that `now` falls in. */
export function quotaPeriodOf(period: QuotaPeriod, now: Date): QuotaPeriodWindow {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  const h = now.getUTCHours();
  const iso = now.toISOString();
  const [start, end, id] =
    period === 'month'
      ? [Date.UTC(y, m, 1), Date.UTC(y, m + 1, 1), iso.slice(0, 7)]
      : period === 'day'
        ? [Date.UTC(y, m, d), Date.UTC(y, m, d + 1), iso.slice(0, 10)]
        : [Date.UTC(y, m, d, h), Date.UTC(y, m, d, h + 1), iso.slice(0, 13)];
  return { id, length: (end - start) / 1000, remaining: Math.max(1, Math.ceil((end - now.getTime()) / 1000)) };
}
