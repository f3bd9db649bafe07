/**
 * The SQLite worker: the one thread that touches the database file, so that neither a lock held
 * by another process nor a disk that stops answering can hold the application's event loop.
 *
 * {@link startSqliteWorker} runs {@link sqliteWorkerMain}'s source in a worker thread (`eval`),
 * so it works the same from the ESM and the CommonJS build and from TypeScript under Jest. That
 * function is therefore self-contained: it imports nothing and reaches Node and the driver only
 * through `require`.
 */
import { Worker } from 'node:worker_threads';

/** Parameters of one statement: positional values, or one object of named ones. */
export type SqlParams = readonly unknown[];

/** One statement of a write transaction. */
export interface SqliteWriteStep {
  readonly sql: string;
  readonly params: SqlParams;
  /** When this statement returns no row, the transaction is rolled back and reported not applied. */
  readonly requireRow?: boolean;
}

/** A request to the worker. `deadline` is a `Date.now()` instant: past it, the worker gives up. */
export type SqliteRequest = { readonly id: number; readonly deadline: number } & (
  | { readonly kind: 'read'; readonly sql: string; readonly params: SqlParams }
  | { readonly kind: 'write'; readonly steps: readonly SqliteWriteStep[] }
  | { readonly kind: 'check' }
  | { readonly kind: 'close' }
);

/** Why a request failed: the database was busy past the deadline, the file was replaced, or SQLite's own error. */
export type SqliteFailureKind = 'busy' | 'replaced' | 'sqlite';

/** The worker's answer to one request. */
export type SqliteResponse =
  | { readonly id: number; readonly rows: readonly unknown[][]; readonly applied: boolean }
  | { readonly id: number; readonly failure: SqliteFailureKind; readonly message: string; readonly code?: string };

/** What the worker needs at start. */
export interface SqliteWorkerData {
  /** Resolved path of the `better-sqlite3` package. */
  readonly driver: string;
  /** The database file (created if missing), or `:memory:`. */
  readonly path: string;
}

/** Starts a worker thread serving one database; it answers every request with one {@link SqliteResponse}. */
export function startSqliteWorker(data: SqliteWorkerData): Worker {
  return new Worker(`(${sqliteWorkerMain.toString()})()`, { eval: true, workerData: data });
}

/**
 * The worker's whole program. Reads run as they arrive; writes run one at a time, in order, each
 * in a `BEGIN IMMEDIATE` transaction committed with an explicit `COMMIT` (so a commit that fails,
 * on a full or read-only disk, rejects instead of passing unseen). SQLite waits for no lock
 * (`busy_timeout = 0`): a busy database is retried after a short pause, during which other
 * requests are served, until the request's deadline. Before each request the file is checked to
 * still be the one opened (same device and inode): a deleted or replaced file fails every request.
 */
function sqliteWorkerMain(): void {
  const { parentPort, workerData } = require('node:worker_threads');
  const { statSync } = require('node:fs');
  const Database = require(workerData.driver);
  const path: string = workerData.path;
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 0');
  const inMemory = path === ':memory:' || path === '';
  const opened = inMemory ? undefined : statSync(path);
  const statements = new Map<string, any>();
  const writes: any[] = [];
  let writeTimer: any;
  let writeDelay = 0;

  const prepared = (sql: string) => {
    let statement = statements.get(sql);
    if (!statement) statements.set(sql, (statement = db.prepare(sql)));
    return statement;
  };
  // Every step reads its rows to the end (`all`), so a statement never stays open half-run.
  const execute = (sql: string, params: readonly unknown[]) => {
    const statement = prepared(sql);
    if (statement.reader) return statement.all(...params);
    statement.run(...params);
    return [];
  };
  const sameFile = () => {
    if (!opened) return true;
    const now = statSync(path, { throwIfNoEntry: false });
    return now !== undefined && now.dev === opened.dev && now.ino === opened.ino;
  };
  const isBusy = (error: any) => typeof error?.code === 'string' && error.code.startsWith('SQLITE_BUSY');
  const fail = (id: number, failure: string, message: string, code?: string) =>
    parentPort.postMessage({ id, failure, message, code });

  const transaction = (steps: any[]) => {
    db.exec('BEGIN IMMEDIATE');
    try {
      const rows = [];
      for (const step of steps) {
        const result = execute(step.sql, step.params);
        rows.push(result);
        if (step.requireRow && result.length === 0) {
          db.exec('ROLLBACK');
          return { rows, applied: false };
        }
      }
      db.exec('COMMIT');
      return { rows, applied: true };
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw error;
    }
  };

  /** Runs `request` now; `false` when the database was busy and it should be tried again later. */
  const attempt = (request: any): boolean => {
    if (!sameFile()) {
      fail(request.id, 'replaced', `the database file ${path} was deleted or replaced after it was opened`);
      return true;
    }
    try {
      if (request.kind === 'read') parentPort.postMessage({ id: request.id, rows: [execute(request.sql, request.params)], applied: true });
      else if (request.kind === 'write') parentPort.postMessage({ id: request.id, ...transaction(request.steps) });
      else parentPort.postMessage({ id: request.id, rows: [execute('SELECT 1 AS ok', [])], applied: true });
      return true;
    } catch (error: any) {
      if (isBusy(error) && Date.now() < request.deadline) return false;
      const busy = isBusy(error);
      fail(request.id, busy ? 'busy' : 'sqlite', busy ? 'the database stayed locked until the deadline' : String(error?.message), error?.code);
      return true;
    }
  };

  const retryLater = (run: () => void) => {
    writeDelay = Math.min(Math.max(writeDelay * 2, 2), 50);
    return setTimeout(run, writeDelay);
  };

  /** Writes run in order: the head is retried while the database is busy, the rest wait behind it. */
  const pumpWrites = () => {
    writeTimer = undefined;
    while (writes.length > 0) {
      const head = writes[0];
      if (Date.now() >= head.deadline) {
        fail(head.id, 'busy', 'the request waited past its deadline');
      } else if (!attempt(head)) {
        writeTimer = retryLater(pumpWrites);
        return;
      }
      writes.shift();
      writeDelay = 0;
    }
  };

  const retryRead = (request: any) => {
    if (!attempt(request)) setTimeout(() => retryRead(request), 5);
  };

  parentPort.on('message', (request: any) => {
    if (request.kind === 'close') {
      clearTimeout(writeTimer);
      for (const waiting of writes) fail(waiting.id, 'sqlite', 'the store was closed');
      db.close();
      parentPort.close();
      return;
    }
    if (Date.now() >= request.deadline) return fail(request.id, 'busy', 'the request waited past its deadline');
    if (request.kind !== 'write') return retryRead(request);
    writes.push(request);
    if (writes.length === 1 && writeTimer === undefined) pumpWrites();
  });
}
