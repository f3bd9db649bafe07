import type { INestApplication, LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  ApiKeyEventSink,
  ApiKeyModule,
  ApiKeyStore,
  type ApiKeyEvent,
  type ApiKeyListQuery,
  type ApiKeyPatch,
  type ApiKeyRecord,
  type StoredApiKey,
  type StoredApiKeySecret,
} from 'nestjs-api-key';
import { ApiKeyLeaksModule, StaticSecretScanningPublicKeys, type ApiKeyLeaksOptions } from 'nestjs-api-key/leaks';
import type { Platform } from '../support/platforms.js';

/** An ECDSA P-256 key pair standing for one of GitHub's signing keys, and its identifier. */
export interface SigningKey {
  readonly identifier: string;
  readonly privateKey: KeyObject;
  readonly publicPem: string;
}

/** A new signing key pair (generated here: tests never reach GitHub). */
export function signingKey(identifier: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { identifier, privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** The `GITHUB-PUBLIC-KEY-SIGNATURE` of `body` with `key`: DER ECDSA over SHA-256, base64. */
export function signatureOf(body: string, key: SigningKey): string {
  return sign('sha256', Buffer.from(body), key.privateKey).toString('base64');
}

/** Everything the app said: log lines, response bodies, events. */
export class Said {
  readonly lines: string[] = [];
  readonly logger: LoggerService = {
    log: (...parts: unknown[]) => this.add(parts),
    error: (...parts: unknown[]) => this.add(parts),
    warn: (...parts: unknown[]) => this.add(parts),
    debug: (...parts: unknown[]) => this.add(parts),
    verbose: (...parts: unknown[]) => this.add(parts),
    fatal: (...parts: unknown[]) => this.add(parts),
  };

  add(parts: readonly unknown[]): void {
    this.lines.push(parts.map((part) => (typeof part === 'string' ? part : JSON.stringify(part))).join(' '));
  }

  /** The tokens of which a 12-character part of the secret (after `<prefix>_<id>_`) appears anywhere. */
  leaked(tokens: Iterable<string>): string[] {
    const text = this.lines.join('\n');
    const found: string[] = [];
    for (const token of tokens) {
      const secret = token.slice(token.lastIndexOf('_') + 1);
      for (let i = 0; i + 12 <= secret.length; i++) {
        if (text.includes(secret.slice(i, i + 12))) {
          found.push(token);
          break;
        }
      }
    }
    return found;
  }
}

/** An event sink that keeps every event (and tells `said` about it). */
export class RecordingSink extends ApiKeyEventSink {
  readonly events: ApiKeyEvent[] = [];
  constructor(private readonly said: Said) {
    super();
  }
  emit(event: ApiKeyEvent): void {
    this.events.push(event);
    this.said.add([event]);
  }
  of(type: ApiKeyEvent['type'], keyId?: string): ApiKeyEvent[] {
    return this.events.filter(
      (event) => event.type === type && (keyId === undefined || ('keyId' in event && event.keyId === keyId)),
    );
  }
}

/**
 * A real store (in-memory or SQLite) behind a wrapper that counts storage calls and can make
 * lookups or writes fail, as a database outage would.
 */
export class CountingStore extends ApiKeyStore {
  calls = 0;
  failLookups = false;
  failWrites = false;
  /** Delay of every lookup, in ms: keeps concurrent reports in flight together. */
  lookupDelayMs = 0;
  /** Lookups never answer, as with a database that stopped responding. */
  hangLookups = false;

  constructor(readonly inner: ApiKeyStore) {
    super();
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    this.calls++;
    if (this.failLookups) throw new Error('database unreachable');
    if (this.hangLookups) await new Promise(() => undefined);
    const record = await this.inner.findByHash(hash);
    if (this.lookupDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.lookupDelayMs));
    return record;
  }
  insert(key: StoredApiKey, secret: StoredApiKeySecret): Promise<void> {
    this.calls++;
    return this.inner.insert(key, secret);
  }
  findById(id: string): Promise<StoredApiKey | null> {
    this.calls++;
    return this.inner.findById(id);
  }
  list(query?: ApiKeyListQuery): Promise<StoredApiKey[]> {
    this.calls++;
    return this.inner.list(query);
  }
  async update(id: string, expectedVersion: number, patch: ApiKeyPatch): Promise<StoredApiKey | null> {
    this.calls++;
    if (this.failWrites) throw new Error('database unreachable');
    return this.inner.update(id, expectedVersion, patch);
  }
  rotate(id: string, version: number, secret: StoredApiKeySecret, until: Date): Promise<StoredApiKey | null> {
    this.calls++;
    return this.inner.rotate(id, version, secret, until);
  }
  touch(lastUsed: ReadonlyMap<string, Date>): Promise<void> {
    return this.inner.touch(lastUsed);
  }
}

/** The route the test apps receive reports at. */
export const LEAKS_PATH = '/hooks/github-leaks';

/**
 * An app with `ApiKeyModule` (prefix `acme`, the given store, a recording sink) and the leak
 * receiver trusting `keys`, started on `platform` with `rawBody: true` (unless told otherwise).
 */
export async function startLeakApp(
  platform: Platform,
  store: ApiKeyStore,
  keys: readonly SigningKey[],
  said: Said,
  options: ApiKeyLeaksOptions = {},
  rawBody = true,
): Promise<{ app: INestApplication; sink: RecordingSink }> {
  const sink = new RecordingSink(said);
  const moduleRef = await Test.createTestingModule({
    imports: [
      ApiKeyModule.forRoot({
        repository: store,
        events: sink,
        keyPrefix: 'acme',
        pepper: 'leaks-test-pepper-000000000001',
        lookupTimeoutMs: 300,
      }),
      ApiKeyLeaksModule.forRoot({
        path: LEAKS_PATH,
        publicKeys: new StaticSecretScanningPublicKeys(
          keys.map((key) => ({ keyIdentifier: key.identifier, key: key.publicPem })),
        ),
        maxBodyBytes: 4096,
        ...options,
      }),
    ],
  }).compile();
  const app = moduleRef.createNestApplication(platform.createAdapter(), { logger: said.logger, rawBody });
  await app.init();
  if (platform.name === 'fastify') await app.getHttpAdapter().getInstance().ready();
  return { app, sink };
}
