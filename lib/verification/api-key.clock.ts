/**
 * Where the library reads the current time, and its injection token. Everything that depends on
 * time (expiry, rotation grace periods, last use) asks the clock, so tests can replace it
 * (`overrideProvider(ApiKeyClock).useValue(...)`) and cross a boundary to the millisecond.
 */
export abstract class ApiKeyClock {
  /** The current instant. */
  abstract now(): Date;

  /** The current instant in epoch milliseconds (what verification reads on every request). Defaults to `now()`. */
  nowMs(): number {
    return this.now().getTime();
  }
}

/** The default clock: the system's time. */
export class SystemApiKeyClock extends ApiKeyClock {
  /** @inheritdoc */
  now(): Date {
    return new Date();
  }

  /**
   * @inheritdoc Without building a `Date`, unless `now` was replaced (a subclass, or a test's
   * `jest.spyOn(clock, 'now')`): then what it says.
   */
  override nowMs(): number {
    return this.now === SystemApiKeyClock.prototype.now ? Date.now() : this.now().getTime();
  }
}
