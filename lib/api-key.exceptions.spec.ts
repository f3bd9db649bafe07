import { describe, expect, it } from '@jest/globals';
import { ApiKeyInvalidException, withoutStackTrace } from './api-key.exceptions.js';

describe('withoutStackTrace', () => {
  it('builds the exception without stack frames and restores the stack trace limit', () => {
    const limit = Error.stackTraceLimit;
    const exception = withoutStackTrace(() => new ApiKeyInvalidException('ApiKey realm="api"'));
    expect(exception.getStatus()).toBe(401);
    expect(exception.stack).not.toMatch(/\n\s+at /);
    expect(new Error('with frames').stack).toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBe(limit);
  });

  it('restores the limit when building throws', () => {
    const limit = Error.stackTraceLimit;
    expect(() =>
      withoutStackTrace(() => {
        throw new TypeError('boom');
      }),
    ).toThrow('boom');
    expect(Error.stackTraceLimit).toBe(limit);
  });
});
