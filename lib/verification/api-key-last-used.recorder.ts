import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import { ApiKeyRepository } from '../storage/api-key.repository.js';
import { isApiKeyStore } from '../storage/api-key-store.predicate.js';
import type { ApiKeyStore } from '../storage/api-key.store.js';
import { escapeForLog } from '../log-escape.js';

/**
 * Tracks `lastUsedAt` without a storage write per request: uses are collected in memory and
 * written through {@link ApiKeyStore.touch} in one batch per interval (`lastUsedIntervalMs`),
 * so each key is written at most once per interval. The batch is also written when the module
 * is destroyed (`app.close()`, shutdown hooks). With a lookup-only repository it does nothing.
 */
@Injectable()
export class ApiKeyLastUsedRecorder implements OnModuleDestroy {
  private readonly logger = new Logger(ApiKeyLastUsedRecorder.name);
  private readonly store: ApiKeyStore | null;
  /** Last use per key id, in epoch ms. */
  private pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: ResolvedApiKeyOptions,
    repository: ApiKeyRepository,
  ) {
    this.store = isApiKeyStore(repository) ? repository : null;
  }

  /** Notes that key `keyId` was used at `at` (a date or epoch ms). O(1), no I/O. */
  record(keyId: string, at: Date | number): void {
    if (!this.store) return;
    this.pending.set(keyId, typeof at === 'number' ? at : at.getTime());
    if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.options.lastUsedIntervalMs);
      this.timer.unref();
    }
  }

  /** Writes the collected uses now. A failed write is logged and retried with the next batch. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.store || this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.store.touch(new Map([...batch].map(([id, at]) => [id, new Date(at)])));
    } catch (error) {
      this.logger.error(`Writing last-used times failed: ${escapeForLog(String((error as Error)?.message ?? error))}`);
      for (const [id, at] of batch) if (!this.pending.has(id)) this.pending.set(id, at);
    }
  }

  /** Writes what is pending before the application stops. */
  onModuleDestroy(): Promise<void> {
    return this.flush();
  }
}
