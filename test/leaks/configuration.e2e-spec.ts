import { describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { ApiKeyModule, ApiKeyRepository, type ApiKeyRecord } from 'nestjs-api-key';
import { ApiKeyLeaksModule, StaticSecretScanningPublicKeys, type ApiKeyLeaksOptions } from 'nestjs-api-key/leaks';

const publicKeys = new StaticSecretScanningPublicKeys([]);

/** A repository that only looks keys up (no management). */
class LookupOnly extends ApiKeyRepository {
  async findByHash(): Promise<ApiKeyRecord | null> {
    return null;
  }
}

async function boot(leaks: ApiKeyLeaksOptions, withApiKeys = true, repository?: ApiKeyRepository): Promise<void> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      ...(withApiKeys ? [ApiKeyModule.forRoot(repository ? { repository } : {})] : []),
      ApiKeyLeaksModule.forRoot(leaks),
    ],
  }).compile();
  await moduleRef.init();
  await moduleRef.close();
}

describe('ApiKeyLeaksModule configuration', () => {
  it('boots with valid options', async () => {
    await expect(boot({ publicKeys, action: 'disable', maxBodyBytes: 10_000 })).resolves.toBeUndefined();
  });

  it.each<[string, ApiKeyLeaksOptions, RegExp]>([
    [
      'an unknown action',
      { publicKeys, action: 'delete' as never },
      /leaks\.action must be one of revoke, disable, notify/,
    ],
    [
      'a misspelt option',
      { publicKeys, maxBodyByte: 10 } as never,
      /unknown option "leaks\.maxBodyByte": did you mean "maxBodyBytes"\?/,
    ],
    [
      'a size that is not a positive integer',
      { publicKeys, maxBodyBytes: 0 },
      /leaks\.maxBodyBytes must be a positive integer/,
    ],
    [
      'a key source that is not one',
      { publicKeys: {} as never },
      /leaks\.publicKeys must be a SecretScanningPublicKeys/,
    ],
  ])('refuses %s at bootstrap with ApiKeyConfigurationError', async (_, options, message) => {
    await expect(boot(options)).rejects.toThrow(message);
  });

  it('refuses to start without ApiKeyModule', async () => {
    await expect(boot({ publicKeys }, false)).rejects.toThrow(/ApiKeyLeaksModule needs ApiKeyModule\.forRoot\(\)/);
  });

  it('refuses revoke and disable over a lookup-only repository, and accepts notify', async () => {
    await expect(boot({ publicKeys }, true, new LookupOnly())).rejects.toThrow(
      /needs a repository that implements ApiKeyStore/,
    );
    await expect(boot({ publicKeys, action: 'notify' }, true, new LookupOnly())).resolves.toBeUndefined();
  });
});
