import { describe, expect, it } from '@jest/globals';
import { ApiKeyEventSink, type ApiKeyEvent } from '../api-key.events.js';
import { verifyRecord } from '../storage/verified-api-key.js';
import { ApiKeyExpiryNotices } from './api-key-expiry.notices.js';

class RecordingSink extends ApiKeyEventSink {
  readonly events: ApiKeyEvent[] = [];
  emit(event: ApiKeyEvent): void {
    this.events.push(event);
  }
}

const HASH = 'h'.repeat(43);
const DAY = 86_400_000;

function verified(id: string, expiresAt: number) {
  const key = verifyRecord({ id, name: id, hash: HASH, scopes: [], expiresAt: new Date(expiresAt) }, HASH, {});
  return key!;
}

describe('ApiKeyExpiryNotices', () => {
  it('announces each key once per stop instant, and remembers a bounded number of keys', () => {
    const sink = new RecordingSink();
    const notices = new ApiKeyExpiryNotices({ windowMs: DAY, link: null }, sink);
    const now = 1_000 * DAY;
    const announce = (id: string, expiresAt: number, at = now) => {
      const key = verified(id, expiresAt);
      return notices.noticeOf(key, key.state!, at);
    };
    expect(announce('far', now + 2 * DAY)).toBeUndefined();
    expect(announce('near', now + DAY)).toEqual({ reason: 'expiring', stopsAt: now + DAY });
    announce('near', now + DAY);
    expect(sink.events).toHaveLength(1);
    // 10,000 other keys push the oldest announcement out: it may be announced once more, never per request.
    for (let i = 0; i < 10_000; i++) announce(`k${i}`, now + DAY);
    expect(sink.events).toHaveLength(10_001);
    announce('near', now + DAY);
    expect(sink.events).toHaveLength(10_002);
    // Passed windows are forgotten first: a key announced just now stays remembered.
    for (let i = 0; i < 100; i++) announce(`past${i}`, now + 10, now);
    for (let i = 0; i < 100; i++) announce(`fresh${i}`, now + 2 * DAY, now + 2 * DAY - 1);
    announce('fresh0', now + 2 * DAY, now + 2 * DAY - 1);
    expect(sink.events.filter((event) => event.type === 'api-key.expiring' && event.keyId === 'fresh0')).toHaveLength(
      1,
    );
  });
});
