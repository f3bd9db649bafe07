import { describe, expect, it } from '@jest/globals';
import { ApiKeyConfigurationError } from './api-key-configuration.error.js';
import { rejectUnknownOptions } from './option-checks.js';

describe('rejectUnknownOptions', () => {
  const known = ['pepper', 'sources', 'cache', 'keys'];

  it('passes known names, undefined and non-objects', () => {
    expect(() => rejectUnknownOptions({ pepper: 'x', cache: true }, known, '')).not.toThrow();
    expect(() => rejectUnknownOptions(undefined, known, '')).not.toThrow();
    expect(() => rejectUnknownOptions(true, known, 'cache')).not.toThrow();
  });

  it('names a misspelt option with its path and the nearest known name', () => {
    expect(() => rejectUnknownOptions({ peper: 'x' }, known, '')).toThrow(
      new ApiKeyConfigurationError('unknown option "peper": did you mean "pepper"?'),
    );
    expect(() => rejectUnknownOptions({ ttl: 1 }, ['max', 'ttlMs', 'negativeTtlMs'], 'cache')).toThrow(
      'unknown option "cache.ttl": did you mean "ttlMs"?',
    );
  });

  it('lists the known names when nothing is close', () => {
    expect(() => rejectUnknownOptions({ database: 'x' }, known, '')).toThrow(
      'unknown option "database": known options: pepper, sources, cache, keys',
    );
  });
});
