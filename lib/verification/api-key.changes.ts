import { Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import type { ApiKeyChangeFeed } from '../storage/api-key-change-feed.interface.js';
import { ApiKeyRepository } from '../storage/api-key.repository.js';
import { CachedApiKeyStore } from '../storage/cached-api-key.store.js';

/** Called with the id of a key that changed, or `null` when any key may have changed. */
export type ApiKeyChangeListener = (keyId: string | null) => void;

/**
 * Tells the parts that hold keys open (WebSocket connections, GraphQL subscriptions) that a key
 * changed: through {@link changed}, which `ApiKeyService` calls after each change it makes, and
 * through the store's {@link ApiKeyChangeFeed} when it has one (PostgreSQL: changes made on other
 * instances or with the CLI). It listens to the feed only while it has listeners of its own.
 */
@Injectable()
export class ApiKeyChanges implements OnModuleDestroy {
  private readonly listeners = new Set<ApiKeyChangeListener>();
  private unwatchFeed: (() => void) | undefined;

  constructor(@Optional() private readonly repository?: ApiKeyRepository) {}

  /** Calls `listener` on every change until the returned function is called. */
  watch(listener: ApiKeyChangeListener): () => void {
    this.listeners.add(listener);
    // Deferred: the feed calls its listeners in a row, and the key cache must forget the key in
    // its own before a listener here verifies the key again.
    this.unwatchFeed ??= changeFeedOf(this.repository)?.watchChanges((keyId) =>
      queueMicrotask(() => this.changed(keyId)),
    );
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopWatchingFeed();
    };
  }

  /** Reports a change to the key `keyId` (`null`: to any key) to every listener. */
  changed(keyId: string | null): void {
    for (const listener of this.listeners) listener(keyId);
  }

  /** Stops listening to the store's change feed (the application is shutting down). */
  onModuleDestroy(): void {
    this.listeners.clear();
    this.stopWatchingFeed();
  }

  private stopWatchingFeed(): void {
    this.unwatchFeed?.();
    this.unwatchFeed = undefined;
  }
}

/** The change feed behind `repository`: the cache's, or the repository itself when it is one. */
function changeFeedOf(repository: ApiKeyRepository | undefined): ApiKeyChangeFeed | undefined {
  if (repository instanceof CachedApiKeyStore) return repository.changeFeed;
  const feed = repository as Partial<ApiKeyChangeFeed> | undefined;
  return typeof feed?.watchChanges === 'function' && typeof feed.isListening === 'function'
    ? (feed as ApiKeyChangeFeed)
    : undefined;
}
