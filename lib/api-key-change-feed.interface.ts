/**
 * Implemented by stores that can tell every instance about changes made anywhere (the PostgreSQL
 * store, through `LISTEN/NOTIFY`). {@link CachedApiKeyStore} subscribes to it to drop stale
 * entries; without it, the cache's TTL bounds how long another instance may serve a stale key.
 */
export interface ApiKeyChangeFeed {
  /**
   * Calls `listener` with the id of a key that changed, or with `null` when anything may have
   * changed (each time it starts listening: at startup and after a lost connection was
   * re-established, since changes made before were not heard). Returns the unsubscribe function.
   */
  watchChanges(listener: (keyId: string | null) => void): () => void;
}
