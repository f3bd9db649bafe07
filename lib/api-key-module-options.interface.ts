import type { Type } from '@nestjs/common';
import type { ApiKeyRepository } from './api-key.repository.js';

/**
 * Where the guard looks for a key. Exactly one credential may be present in a request:
 * a key in two places, or a repeated header, cookie or query value, is answered with 400.
 */
export interface ApiKeySourcesOptions {
  /** Request header carrying the key. Default `'X-API-Key'`; `false` turns the header source off. */
  header?: string | false;
  /** Accept `Authorization: Bearer <key>` (scheme case-insensitive). Default `false`. */
  bearer?: boolean;
  /** Name of a cookie carrying the key. Default: off. */
  cookie?: string | false;
  /**
   * Name of a query parameter carrying the key. Default: off.
   * Risky: URLs end up in access logs, proxies and browser history. Prefer a header.
   */
  query?: string | false;
}

/** A key given in configuration (typically read from an environment variable). */
export interface StaticApiKey {
  /** The secret itself. It is hashed when the module starts; the plaintext is not kept. */
  key: string;
  /** Human-readable name; also the key's public id unless `id` is given. */
  name: string;
  /** Public identifier. Default: the name. */
  id?: string;
  /** Scopes granted. Default: none (any guarded route without scope requirements). */
  scopes?: readonly string[];
  /** Owner of the key. */
  ownerId?: string;
  /** Application data exposed on the principal. */
  metadata?: Record<string, unknown>;
}

/** Settings of the cache in front of the repository ({@link CachedApiKeyStore}). */
export interface ApiKeyCacheOptions {
  /** Most found keys held, and most unknown hashes remembered (LRU). Default 10,000. */
  max?: number;
  /**
   * How long a found key is served from memory, in ms. Changes made through the cache apply at
   * once on this instance, and within a second on others when the store sends change
   * notifications (PostgreSQL); this bounds the delay when it does not, or a notification is lost. Default 10,000.
   */
  ttlMs?: number;
  /** How long an unknown (well-formed) key is remembered as unknown, in ms. Default 2,000. */
  negativeTtlMs?: number;
  /** A storage lookup not settled after this many ms is abandoned, so the next request tries again. Default: the module's `lookupTimeoutMs`. */
  lookupTimeoutMs?: number;
}

/** Options of {@link ApiKeyModule}: `forRoot(options)` or the result of `forRootAsync`'s factory. */
export interface ApiKeyModuleOptions {
  /** Where keys are read from. Default: the `X-API-Key` header only. */
  sources?: ApiKeySourcesOptions;
  /** Keys from configuration, checked before the repository. */
  keys?: readonly StaticApiKey[];
  /**
   * Key storage: a class (instantiated through dependency injection in the module's context,
   * so its dependencies must be visible there: `imports` of `forRootAsync` or global modules)
   * or a ready instance. Default: a new {@link InMemoryApiKeyRepository}.
   */
  repository?: Type<ApiKeyRepository> | ApiKeyRepository;
  /**
   * Server-side secret(s) for the keyed hash (HMAC-SHA-256), current first. Several allow
   * rotating the pepper itself. Without one, keys are hashed with plain SHA-256.
   */
  pepper?: string | readonly string[];
  /** `realm` of the `WWW-Authenticate` challenge. Default `'api'`. */
  realm?: string;
  /** Longest key accepted; longer ones are refused before hashing. Default 256. */
  maxKeyLength?: number;
  /** How long a repository lookup may take before the request fails with 503, in ms. Default 5000. */
  lookupTimeoutMs?: number;
  /**
   * Cache the repository's answers in memory ({@link CachedApiKeyStore}): `true` for the
   * defaults, or its settings. Default: off.
   */
  cache?: boolean | ApiKeyCacheOptions;
}
