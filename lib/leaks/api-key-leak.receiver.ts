import {
  BadRequestException,
  ConflictException,
  Injectable,
  InternalServerErrorException,
  Logger,
  PayloadTooLargeException,
  ServiceUnavailableException,
  UnauthorizedException,
  UnsupportedMediaTypeException,
  type OnModuleInit,
  type Type,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { createPublicKey, hash, verify, type KeyObject } from 'node:crypto';
import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import { ApiKeyLifecycleError } from '../api-key-lifecycle.error.js';
import { ApiKeyEventSink, ApiKeyEventType } from '../api-key.events.js';
import { ApiKeyHasher } from '../keys/api-key.hasher.js';
import { escapeForLog } from '../log-escape.js';
import { ApiKeyService } from '../management/api-key.service.js';
import { ResolvedApiKeyOptions } from '../resolved-api-key.options.js';
import type { ApiKeyRecord } from '../storage/api-key-record.interface.js';
import { isApiKeyStore } from '../storage/api-key-store.predicate.js';
import { ApiKeyRepository } from '../storage/api-key.repository.js';
import { ApiKeyClock } from '../verification/api-key.clock.js';
import { FixedTimeout } from '../verification/fixed-timeout.js';
import { ResolvedLeaksOptions } from './leaks-options.js';
import { RecentSet } from './recent-set.js';
import {
  GitHubSecretScanningPublicKeys,
  SecretScanningPublicKeys,
  type SecretScanningPublicKey,
} from './secret-scanning-public-keys.js';

/** One match of a secret-scanning report, as GitHub sends it. */
export interface SecretScanningMatch {
  /** The matched text: possibly one of our keys. */
  readonly token: string;
  /** The token type the pattern was registered under. */
  readonly type: string;
  /** The public URL where it was found (may be empty). */
  readonly url: string;
  /** What kind of place it was found in (`content`, `commit`, `issue_comment`...). */
  readonly source: string;
}

/**
 * The answer for one match, in the partner program's feedback format: the token's SHA-256 (hex,
 * never the token itself), its type, and whether it is one of the application's keys.
 */
export interface SecretScanningFeedback {
  readonly token_hash: string;
  readonly token_type: string;
  readonly label: 'true_positive' | 'false_positive';
}

/** What the receiver needs of an HTTP request: its headers and its body's exact bytes. */
export interface LeakReportRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The unparsed body (`rawBody` of a Nest application created with `rawBody: true`). */
  readonly rawBody: Buffer | undefined;
}

const IDENTIFIER_HEADER = 'github-public-key-identifier';
const SIGNATURE_HEADER = 'github-public-key-signature';

/**
 * Handles GitHub secret-scanning reports: checks the body's size, its ECDSA P-256 / SHA-256
 * signature against the {@link SecretScanningPublicKeys}, its shape and that it is not a replay,
 * all before any storage access; then, for each match, checks the key's format and checksum
 * offline, looks the key up by its keyed hash and applies the configured action (once per key,
 * however many reports name it concurrently), emitting `api-key.leaked`. Answers with the
 * partner program's feedback. A storage failure rejects the whole report with 503, so GitHub
 * retries it; a retry does not emit the events of keys already handled again.
 */
@Injectable()
export class ApiKeyLeakReceiver implements OnModuleInit {
  private readonly logger = new Logger('ApiKeyLeaks');
  private readonly handledBodies: RecentSet;
  private readonly reportedKeys: RecentSet;
  private readonly bodiesInFlight = new Set<string>();
  private readonly keysInFlight = new Map<string, Promise<void>>();
  private readonly verifiers = new Map<string, KeyObject | null>();
  private publicKeys!: SecretScanningPublicKeys;
  private apiKeys!: ResolvedApiKeyOptions;
  private hasher!: ApiKeyHasher;
  private repository!: ApiKeyRepository;
  private service!: ApiKeyService;
  private events!: ApiKeyEventSink;
  private clock!: ApiKeyClock;
  private timeout!: FixedTimeout;
  private missingRawBodyLogged = false;

  constructor(
    private readonly options: ResolvedLeaksOptions,
    private readonly moduleRef: ModuleRef,
  ) {
    this.handledBodies = new RecentSet(options.replayWindowMs, options.replayMemory);
    this.reportedKeys = new RecentSet(options.replayWindowMs, options.replayMemory);
  }

  /** Finds `ApiKeyModule`'s providers (wherever it is imported) and builds the public-key source. */
  async onModuleInit(): Promise<void> {
    const find = <T>(token: abstract new (...args: never[]) => T): T => {
      try {
        return this.moduleRef.get(token as unknown as Type<T>, { strict: false });
      } catch {
        throw new ApiKeyConfigurationError('ApiKeyLeaksModule needs ApiKeyModule.forRoot() in the application');
      }
    };
    this.apiKeys = find(ResolvedApiKeyOptions);
    this.hasher = find(ApiKeyHasher);
    this.repository = find(ApiKeyRepository);
    this.service = find(ApiKeyService);
    this.events = find(ApiKeyEventSink);
    this.clock = find(ApiKeyClock);
    const ms = this.apiKeys.lookupTimeoutMs;
    this.timeout = new FixedTimeout(ms, () => new Error(`lookup timed out after ${ms} ms`));
    if (this.options.action !== 'notify' && !isApiKeyStore(this.repository))
      throw new ApiKeyConfigurationError(
        `leaks.action '${this.options.action}' needs a repository that implements ApiKeyStore; ` +
          `use action 'notify' with a lookup-only repository`,
      );
    const source = this.options.publicKeys ?? GitHubSecretScanningPublicKeys;
    this.publicKeys = typeof source === 'function' ? await this.moduleRef.create(source) : source;
  }

  /**
   * Handles one report. Resolves to the feedback, one entry per match in order; throws an
   * `HttpException`: 413 (too large), 415 (not JSON), 401 (unsigned, unknown key, bad
   * signature), 400 (not a list of matches), 409 (a replay), 503 (keys or storage unavailable).
   */
  async receive(request: LeakReportRequest): Promise<SecretScanningFeedback[]> {
    const declared = Number(header(request, 'content-length'));
    if (declared > this.options.maxBodyBytes) throw tooLarge(this.options.maxBodyBytes);
    if (!/^application\/json\s*(;|$)/i.test(header(request, 'content-type') ?? ''))
      throw new UnsupportedMediaTypeException('A secret-scanning report is application/json');
    const body = request.rawBody;
    if (!Buffer.isBuffer(body)) throw this.missingRawBody();
    if (body.length > this.options.maxBodyBytes) throw tooLarge(this.options.maxBodyBytes);
    await this.verifySignature(body, header(request, IDENTIFIER_HEADER), header(request, SIGNATURE_HEADER));
    const matches = matchesOf(body);
    const digest = hash('sha256', body, 'base64url');
    if (this.handledBodies.has(digest, Date.now()) || this.bodiesInFlight.has(digest)) {
      this.logger.warn('Refused a replayed secret-scanning report');
      throw new ConflictException('This report was already received');
    }
    this.bodiesInFlight.add(digest);
    try {
      const feedback: SecretScanningFeedback[] = [];
      for (const match of matches) feedback.push(await this.handle(match));
      this.handledBodies.add(digest, Date.now());
      return feedback;
    } finally {
      this.bodiesInFlight.delete(digest);
    }
  }

  /** Verifies the ECDSA signature of `body`; throws 401 (or 503 when the keys cannot be had). */
  private async verifySignature(body: Buffer, identifier?: string, signature?: string): Promise<void> {
    if (!identifier || !signature) throw this.unsigned('a report without its signature headers');
    let key = await this.verifierFor(identifier, false);
    if (key === undefined) key = await this.verifierFor(identifier, true);
    if (!key) throw this.unsigned('a report signed with an unknown or unusable key');
    let valid = false;
    try {
      valid = verify('sha256', body, key, Buffer.from(signature, 'base64'));
    } catch {
      valid = false; // not a DER-encoded ECDSA signature
    }
    if (!valid) throw this.unsigned('a report whose signature does not match its body');
  }

  /**
   * The key named `identifier`: `undefined` when the source does not list it, `null` when it is
   * listed but is not an ECDSA P-256 public key.
   */
  private async verifierFor(identifier: string, refresh: boolean): Promise<KeyObject | null | undefined> {
    let keys: readonly SecretScanningPublicKey[];
    try {
      keys = await this.publicKeys.publicKeys(refresh);
    } catch (error) {
      this.logger.error(`Secret-scanning public keys unavailable: ${messageOf(error)}`);
      throw new ServiceUnavailableException('Signing keys are unavailable; retry later');
    }
    const listed = keys.find((key) => key.keyIdentifier === identifier);
    if (!listed) return undefined;
    const cacheKey = `${identifier}\n${listed.key}`;
    if (!this.verifiers.has(cacheKey)) this.verifiers.set(cacheKey, verifierOf(listed.key));
    return this.verifiers.get(cacheKey);
  }

  /** The feedback for one match, after applying the action to the key it names, if it is ours. */
  private async handle(match: SecretScanningMatch): Promise<SecretScanningFeedback> {
    const feedback = (label: SecretScanningFeedback['label']): SecretScanningFeedback => ({
      token_hash: hash('sha256', match.token, 'hex'),
      token_type: match.type,
      label,
    });
    const id = this.apiKeys.format.parse(match.token);
    if (id === null) return feedback('false_positive');
    const record = await this.lookup(match.token);
    if (!record || record.id !== id) return feedback('false_positive');
    let pending = this.keysInFlight.get(id);
    if (!pending) {
      pending = this.act(record, match).finally(() => this.keysInFlight.delete(id));
      this.keysInFlight.set(id, pending);
    }
    await pending;
    return feedback('true_positive');
  }

  /**
   * The stored record of `token` under any configured pepper, or `null`; 503 when storage fails
   * or a lookup outlasts `lookupTimeoutMs` (the `ApiKeyModule` option).
   */
  private async lookup(token: string): Promise<ApiKeyRecord | null> {
    try {
      for (const candidate of this.hasher.candidates(token)) {
        const record = await this.timeout.race(this.repository.findByHash(candidate));
        if (record) return record;
      }
      return null;
    } catch (error) {
      throw this.unavailable(error);
    }
  }

  /**
   * Applies the action to a key reported leaked and emits `api-key.leaked`, unless the key was
   * already reported within the replay window (a retry, or the same leak found twice).
   */
  private async act(record: ApiKeyRecord, match: SecretScanningMatch): Promise<void> {
    const now = Date.now();
    if (this.reportedKeys.has(record.id, now)) return;
    const { action } = this.options;
    const revoked = Boolean(record.revokedAt);
    let applied = false;
    try {
      if (action === 'revoke' && !revoked) applied = Boolean((await this.service.revoke(record.id)).revokedAt);
      if (action === 'disable' && !revoked && !record.disabled)
        applied = (await this.service.disable(record.id)).disabled;
    } catch (error) {
      // Deleted or revoked meanwhile: nothing left to do. Anything else (a store failure, a
      // conflict) fails the report so that GitHub retries it.
      if (!(error instanceof ApiKeyLifecycleError && (error.code === 'not_found' || error.code === 'revoked')))
        throw this.unavailable(error);
    }
    this.events.emit({
      type: ApiKeyEventType.Leaked,
      keyId: record.id,
      name: record.name,
      ownerId: record.ownerId ?? null,
      url: match.url,
      source: match.source,
      action,
      applied,
      at: this.clock.now(),
    });
    this.reportedKeys.add(record.id, now);
  }

  private unsigned(what: string): UnauthorizedException {
    this.logger.warn(`Refused ${what}`);
    return new UnauthorizedException('The report is not signed by a known secret-scanning key');
  }

  private unavailable(error: unknown): ServiceUnavailableException {
    this.logger.error(`Key storage failed while handling a secret-scanning report: ${messageOf(error)}`);
    return new ServiceUnavailableException('Key storage is unavailable; retry later');
  }

  private missingRawBody(): InternalServerErrorException {
    if (!this.missingRawBodyLogged) {
      this.missingRawBodyLogged = true;
      this.logger.error(
        'Secret-scanning reports need the raw request body to check their signature: ' +
          'create the application with NestFactory.create(AppModule, { rawBody: true })',
      );
    }
    return new InternalServerErrorException('The receiver is misconfigured');
  }
}

/** The first value of a request header. */
function header(request: LeakReportRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function tooLarge(limit: number): PayloadTooLargeException {
  return new PayloadTooLargeException(`A report is at most ${limit} bytes`);
}

/** A PEM public key as a verifier, or `null` unless it is an ECDSA P-256 key. */
function verifierOf(pem: string): KeyObject | null {
  try {
    const key = createPublicKey(pem);
    const curve = key.asymmetricKeyDetails?.namedCurve;
    return key.asymmetricKeyType === 'ec' && curve === 'prime256v1' ? key : null;
  } catch {
    return null;
  }
}

/** The matches of a report body: a JSON array of `{ token, type, url?, source? }`; else 400. */
function matchesOf(body: Buffer): SecretScanningMatch[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const valid =
    Array.isArray(parsed) &&
    parsed.every(
      (entry) =>
        typeof entry?.token === 'string' &&
        typeof entry.type === 'string' &&
        (entry.url === undefined || typeof entry.url === 'string') &&
        (entry.source === undefined || typeof entry.source === 'string'),
    );
  if (!valid) throw new BadRequestException('A report is a JSON array of { token, type, url, source }');
  return (parsed as SecretScanningMatch[]).map((entry) => ({
    token: entry.token,
    type: entry.type,
    url: entry.url ?? '',
    source: entry.source ?? 'unknown',
  }));
}

function messageOf(error: unknown): string {
  return escapeForLog(String((error as Error)?.message ?? error), 200);
}
