import { describe, expect, it, jest } from '@jest/globals';
import { SystemApiKeyClock } from './api-key.clock.js';

describe('SystemApiKeyClock', () => {
  it('reads the system time in ms without a Date', () => {
    const before = Date.now();
    const ms = new SystemApiKeyClock().nowMs();
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now());
  });

  it('follows a replaced now(), so verification and the service read the same time', () => {
    const later = new Date('2100-01-01T00:00:00.000Z');
    class Later extends SystemApiKeyClock {
      override now(): Date {
        return later;
      }
    }
    expect(new Later().nowMs()).toBe(later.getTime());
    const spied = new SystemApiKeyClock();
    jest.spyOn(spied, 'now').mockReturnValue(later);
    expect(spied.nowMs()).toBe(later.getTime());
  });
});
