/**
 * Implemented by stores that can tell every instance about changes made anywhere (the PostgreSQL
 * store, through `LISTEN/NOTIFY`). {@link CachedApiKeyStore} subscribes to it to drop stale
 * entries, and serves from memory only while it listens; without it, the cache's TTL bounds how
 * long another instance may serve a stale key.
 */
export interface ApiKeyChangeFeed {
  /**
   * Calls `listener` with the id of a key that changed, or with `null` when anything may have
   * changed (each time it starts listening: at startup and after a lost connection was
   * re-established, since changes made before were not heard). Returns the unsubscribe function.
   */
  watchChanges(listener: (keyId: string | null) => void): () => void;

  /**
   * Whether every change is heard now: `true` from the moment the feed listens (just before it
   * calls its listeners with `null`) until it learns its connection was lost.
   */
  isListening(): boolean;
}
