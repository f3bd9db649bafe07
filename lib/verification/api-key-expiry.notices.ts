import type { ApiKeyEventSink } from '../api-key.events.js';
import { ApiKeyEventType } from '../api-key.events.js';
import type { ResolvedExpiryWarnings } from '../resolved-api-key.options.js';
import type { ApiKeyState, VerifiedApiKey } from '../storage/verified-api-key.js';
import type { ApiKeyExpiryNotice } from './api-key-verification.interface.js';

/** Most keys whose `api-key.expiring` event is remembered (so it is not emitted again). */
const MAX_ANNOUNCED = 10_000;

/**
 * Finds the valid keys that stop working soon (a rotated-out secret in its grace period, a key
 * within the warning window of its expiry) and emits `api-key.expiring` once per key and stop
 * instant: a key whose expiry moves, or that is rotated again, is announced again. It remembers
 * at most {@link MAX_ANNOUNCED} keys (dropping the passed windows first, then the oldest), so a
 * key forgotten under that pressure may be announced twice; never per request.
 */
export class ApiKeyExpiryNotices {
  /** Key id → the stop instant (epoch ms) announced for it. */
  private readonly announced = new Map<string, number>();

  constructor(
    private readonly settings: ResolvedExpiryWarnings,
    private readonly events: ApiKeyEventSink | undefined,
  ) {}

  /** The notice for a valid key with a state at `now`, or `undefined` when it is not about to stop. */
  noticeOf(key: VerifiedApiKey, state: ApiKeyState, now: number): ApiKeyExpiryNotice | undefined {
    const { secretExpiresAt, expiresAt } = state;
    let notice: ApiKeyExpiryNotice;
    if (secretExpiresAt !== null) {
      notice = {
        reason: 'rotated',
        stopsAt: expiresAt === null ? secretExpiresAt : Math.min(expiresAt, secretExpiresAt),
      };
    } else if (expiresAt !== null && expiresAt - now <= this.settings.windowMs) {
      notice = { reason: 'expiring', stopsAt: expiresAt };
    } else {
      return undefined;
    }
    this.announce(key, notice, now);
    return notice;
  }

  private announce(key: VerifiedApiKey, notice: ApiKeyExpiryNotice, now: number): void {
    const { id, ownerId } = key.principal;
    if (this.announced.get(id) === notice.stopsAt) return;
    this.announced.delete(id);
    if (this.announced.size >= MAX_ANNOUNCED) this.forgetSome(now);
    this.announced.set(id, notice.stopsAt);
    this.events?.emit({
      type: ApiKeyEventType.Expiring,
      keyId: id,
      ownerId,
      reason: notice.reason,
      stopsAt: new Date(notice.stopsAt),
      at: new Date(now),
    });
  }

  /** Drops the keys whose announced stop has passed, or else the oldest announced key. */
  private forgetSome(now: number): void {
    for (const [id, stopsAt] of this.announced) if (stopsAt <= now) this.announced.delete(id);
    if (this.announced.size >= MAX_ANNOUNCED) this.announced.delete(this.announced.keys().next().value!);
  }
}
