import { describe, expect, it } from '@jest/globals';
import type { ApiKeyChangeFeed } from '../storage/api-key-change-feed.interface.js';
import type { ApiKeyRecord } from '../storage/api-key-record.interface.js';
import { ApiKeyRepository } from '../storage/api-key.repository.js';
import { CachedApiKeyStore } from '../storage/cached-api-key.store.js';
import { ApiKeyChanges } from './api-key.changes.js';

const HASH = 'x'.repeat(43);

/** One key, counted lookups, and a change feed that calls its newest listener first. */
class FeedRepository extends ApiKeyRepository implements ApiKeyChangeFeed {
  lookups = 0;
  listeners: Array<(keyId: string | null) => void> = [];
  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    this.lookups++;
    return hash === HASH ? { id: 'k-1', name: 'one', hash: HASH, scopes: [] } : null;
  }
  watchChanges(listener: (keyId: string | null) => void) {
    this.listeners.unshift(listener);
    return () => (this.listeners = this.listeners.filter((l) => l !== listener));
  }
  isListening() {
    return true;
  }
  announce(keyId: string | null) {
    for (const listener of this.listeners) listener(keyId);
  }
}

describe('ApiKeyChanges', () => {
  it('reports the changes ApiKeyService tells it to every listener, until each unsubscribes', () => {
    const changes = new ApiKeyChanges(new FeedRepository());
    const heard: Array<string | null> = [];
    const stop = changes.watch((keyId) => heard.push(keyId));
    changes.changed('k-1');
    changes.changed(null);
    stop();
    changes.changed('k-2');
    expect(heard).toEqual(['k-1', null]);
  });

  it("listens to the store's change feed only while it has listeners of its own", () => {
    const feed = new FeedRepository();
    const changes = new ApiKeyChanges(feed);
    expect(feed.listeners).toHaveLength(0);
    const stops = [changes.watch(() => undefined), changes.watch(() => undefined)];
    expect(feed.listeners).toHaveLength(1);
    stops.forEach((stop) => stop());
    expect(feed.listeners).toHaveLength(0);
    changes.watch(() => undefined);
    changes.onModuleDestroy();
    expect(feed.listeners).toHaveLength(0);
  });

  it("reports a change heard through the cache's feed once the cache forgot the key", async () => {
    const feed = new FeedRepository();
    const cache = new CachedApiKeyStore(feed, { ttlMs: 600_000 });
    const changes = new ApiKeyChanges(cache);
    await cache.findByHash(HASH);
    const heard = new Promise<number>((resolve) =>
      // A re-check reads the key again here: it must reach the store, not the cache's stale entry.
      changes.watch(() => void cache.findByHash(HASH).then(() => resolve(feed.lookups))),
    );
    feed.announce('k-1'); // the feed calls this listener before the cache's
    expect(await heard).toBe(2);
  });
});
