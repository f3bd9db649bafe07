import { Injectable } from '@nestjs/common';

/** One of the keys GitHub signs secret-scanning reports with. */
export interface SecretScanningPublicKey {
  /** What the `GITHUB-PUBLIC-KEY-IDENTIFIER` header names. */
  readonly keyIdentifier: string;
  /** The ECDSA P-256 public key, PEM-encoded (SPKI). */
  readonly key: string;
}

/**
 * Where the leak receiver gets the public keys that sign secret-scanning reports, and its
 * injection token. The default, {@link GitHubSecretScanningPublicKeys}, fetches GitHub's; give
 * {@link StaticSecretScanningPublicKeys} (tests, a GitHub Enterprise Server's keys) or your own
 * class as the module's `publicKeys` option.
 */
export abstract class SecretScanningPublicKeys {
  /**
   * The keys currently valid. `refresh` is `true` when a report names a key identifier missing
   * from the previous answer: fetch again, unless that was done very recently (anyone can send
   * an unknown identifier, so a refresh must not be a way to flood the keys' origin).
   * Reject when the keys cannot be had: the report is answered 503, so its sender retries.
   */
  abstract publicKeys(refresh: boolean): Promise<readonly SecretScanningPublicKey[]>;
}

/** A fixed list of public keys: for tests, and for a GitHub Enterprise Server's keys. */
export class StaticSecretScanningPublicKeys extends SecretScanningPublicKeys {
  private readonly keys: readonly SecretScanningPublicKey[];

  constructor(keys: readonly SecretScanningPublicKey[]) {
    super();
    this.keys = Object.freeze(keys.map((key) => Object.freeze({ keyIdentifier: key.keyIdentifier, key: key.key })));
  }

  /** @inheritdoc */
  publicKeys(): Promise<readonly SecretScanningPublicKey[]> {
    return Promise.resolve(this.keys);
  }
}

/** Options of {@link GitHubSecretScanningPublicKeys}. */
export interface GitHubSecretScanningPublicKeysOptions {
  /** Default `https://api.github.com/meta/public_keys/secret_scanning`. */
  readonly url?: string;
  /** How long fetched keys are used before fetching again, in ms. Default 1 hour. */
  readonly maxAgeMs?: number;
  /**
   * How long keys fetched before keep being used while GitHub cannot be reached, in ms (counted
   * from their fetch). Default 24 hours.
   */
  readonly maxStaleMs?: number;
  /** The least time between two fetches made because of an unknown identifier, in ms. Default 60 s. */
  readonly minRefreshIntervalMs?: number;
  /** Longest wait for GitHub's answer, in ms. Default 10 s. */
  readonly timeoutMs?: number;
  /**
   * A GitHub token (no scope needed) sent as `Authorization: Bearer`, which raises GitHub's rate
   * limit on this endpoint. Optional.
   */
  readonly token?: string;
  /** The `fetch` used; default the global one. */
  readonly fetch?: typeof fetch;
}

/** The default URL of GitHub's secret-scanning public keys. */
export const GITHUB_SECRET_SCANNING_KEYS_URL = 'https://api.github.com/meta/public_keys/secret_scanning';

/**
 * GitHub's secret-scanning public keys, fetched from `url` and kept for `maxAgeMs`; fetched again
 * sooner when a report names an unknown identifier (a key rotation). Concurrent callers share one
 * fetch, and with keys in hand it asks GitHub at most once per `minRefreshIntervalMs`, whatever
 * the reason. When a fetch fails, keys fetched before keep being used for up to `maxStaleMs`;
 * without them the caller's report gets 503.
 */
@Injectable()
export class GitHubSecretScanningPublicKeys extends SecretScanningPublicKeys {
  private readonly url: string;
  private readonly maxAgeMs: number;
  private readonly maxStaleMs: number;
  private readonly minRefreshIntervalMs: number;
  private readonly timeoutMs: number;
  private readonly token: string | undefined;
  private readonly fetchFn: typeof fetch;
  private keys: readonly SecretScanningPublicKey[] | null = null;
  private fetchedAt = 0;
  private attemptedAt = 0;
  private pending: Promise<readonly SecretScanningPublicKey[]> | null = null;

  constructor(options: GitHubSecretScanningPublicKeysOptions = {}) {
    super();
    this.url = options.url ?? GITHUB_SECRET_SCANNING_KEYS_URL;
    this.maxAgeMs = options.maxAgeMs ?? 3_600_000;
    this.maxStaleMs = options.maxStaleMs ?? 86_400_000;
    this.minRefreshIntervalMs = options.minRefreshIntervalMs ?? 60_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.token = options.token;
    this.fetchFn = options.fetch ?? globalThis.fetch;
  }

  /** @inheritdoc */
  publicKeys(refresh: boolean): Promise<readonly SecretScanningPublicKey[]> {
    const now = Date.now();
    const age = now - this.fetchedAt;
    const due =
      this.keys === null ||
      age >= this.maxStaleMs ||
      ((age >= this.maxAgeMs || refresh) && now - this.attemptedAt >= this.minRefreshIntervalMs);
    if (!due) return Promise.resolve(this.keys!);
    this.pending ??= this.fetchKeys().finally(() => (this.pending = null));
    return this.pending;
  }

  private async fetchKeys(): Promise<readonly SecretScanningPublicKey[]> {
    this.attemptedAt = Date.now();
    try {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (this.token) headers.authorization = `Bearer ${this.token}`;
      const response = await this.fetchFn(this.url, { headers, signal: AbortSignal.timeout(this.timeoutMs) });
      if (!response.ok) throw new Error(`GET ${this.url} answered ${response.status}`);
      this.keys = keysOf(await response.json(), this.url);
      this.fetchedAt = Date.now();
      return this.keys;
    } catch (error) {
      if (this.keys !== null && Date.now() - this.fetchedAt < this.maxStaleMs) return this.keys;
      throw error;
    }
  }
}

/** The keys of GitHub's answer (`{ public_keys: [{ key_identifier, key, is_current }] }`). */
function keysOf(body: unknown, url: string): readonly SecretScanningPublicKey[] {
  const list = (body as { public_keys?: unknown } | null)?.public_keys;
  if (!Array.isArray(list)) throw new Error(`GET ${url} answered without a public_keys array`);
  return Object.freeze(
    list
      .filter((entry) => typeof entry?.key_identifier === 'string' && typeof entry?.key === 'string')
      .map((entry) => Object.freeze({ keyIdentifier: entry.key_identifier as string, key: entry.key as string })),
  );
}
