import { Logger } from '@nestjs/common';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { escapeForLog } from '../log-escape.js';
import { assertOptionalPackage } from '../optional-package.js';
import { SQLITE_WORKER_FILE } from './sqlite.worker-file.cjs';

/** Parameters of one statement: positional values, or one object of named ones. */
export type SqlParams = readonly unknown[];

/** One statement of a write transaction. */
export interface SqliteWriteStep {
  readonly sql: string;
  readonly params: SqlParams;
  /** When this statement returns no row, the transaction is rolled back and reported not applied. */
  readonly requireRow?: boolean;
}

/** The outcome of a write transaction: each step's rows, and whether it was committed. */
export interface SqliteWriteResult {
  readonly rows: readonly unknown[][];
  readonly applied: boolean;
}

/** Why an operation failed: not done within the timeout, the file replaced, or SQLite's own error. */
export type SqliteFailureKind = 'busy' | 'replaced' | 'sqlite';

/**
 * A SQLite operation that failed. `kind` is `busy` when it did not finish within the store's
 * `timeoutMs` (the file locked by another process, or a disk that does not answer), `replaced`
 * when the database file was deleted or replaced after the store opened it, `sqlite` otherwise.
 */
export class SqliteStoreError extends Error {
  constructor(
    readonly kind: SqliteFailureKind,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'SqliteStoreError';
  }
}

/** A request to the worker (sqlite.worker.cjs). `deadline` is on the monotonic clock, in ms. */
type SqliteRequest = { readonly id: number; readonly deadline: number } & (
  | { readonly kind: 'read'; readonly sql: string; readonly params: SqlParams }
  | { readonly kind: 'write'; readonly steps: readonly SqliteWriteStep[] }
  | { readonly kind: 'check' }
  | { readonly kind: 'close' }
);

/** A request as the store writes it; the connection adds its id and deadline. */
type RequestBody = SqliteRequest extends infer R
  ? R extends SqliteRequest
    ? Omit<R, 'id' | 'deadline'>
    : never
  : never;

/** What the worker sends: the identity of the file it opened, or the answer to one request. */
type SqliteMessage =
  | { readonly opened: string }
  | ({ readonly id: number } & (
      SqliteWriteResult | { readonly failure: SqliteFailureKind; readonly message: string; readonly code?: string }
    ));

interface Pending {
  readonly resolve: (answer: SqliteWriteResult) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Milliseconds on the monotonic clock, read the same way by the worker. */
const nowMs = () => Number(process.hrtime.bigint() / 1000000n);

/**
 * The application's side of the SQLite worker: sends each operation to it and settles the
 * operation's promise with its answer, or rejects it after `timeoutMs` whatever the worker is
 * doing. The worker starts on the first operation and never keeps the process alive by itself (a
 * pending operation's timer does, until it settles). A worker that stops is replaced on the next
 * operation, and opens only the file the first one opened.
 */
export class SqliteConnection {
  private readonly logger = new Logger('SqliteApiKeyStore');
  private readonly pending = new Map<number, Pending>();
  private readonly path: string;
  private worker?: Worker;
  /** Device and inode of the file the first worker opened. */
  private identity?: string;
  private nextId = 0;
  private closed = false;
  private replacedLogged = false;

  /**
   * @param database the file (made absolute now, so a later `process.chdir` changes nothing), or `:memory:`
   * @throws ApiKeyConfigurationError when `better-sqlite3` is not installed
   */
  constructor(
    database: string,
    private readonly timeoutMs: number,
  ) {
    assertOptionalPackage('better-sqlite3', 'SqliteApiKeyStore');
    this.path = database === ':memory:' || database === '' ? database : resolve(database);
  }

  /** The rows `sql` returns. */
  async read(sql: string, params: SqlParams = []): Promise<unknown[]> {
    const { rows } = await this.request({ kind: 'read', sql, params });
    return rows[0]!;
  }

  /** Runs `steps` in one transaction; resolves once it is committed (or rolled back by a `requireRow` step). */
  write(steps: readonly SqliteWriteStep[]): Promise<SqliteWriteResult> {
    return this.request({ kind: 'write', steps });
  }

  /** Resolves when the database answers a trivial query in time, from the file the store opened. */
  async check(): Promise<void> {
    await this.request({ kind: 'check' });
  }

  /**
   * Closes the database and stops the worker; operations still waiting reject at once.
   * Idempotent. A worker blocked on a disk that stopped answering is left to end when the disk
   * answers (no thread can be stopped inside a system call): `close()` resolves after
   * `timeoutMs` all the same.
   */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    this.rejectPending(new SqliteStoreError('sqlite', 'The database connection is not open (the store was closed)'));
    let timer: NodeJS.Timeout | undefined;
    const exited = new Promise<boolean>((done) => worker.once('exit', () => done(true)));
    const waited = new Promise<boolean>((done) => (timer = setTimeout(() => done(false), this.timeoutMs)));
    worker.postMessage({ kind: 'close', id: 0, deadline: 0 } satisfies SqliteRequest);
    if (!(await Promise.race([exited, waited]))) void worker.terminate();
    clearTimeout(timer);
  }

  private request(body: RequestBody): Promise<SqliteWriteResult> {
    if (this.closed)
      return Promise.reject(
        new SqliteStoreError('sqlite', 'The database connection is not open (the store was closed)'),
      );
    const worker = this.worker ?? this.start();
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new SqliteStoreError(
            'busy',
            `SQLite did not answer within ${this.timeoutMs} ms ` +
              '(the database is locked by another process, or its disk does not respond)',
          ),
        );
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ ...body, id, deadline: nowMs() + this.timeoutMs } as SqliteRequest);
    });
  }

  private start(): Worker {
    const worker = new Worker(SQLITE_WORKER_FILE, { workerData: { path: this.path, identity: this.identity } });
    worker.on('message', (message: SqliteMessage) => this.receive(message));
    worker.on('error', (error: Error) =>
      this.lose(worker, new SqliteStoreError('sqlite', error.message, (error as { code?: string }).code)),
    );
    worker.on('exit', () =>
      this.lose(
        worker,
        new SqliteStoreError('sqlite', 'The database connection is not open (the SQLite worker stopped)'),
      ),
    );
    // After the listeners: adding a 'message' listener makes a worker keep the process alive again.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private receive(message: SqliteMessage): void {
    if ('opened' in message) {
      this.identity ??= message.opened;
      return;
    }
    const pending = this.pending.get(message.id);
    if (!pending) return; // it timed out meanwhile
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    if ('rows' in message) return pending.resolve(message);
    if (message.failure === 'replaced' && !this.replacedLogged) {
      this.replacedLogged = true;
      this.logger.error(
        `The SQLite database file ${escapeForLog(this.path)} was deleted or replaced while the application ran: ` +
          'every lookup answers 503 and every write fails with store_failed ' +
          'until the application is restarted on the right file',
      );
    }
    pending.reject(new SqliteStoreError(message.failure, message.message, message.code));
  }

  /** The worker stopped or failed to start: every operation waiting on it fails; the next one starts a new worker. */
  private lose(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.rejectPending(error);
  }

  private rejectPending(error: Error): void {
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      clearTimeout(pending.timer);
      pending.reject(error);
    }
  }
}
