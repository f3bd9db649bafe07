import { expect } from '@jest/globals';
import type { LoggerService } from '@nestjs/common';
import {
  ApiKeyEventSink,
  ApiKeyModule,
  ApiKeyService,
  InMemoryApiKeyStore,
  type ApiKeyEvent,
  type ApiKeyPatch,
  type ApiKeyRecord,
  type StoredApiKey,
} from 'nestjs-api-key';

/**
 * The in-memory store, whose lookups fail while `failing` is set (a store outage) and wait while
 * {@link hold} holds them (a slow store), counting lookups and recording the id of each key found.
 */
export class SwitchableStore extends InMemoryApiKeyStore {
  failing = false;
  /** Lookups asked of the store. */
  lookups = 0;
  /** The id of the key each lookup found. */
  readonly found: string[] = [];
  private held: Promise<void> | undefined;

  /** Makes lookups wait until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.held = new Promise((resolve) => (release = resolve));
    return () => {
      this.held = undefined;
      release();
    };
  }

  /** While set, a write is applied and then reported failed (its acknowledgement lost). */
  losingAcknowledgements = false;

  override async update(id: string, expectedVersion: number, patch: ApiKeyPatch): Promise<StoredApiKey | null> {
    const updated = await super.update(id, expectedVersion, patch);
    if (this.losingAcknowledgements) throw new Error('connection reset');
    return updated;
  }

  override async findByHash(hash: string): Promise<ApiKeyRecord | null> {
    this.lookups++;
    await this.held;
    if (this.failing) throw new Error('store is down');
    const record = await super.findByHash(hash);
    if (record) this.found.push(record.id);
    return record;
  }
}

/** Records every event the module emits. */
export class RecordingSink extends ApiKeyEventSink {
  readonly events: ApiKeyEvent[] = [];
  emit(event: ApiKeyEvent): void {
    this.events.push(event);
  }
}

/** Everything a transport suite's app says: log lines, events, and what its clients received. */
export class TransportRecorder {
  readonly store = new SwitchableStore();
  readonly sink = new RecordingSink();
  readonly said: string[] = [];
  readonly logger: LoggerService = {
    log: (...parts: unknown[]) => this.say(parts),
    error: (...parts: unknown[]) => this.say(parts),
    warn: (...parts: unknown[]) => this.say(parts),
    debug: (...parts: unknown[]) => this.say(parts),
    verbose: (...parts: unknown[]) => this.say(parts),
    fatal: (...parts: unknown[]) => this.say(parts),
  };

  /** The module, with a generated-key store, this recorder's events, and `extra` options. */
  module(extra: Record<string, unknown> = {}) {
    return ApiKeyModule.forRoot({ repository: this.store, events: this.sink, keyPrefix: 'tr_live', ...extra });
  }

  /** A reader key (scope `orders:read`) and a key without scopes, created through the service. */
  async keys(service: ApiKeyService): Promise<{ reader: string; readerId: string; noScope: string }> {
    const reader = await service.create({ name: 'reader', scopes: ['orders:read'] });
    const noScope = await service.create({ name: 'no-scope' });
    return { reader: reader.key, readerId: reader.apiKey.id, noScope: noScope.key };
  }

  say(parts: unknown): void {
    this.said.push(
      typeof parts === 'string' ? parts : JSON.stringify(parts, (_, v) => (v instanceof Error ? v.stack : v)),
    );
  }

  /** No presented key, nor its secret part, appears in any log line, event or reply. */
  expectNoLeak(keys: readonly string[]): void {
    const everything = [...this.said, JSON.stringify(this.sink.events)].join('\n');
    expect(this.said.length + this.sink.events.length).toBeGreaterThan(0);
    for (const key of keys) expect(everything).not.toContain(key.slice(-16));
  }
}

export const INVALID_KEY = 'tr_live_not-a-real-key-0000000000';
