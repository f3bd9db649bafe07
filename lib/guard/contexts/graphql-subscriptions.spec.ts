import { describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { ApiKeyConfigurationError, ApiKeyModule, ApiKeySubscriptions, ApiKeyWebSockets } from '../../index.js';

describe('recheckIntervalMs of ApiKeySubscriptions and ApiKeyWebSockets', () => {
  it.each([0, -1, 1.5, Number.NaN, '100'])('refuses %p with a clear error', async (value) => {
    const moduleRef = await Test.createTestingModule({ imports: [ApiKeyModule.forRoot({})] }).compile();
    const subscriptions = moduleRef.get(ApiKeySubscriptions);
    const webSockets = moduleRef.get(ApiKeyWebSockets);
    const options = { recheckIntervalMs: value as number };
    expect(() => subscriptions.graphqlWs(options)).toThrow(ApiKeyConfigurationError);
    expect(() => subscriptions.mercurius(options)).toThrow(
      /ApiKeySubscriptions: recheckIntervalMs must be a positive integer/,
    );
    expect(() => webSockets.socketIo(options)).toThrow(ApiKeyConfigurationError);
    expect(() => webSockets.ws(options)).toThrow(/ApiKeyWebSockets: recheckIntervalMs must be a positive integer/);
    await moduleRef.close();
  });
});
