import { describe, expect, it } from '@jest/globals';
import { quotaPeriodOf } from './quota-period.js';

describe('quotaPeriodOf', () => {
  const now = new Date('2026-02-14T10:30:00.000Z');

  it('aligns periods on UTC calendar boundaries', () => {
    expect(quotaPeriodOf('hour', now)).toEqual({ id: '2026-02-14T10', length: 3600, remaining: 1800 });
    expect(quotaPeriodOf('day', now)).toEqual({ id: '2026-02-14', length: 86400, remaining: 48600 });
    expect(quotaPeriodOf('month', now)).toEqual({ id: '2026-02', length: 28 * 86400, remaining: 15 * 86400 - 37800 });
  });

  it('rolls over at the boundary and never reports less than one second left', () => {
    expect(quotaPeriodOf('month', new Date('2026-12-31T23:59:59.999Z'))).toEqual({
      id: '2026-12',
      length: 31 * 86400,
      remaining: 1,
    });
    expect(quotaPeriodOf('month', new Date('2027-01-01T00:00:00.000Z')).id).toBe('2027-01');
  });
});
