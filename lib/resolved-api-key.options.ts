import type { Type } from '@nestjs/common';
import { ApiKeyConfigurationError } from './api-key-configuration.error.js';
import type {
  ApiKeyCacheOptions,
  ApiKeyExpiryWarningsOptions,
  ApiKeyLifetimeOptions,
  ApiKeyModuleOptions,
  ApiKeySourcesOptions,
  StaticApiKey,
} from './api-key-module-options.interface.js';
import { ApiKeyRepository } from './storage/api-key.repository.js';
import { isWellFormedKey } from './guard/api-key.credentials.js';
import type { ApiKeyEventSink } from './api-key.events.js';
import { ApiKeyFormat, DEFAULT_API_KEY_PREFIX } from './keys/api-key.format.js';
import { resolveCacheSettings } from './storage/cached-api-key.store.js';
import { kindOf, optionNames, positiveInteger, rejectUnknownOptions, timerDelay } from './option-checks.js';

const TOKEN_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const DEFAULT_HEADER = 'X-API-Key';
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

const MODULE_OPTIONS = optionNames<ApiKeyModuleOptions>({
  sources: true,
  keys: true,
  repository: true,
  pepper: true,
  realm: true,
  maxKeyLength: true,
  lookupTimeoutMs: true,
  keyPrefix: true,
  onlyGeneratedKeys: true,
  lastUsedIntervalMs: true,
  events: true,
  userProperty: true,
  cache: true,
  expiryWarnings: true,
  maxActiveKeysPerOwner: true,
  keyLifetime: true,
});
const EXPIRY_WARNING_OPTIONS = optionNames<ApiKeyExpiryWarningsOptions>({ windowMs: true, link: true });
const DEFAULT_EXPIRY_WARNING_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
const LIFETIME_OPTIONS = optionNames<ApiKeyLifetimeOptions>({ maxMs: true, defaultMs: true });
/** The latest instant a `Date` holds, in ms since the epoch: no lifetime can be longer. */
const MAX_DATE_MS = 8.64e15;
const SOURCE_OPTIONS = optionNames<ApiKeySourcesOptions>({ header: true, bearer: true, cookie: true, query: true });
const STATIC_KEY_OPTIONS = optionNames<StaticApiKey>({
  key: true,
  name: true,
  id: true,
  scopes: true,
  ownerId: true,
  metadata: true,
});

/**
 * The module's options, validated and with every default applied. Injectable: subclasses of
 * the guard and integrations (Swagger) read their settings from here, one source of truth.
 */
export class ResolvedApiKeyOptions {
  /** Header name, as configured (for display), or `null` when the header source is off. */
  readonly header: string | null;
  /** Whether `Authorization: Bearer` is accepted. */
  readonly bearer: boolean;
  /** Cookie name, or `null`. */
  readonly cookie: string | null;
  /** Query parameter name, or `null` (the default). */
  readonly query: string | null;
  /** Keys from configuration. */
  readonly keys: readonly StaticApiKey[];
  /** Peppers, current first; empty without one. */
  readonly peppers: readonly string[];
  /** Whether `pepper: false` says plain SHA-256 is intended. */
  readonly pepperDisabled: boolean;
  /** The configured repository (class or instance), if any. */
  readonly repository: Type<ApiKeyRepository> | ApiKeyRepository | undefined;
  /** `WWW-Authenticate` realm. */
  readonly realm: string;
  /** Longest key accepted. */
  readonly maxKeyLength: number;
  /** Repository lookup timeout, in ms. */
  readonly lookupTimeoutMs: number;
  /** Format (prefix) of generated keys. */
  readonly format: ApiKeyFormat;
  /** Whether only generated keys are accepted. */
  readonly onlyGeneratedKeys: boolean;
  /** Interval of `lastUsedAt` writes, in ms. */
  readonly lastUsedIntervalMs: number;
  /** The configured event sink (class or instance), if any. */
  readonly events: Type<ApiKeyEventSink> | ApiKeyEventSink | undefined;
  /** The request property that also holds the principal (`'user'`), or `null` (`request.apiKey` only). */
  readonly userProperty: string | null;
  /** The lifetime policy of new keys, in ms (`null`: none). */
  readonly keyLifetime: { readonly maxMs: number | null; readonly defaultMs: number | null };
  /** Cache settings with every default applied, or `null` when the cache is off. */
  readonly cache: Readonly<Required<ApiKeyCacheOptions>> | null;
  /** Expiry warning settings with defaults applied, or `null` when `expiryWarnings: false`. */
  readonly expiryWarnings: ResolvedExpiryWarnings | null;
  /** Most active keys per owner, or `null` for no limit. */
  readonly maxActiveKeysPerOwner: number | null;

  /** Validates `options`; throws {@link ApiKeyConfigurationError} naming the first problem. */
  constructor(options: ApiKeyModuleOptions | undefined) {
    if (options === null || typeof options !== 'object') {
      throw new ApiKeyConfigurationError('options must be an object (did the forRootAsync factory return nothing?)');
    }
    rejectUnknownOptions(options, MODULE_OPTIONS, '');
    rejectUnknownOptions(options.sources, SOURCE_OPTIONS, 'sources');
    const sources = options.sources ?? {};
    this.header =
      sources.header === false ? null : (optionalName(sources.header, 'sources.header', TOKEN_NAME) ?? DEFAULT_HEADER);
    this.bearer = flag(sources.bearer, 'sources.bearer');
    this.cookie = sources.cookie ? (optionalName(sources.cookie, 'sources.cookie', TOKEN_NAME) ?? null) : null;
    this.query = sources.query ? (optionalName(sources.query, 'sources.query', /^[A-Za-z0-9._~-]+$/) ?? null) : null;
    if (this.header !== null && /^authorization$/i.test(this.header)) {
      throw new ApiKeyConfigurationError('sources.header cannot be "Authorization"; use sources.bearer instead');
    }
    if (!this.header && !this.bearer && !this.cookie && !this.query) {
      throw new ApiKeyConfigurationError(
        'every key source is disabled; enable at least one of header, bearer, cookie, query',
      );
    }
    this.realm = optionalName(options.realm, 'realm', /^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/) ?? 'api';
    this.maxKeyLength = positiveInteger(options.maxKeyLength, 'maxKeyLength', 256);
    this.lookupTimeoutMs = timerDelay(options.lookupTimeoutMs, 'lookupTimeoutMs', 5000);
    this.pepperDisabled = options.pepper === false;
    this.peppers = this.pepperDisabled ? [] : peppersOf(options.pepper);
    this.repository = repositoryOf(options.repository);
    this.lastUsedIntervalMs = timerDelay(options.lastUsedIntervalMs, 'lastUsedIntervalMs', 60_000);
    this.events = eventsOf(options.events);
    if (options.keyPrefix !== undefined && !ApiKeyFormat.isValidPrefix(options.keyPrefix)) {
      throw new ApiKeyConfigurationError(
        `keyPrefix must be 1 to 32 letters, digits and inner single underscores, starting with a letter`,
      );
    }
    this.format = new ApiKeyFormat(options.keyPrefix ?? DEFAULT_API_KEY_PREFIX);
    this.onlyGeneratedKeys = flag(options.onlyGeneratedKeys, 'onlyGeneratedKeys');
    this.keys = staticKeysOf(options.keys, this.maxKeyLength, this.format, this.onlyGeneratedKeys);
    this.userProperty = userPropertyOf(options.userProperty);
    this.cache = cacheOf(options.cache, this.lookupTimeoutMs);
    this.expiryWarnings = expiryWarningsOf(options.expiryWarnings);
    this.maxActiveKeysPerOwner =
      options.maxActiveKeysPerOwner === undefined
        ? null
        : positiveInteger(options.maxActiveKeysPerOwner, 'maxActiveKeysPerOwner');
    this.keyLifetime = keyLifetimeOf(options.keyLifetime);
  }
}

/** The module's `expiryWarnings`, resolved. */
export interface ResolvedExpiryWarnings {
  readonly windowMs: number;
  /** The `Link` header value, built once, or `null` without a link. */
  readonly link: string | null;
}

function expiryWarningsOf(value: unknown): ResolvedExpiryWarnings | null {
  if (value === false) return null;
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw new ApiKeyConfigurationError(
      `expiryWarnings must be false or an object { windowMs, link }, got ${kindOf(value)}`,
    );
  }
  const options = (value ?? {}) as ApiKeyExpiryWarningsOptions;
  rejectUnknownOptions(options, EXPIRY_WARNING_OPTIONS, 'expiryWarnings');
  const windowMs = positiveInteger(options.windowMs, 'expiryWarnings.windowMs', DEFAULT_EXPIRY_WARNING_WINDOW_MS);
  const { link } = options;
  if (link === undefined) return { windowMs, link: null };
  // Visible ASCII only and no `<`, `>` or `"`: the URL goes between angle brackets in a header.
  if (
    typeof link !== 'string' ||
    !/^https?:\/\/[\x21-\x7e]+$/.test(link) ||
    /[<>"]/.test(link) ||
    !URL.canParse(link)
  ) {
    throw new ApiKeyConfigurationError(
      'expiryWarnings.link must be an absolute http(s) URL of visible ASCII characters without <, > or "',
    );
  }
  return { windowMs, link: `<${link}>; rel="deprecation", <${link}>; rel="sunset"` };
}

function optionalName(value: unknown, field: string, pattern: RegExp): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new ApiKeyConfigurationError(`${field} must be a non-empty string matching ${pattern}, got ${kindOf(value)}`);
  }
  return value;
}

function flag(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean')
    throw new ApiKeyConfigurationError(`${field} must be a boolean, got ${kindOf(value)}`);
  return value;
}

function peppersOf(value: unknown): string[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.some((p) => typeof p !== 'string' || p.length < 16)) {
    throw new ApiKeyConfigurationError(
      'pepper must be a string (or a non-empty list of strings) of at least 16 characters, or false',
    );
  }
  return [...list];
}

function userPropertyOf(value: unknown): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string' || !IDENTIFIER.test(value) || value === 'apiKey' || value === '__proto__') {
    throw new ApiKeyConfigurationError(
      'userProperty must be a JavaScript identifier other than apiKey and __proto__ (such as "user"), ' +
        `got ${kindOf(value)}`,
    );
  }
  return value;
}

function repositoryOf(value: unknown): Type<ApiKeyRepository> | ApiKeyRepository | undefined {
  if (value === undefined) return undefined;
  const isClass = typeof value === 'function' && typeof value.prototype?.findByHash === 'function';
  const isInstance =
    typeof value === 'object' && value !== null && typeof (value as ApiKeyRepository).findByHash === 'function';
  if (!isClass && !isInstance) {
    throw new ApiKeyConfigurationError(
      'repository must be an ApiKeyRepository class or instance (with a findByHash method)',
    );
  }
  return value as Type<ApiKeyRepository> | ApiKeyRepository;
}

function eventsOf(value: unknown): Type<ApiKeyEventSink> | ApiKeyEventSink | undefined {
  if (value === undefined) return undefined;
  const isClass = typeof value === 'function' && typeof value.prototype?.emit === 'function';
  const isInstance =
    typeof value === 'object' && value !== null && typeof (value as ApiKeyEventSink).emit === 'function';
  if (!isClass && !isInstance)
    throw new ApiKeyConfigurationError('events must be an ApiKeyEventSink class or instance (with an emit method)');
  return value as Type<ApiKeyEventSink> | ApiKeyEventSink;
}

function keyLifetimeOf(value: unknown): ResolvedApiKeyOptions['keyLifetime'] {
  if (value === undefined) return { maxMs: null, defaultMs: null };
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ApiKeyConfigurationError(`keyLifetime must be an object { maxMs?, defaultMs? }, got ${kindOf(value)}`);
  rejectUnknownOptions(value, LIFETIME_OPTIONS, 'keyLifetime');
  const { maxMs, defaultMs } = value as ApiKeyLifetimeOptions;
  const lifetime = (ms: unknown, field: string) => {
    if (ms === undefined) return null;
    const checked = positiveInteger(ms, field);
    if (checked > MAX_DATE_MS) throw new ApiKeyConfigurationError(`${field} must be at most ${MAX_DATE_MS} ms`);
    return checked;
  };
  const resolved = {
    maxMs: lifetime(maxMs, 'keyLifetime.maxMs'),
    defaultMs: lifetime(defaultMs, 'keyLifetime.defaultMs'),
  };
  if (resolved.maxMs !== null && resolved.defaultMs !== null && resolved.defaultMs > resolved.maxMs)
    throw new ApiKeyConfigurationError('keyLifetime.defaultMs must be at most keyLifetime.maxMs');
  return resolved;
}

function cacheOf(value: unknown, lookupTimeoutMs: number): Required<ApiKeyCacheOptions> | null {
  if (value === undefined || value === false) return null;
  if (value !== true && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw new ApiKeyConfigurationError(
      `cache must be a boolean or an object { max, ttlMs, negativeTtlMs, lookupTimeoutMs }, got ${kindOf(value)}`,
    );
  }
  return resolveCacheSettings(value === true ? {} : (value as ApiKeyCacheOptions), lookupTimeoutMs);
}

function staticKeysOf(
  value: unknown,
  maxKeyLength: number,
  format: ApiKeyFormat,
  onlyGenerated: boolean,
): StaticApiKey[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ApiKeyConfigurationError('keys must be an array of { key, name, scopes }');
  const ids = new Set<string>();
  const secrets = new Set<string>();
  return value.map((entry: StaticApiKey, index) => {
    const where = `keys[${index}]`;
    rejectUnknownOptions(entry, STATIC_KEY_OPTIONS, where);
    if (typeof entry?.name !== 'string' || entry.name.trim() === '') {
      throw new ApiKeyConfigurationError(`${where}.name must be a non-empty string`);
    }
    const label = `${where} ("${entry.name}")`;
    if (typeof entry.key !== 'string' || entry.key.length < 16) {
      throw new ApiKeyConfigurationError(
        `${label}.key must be a string of at least 16 characters (is the environment variable set?)`,
      );
    }
    if (!isWellFormedKey(entry.key, maxKeyLength)) {
      throw new ApiKeyConfigurationError(
        `${label}.key must be at most ${maxKeyLength} visible ASCII characters without spaces, commas or semicolons`,
      );
    }
    if (format.claims(entry.key) && format.parse(entry.key) === null) {
      throw new ApiKeyConfigurationError(
        `${label}.key starts with the generated-key prefix "${format.prefix}_" ` +
          'but is not a valid generated key (would always be refused)',
      );
    }
    if (onlyGenerated && format.parse(entry.key) === null) {
      throw new ApiKeyConfigurationError(
        `${label}.key is not a generated "${format.prefix}_" key, ` +
          'and onlyGeneratedKeys is on (would always be refused)',
      );
    }
    if (
      entry.scopes !== undefined &&
      (!Array.isArray(entry.scopes) || entry.scopes.some((s) => typeof s !== 'string' || s === ''))
    ) {
      throw new ApiKeyConfigurationError(`${label}.scopes must be an array of non-empty strings`);
    }
    const id = entry.id ?? entry.name;
    if (ids.has(id)) throw new ApiKeyConfigurationError(`${label}: id "${id}" is used twice`);
    if (secrets.has(entry.key)) throw new ApiKeyConfigurationError(`${label}: the same key is configured twice`);
    ids.add(id);
    secrets.add(entry.key);
    return { ...entry, id };
  });
}
