import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ApiKeyService } from 'nestjs-api-key';

/**
 * On the first start with an empty store, creates an admin key and shows it once on the
 * console, so the admin API (and the CLI's keys) can be used without editing anything.
 * The plaintext is printed here only because this is a sample: it is not stored anywhere.
 */
@Injectable()
export class FirstAdminKey implements OnApplicationBootstrap {
  private readonly logger = new Logger('FirstAdminKey');

  constructor(private readonly keys: ApiKeyService) {}

  async onApplicationBootstrap(): Promise<void> {
    if ((await this.keys.list({ limit: 1 })).length > 0) return;
    const { key, apiKey } = await this.keys.create({
      name: 'first-admin',
      scopes: ['admin', 'catalogue:*'],
      ownerId: 'demo-ops',
    });
    this.logger.warn(
      `The key store was empty, so an admin key was created (id ${apiKey.id}). It is shown this once and never again; ` +
        `copy it now: ${key}  (use it as "X-API-Key: <key>" on /admin/keys; revoke it with "npx nestjs-api-key revoke ${apiKey.id}")`,
    );
  }
}
