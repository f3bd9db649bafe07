import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { LoggerService } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** Length of the shortest part of a presented key whose appearance counts as a leak. */
export const LEAK_WINDOW = 12;

const CREDENTIAL_HEADERS = ['x-api-key', 'authorization', 'cookie'];
const CREDENTIAL_QUERY = 'api_key';

/**
 * Captures everything a security suite's apps say to the outside world (every log line through
 * Nest's Logger, the console and the process's stdout/stderr, and every response's status
 * line, headers and body, taken on the server side) together with every credential the
 * requests presented, and proves at the end that no presented key, nor any
 * {@link LEAK_WINDOW}-character part of one, appears in any of it (of a generated key, the part
 * after its public prefix and id).
 *
 * Use: `const leaks = new LeakRecorder()` at the top of a suite file, pass `leaks.logger` and
 * `leaks.watch(server)` to the apps (see `startSecurityApp`), and call `leaks.expectNoLeaks()`
 * last, which adds the suite's final test.
 */
export class LeakRecorder {
  /** Everything said: log lines, response heads and bodies, events. */
  private readonly said = new Set<string>();
  /** Every credential value presented to an app. */
  private readonly presented = new Set<string>();
  /** Responses seen, to prove the recorder was wired. */
  responses = 0;
  /** Every line logged through the Nest logger, in order. */
  readonly logs: string[] = [];

  /** A Nest logger that records every line (all levels) and prints nothing. */
  readonly logger: LoggerService = {
    log: (...parts: unknown[]) => this.log(parts),
    error: (...parts: unknown[]) => this.log(parts),
    warn: (...parts: unknown[]) => this.log(parts),
    debug: (...parts: unknown[]) => this.log(parts),
    verbose: (...parts: unknown[]) => this.log(parts),
    fatal: (...parts: unknown[]) => this.log(parts),
  };

  constructor() {
    const originals = {
      stdout: process.stdout.write,
      stderr: process.stderr.write,
      console: { ...console },
    };
    beforeAll(() => {
      for (const stream of [process.stdout, process.stderr] as const) {
        const write = stream.write.bind(stream);
        stream.write = ((chunk: unknown, ...rest: unknown[]) => {
          this.record([chunk]);
          return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
        }) as typeof stream.write;
      }
      for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
        const original = originals.console[level];
        console[level] = (...parts: unknown[]) => {
          this.record(parts);
          original.apply(console, parts);
        };
      }
    });
    afterAll(() => {
      process.stdout.write = originals.stdout;
      process.stderr.write = originals.stderr;
      Object.assign(console, originals.console);
    });
  }

  /** Records something said to the outside world (a log line, an event's payload). */
  record(parts: readonly unknown[]): void {
    for (const part of parts)
      this.said.add(typeof part === 'string' ? part : Buffer.isBuffer(part) ? part.toString('latin1') : safeJson(part));
  }

  private log(parts: readonly unknown[]): void {
    this.logs.push(parts.map((part) => (typeof part === 'string' ? part : safeJson(part))).join(' '));
    this.record(parts);
  }

  /** Records every request's credentials and every response's head and body on `server`. */
  watch(server: Server): void {
    server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
      this.presentedIn(request);
      const chunks: Buffer[] = [];
      const write = response.write.bind(response) as (...args: unknown[]) => boolean;
      const end = response.end.bind(response) as (...args: unknown[]) => ServerResponse;
      response.write = ((chunk: unknown, ...rest: unknown[]) => {
        if (chunk) chunks.push(Buffer.from(chunk as string));
        return write(chunk, ...rest);
      }) as typeof response.write;
      response.end = ((chunk?: unknown, ...rest: unknown[]) => {
        if (chunk && typeof chunk !== 'function') chunks.push(Buffer.from(chunk as string));
        this.responses++;
        this.said.add(`${response.statusCode} ${response.statusMessage ?? ''}\n${safeJson(response.getHeaders())}`);
        this.said.add(Buffer.concat(chunks).toString('latin1'));
        return end(chunk, ...rest);
      }) as typeof response.end;
    });
  }

  /** Adds the suite's final test: nothing said contains a presented key or a long part of one. */
  expectNoLeaks(): void {
    it(`leaks no presented key, nor any ${LEAK_WINDOW}-character part of one, into anything logged or answered`, () => {
      expect(this.responses).toBeGreaterThan(0);
      const windows = new Set<string>();
      for (const text of this.said)
        for (let i = 0; i + LEAK_WINDOW <= text.length; i++) windows.add(text.slice(i, i + LEAK_WINDOW));
      const leaked: string[] = [];
      for (const key of this.presented) {
        for (let i = 0; i + LEAK_WINDOW <= key.length; i++) {
          if (windows.has(key.slice(i, i + LEAK_WINDOW))) {
            leaked.push(key);
            break;
          }
        }
      }
      expect(leaked).toEqual([]);
    });
  }

  private presentedIn(request: IncomingMessage): void {
    const values: string[] = [];
    for (const name of CREDENTIAL_HEADERS) values.push(...(request.headersDistinct[name] ?? []));
    const query = request.url?.indexOf('?') ?? -1;
    if (query >= 0) values.push(...new URLSearchParams(request.url!.slice(query + 1)).getAll(CREDENTIAL_QUERY));
    this.recordPresented(values);
  }

  /**
   * Records credential values presented to an app some other way than in an HTTP request (a
   * message's headers, a WebSocket handshake, a connection_init payload), or secrets derived from
   * them (a key's hash): none of them may appear in anything said.
   */
  recordPresented(values: readonly string[]): void {
    for (const value of values) {
      // A Bearer token without its scheme, each cookie's value, each part of a joined header.
      for (const part of value.replace(/^bearer\s+/i, '').split(/[;,]/)) {
        for (const key of [part.trim(), part.replace(/^\s*[^=\s]+=/, '').trim()].map(secretOf))
          if (key.length >= LEAK_WINDOW) this.presented.add(key);
      }
    }
  }
}

/**
 * The part of a presented key that must never appear: for a key shaped like a generated one
 * (`<prefix>_<id>_<secret><checksum>`, valid, mistyped or truncated), what follows the id, since
 * the prefix and id are public and logged on purpose (events carry `keyId`); for any other value,
 * all of it but the prefix and id of a generated key inside it (`"<key>"`, `Token <key>`).
 */
function secretOf(key: string): string {
  return GENERATED.exec(key)?.[1] ?? key.replace(PUBLIC_PART, ' ');
}

const PUBLIC_PART = /[A-Za-z][A-Za-z0-9]*_[0-9A-Za-z]{12}_/g;

const GENERATED = /^(?:[^=\s]+=)?[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*_[0-9A-Za-z]{1,64}_([0-9A-Za-z]*)$/;

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
