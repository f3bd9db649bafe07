import { Logger } from '@nestjs/common';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { ApiKeyConfigurationError } from '../api-key-configuration.error.js';
import { escapeForLog } from '../log-escape.js';
import {
  startSqliteWorker,
  type SqlParams,
  type SqliteFailureKind,
  type SqliteRequest,
  type SqliteResponse,
  type SqliteWriteStep,
} from './sqlite.worker.js';

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

/** The outcome of a write transaction: each step's rows, and whether it was committed. */
export interface SqliteWriteResult {
  readonly rows: readonly unknown[][];
  readonly applied: boolean;
}

interface Pending {
  readonly resolve: (answer: SqliteWriteResult) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** A request as the store writes it; the connection adds its id and deadline. */
type RequestBody = SqliteRequest extends infer R ? (R extends SqliteRequest ? Omit<R, 'id' | 'deadline'> : never) : never;

/**
 * The application's side of the SQLite worker ({@link startSqliteWorker}): sends each operation
 * to it and settles the operation's promise with its answer, or rejects it after `timeoutMs`
 * whatever the worker is doing. The worker starts on the first operation and never keeps the
 * process alive by itself (a pending operation's timer does, until it settles).
 */
export class SqliteConnection {
  private readonly logger = new Logger('SqliteApiKeyStore');
  private readonly pending = new Map<number, Pending>();
  private worker?: Worker;
  private nextId = 0;
  private closed = false;
  private replacedLogged = false;

  /** @throws ApiKeyConfigurationError when `better-sqlite3` is not installed */
  constructor(
    private readonly path: string,
    private readonly timeoutMs: number,
    private readonly driver = resolveDriver(),
  ) {}

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

  /** Closes the database and stops the worker; operations still waiting reject. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((done) => worker.once('exit', () => done()));
    worker.postMessage({ kind: 'close', id: 0, deadline: 0 } satisfies SqliteRequest);
    // A worker stuck in a disk that stopped answering cannot close: stop waiting for it.
    const stuck = setTimeout(() => void worker.terminate(), this.timeoutMs);
    await exited;
    clearTimeout(stuck);
  }

  private request(body: RequestBody): Promise<SqliteWriteResult> {
    if (this.closed) return Promise.reject(new SqliteStoreError('sqlite', 'The database connection is not open (the store was closed)'));
    const worker = this.worker ?? this.start();
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SqliteStoreError('busy', `SQLite did not answer within ${this.timeoutMs} ms (the database is locked by another process, or its disk does not respond)`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ ...body, id, deadline: Date.now() + this.timeoutMs } as SqliteRequest);
    });
  }

  private start(): Worker {
    const worker = startSqliteWorker({ driver: this.driver, path: this.path });
    worker.unref();
    worker.on('message', (answer: SqliteResponse) => this.settle(answer));
    worker.on('error', (error: Error) => this.lose(worker, new SqliteStoreError('sqlite', error.message, (error as { code?: string }).code)));
    worker.on('exit', () => this.lose(worker, new SqliteStoreError('sqlite', 'The database connection is not open (the SQLite worker stopped)')));
    this.worker = worker;
    return worker;
  }

  private settle(answer: SqliteResponse): void {
    const pending = this.pending.get(answer.id);
    if (!pending) return; // it timed out meanwhile
    this.pending.delete(answer.id);
    clearTimeout(pending.timer);
    if ('rows' in answer) return pending.resolve(answer);
    if (answer.failure === 'replaced' && !this.replacedLogged) {
      this.replacedLogged = true;
      this.logger.error(
        `The SQLite database file ${escapeForLog(this.path)} was deleted or replaced while the application ran: ` +
          'every lookup answers 503 and every write fails with store_failed until the application is restarted on the right file',
      );
    }
    pending.reject(new SqliteStoreError(answer.failure, answer.message, answer.code));
  }

  /** The worker stopped or failed to start: every operation waiting on it fails; the next one starts a new worker. */
  private lose(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      clearTimeout(pending.timer);
      pending.reject(error);
    }
  }
}

/**
 * The path of the `better-sqlite3` package the application installed, for the worker to load:
 * resolved from the application's entry script, then from the working directory.
 */
function resolveDriver(): string {
  const bases = [process.argv[1], join(process.cwd(), 'index.js')].filter((base): base is string => typeof base === 'string' && base !== '');
  for (const base of bases) {
    try {
      return createRequire(resolve(base)).resolve('better-sqlite3');
    } catch {
      // try the next base
    }
  }
  throw new ApiKeyConfigurationError(
    'The "better-sqlite3" package is missing. Please, make sure to install it to use SqliteApiKeyStore (npm i better-sqlite3)',
  );
}
