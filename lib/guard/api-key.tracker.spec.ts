import { describe, expect, it } from '@jest/globals';
import { apiKeyTracker } from './api-key.tracker.js';

describe('apiKeyTracker (for @nestjs/throttler)', () => {
  it("tracks an authenticated request by its principal's id, never by the key", () => {
    expect(
      apiKeyTracker({
        apiKey: { id: 'billing', name: 'billing' },
        ip: '192.0.2.1',
        headers: { 'x-api-key': 'secret-key-value-000001' },
      }),
    ).toBe('key:billing');
  });

  it('tracks other requests by client address', () => {
    expect(apiKeyTracker({ ip: '192.0.2.1' })).toBe('address:192.0.2.1');
  });
});
