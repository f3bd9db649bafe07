import { ApiKeyClock } from 'nestjs-api-key';

/** A clock that moves only when told to, for crossing expiry and grace boundaries exactly. */
export class ManualClock extends ApiKeyClock {
  private time: number;

  constructor(start = Date.parse('2026-01-01T00:00:00.000Z')) {
    super();
    this.time = start;
  }

  now(): Date {
    return new Date(this.time);
  }

  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    this.time += ms;
  }

  /** Sets the clock to `date`. */
  set(date: Date): void {
    this.time = date.getTime();
  }
}
