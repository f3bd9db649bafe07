import { describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { ApiKeyConfigurationError, ApiKeyModule, ApiKeySubscriptions } from '../../index.js';

describe('ApiKeySubscriptions options', () => {
  it.each([0, -1, 1.5, Number.NaN, '100'])('refuses recheckIntervalMs %p with a clear error', async (value) => {
    const moduleRef = await Test.createTestingModule({ imports: [ApiKeyModule.forRoot({})] }).compile();
    const subscriptions = moduleRef.get(ApiKeySubscriptions);
    const options = { recheckIntervalMs: value as number };
    expect(() => subscriptions.graphqlWs(options)).toThrow(ApiKeyConfigurationError);
    expect(() => subscriptions.mercurius(options)).toThrow(/recheckIntervalMs must be a positive integer/);
    await moduleRef.close();
  });
});
