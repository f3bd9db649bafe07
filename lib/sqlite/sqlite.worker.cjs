// The SQLite worker: the one thread that touches the database file, so that neither a lock held
// by another process nor a disk that stops answering can hold the application's event loop.
// Plain CommonJS, shipped as is beside the compiled store (see sqlite.worker-file.cts), and
// started by path: no build step or bundler rewrites it. Messages are described in
// sqlite.connection.ts.
//
// Reads run as they arrive; writes run one at a time, in order, each in a `BEGIN IMMEDIATE`
// transaction committed with an explicit `COMMIT` (so a commit that fails, on a full or
// read-only disk, rejects instead of passing unseen). SQLite waits for no lock
// (`busy_timeout = 0`): a busy database is retried after a short pause, during which other
// requests are served, until the request's deadline. Before each request the file is checked to
// still be the one the connection first opened (same device and inode): a deleted or replaced
// file fails every request.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { mkdirSync, statSync } = require('node:fs');
const { dirname } = require('node:path');

/** Milliseconds on the monotonic clock, which the application's thread reads the same way. */
const nowMs = () => Number(process.hrtime.bigint() / 1000000n);

const path = workerData.path;
const inMemory = path === ':memory:' || path === '';
const statements = new Map();
const writes = [];
let writeTimer;
let writeDelay = 0;

const identityOf = (stats) => `${stats.dev}:${stats.ino}`;
const currentIdentity = () => {
  const stats = statSync(path, { bigint: true, throwIfNoEntry: false });
  return stats === undefined ? undefined : identityOf(stats);
};

/** `undefined` when the path still names the file first opened, else why not. */
let opened = workerData.identity;
const fileProblem = () => {
  if (inMemory) return undefined;
  let now;
  try {
    now = currentIdentity();
  } catch (error) {
    return `the database file ${path} cannot be checked (${error.code ?? error.message})`;
  }
  return now === opened ? undefined : `the database file ${path} was deleted or replaced after it was opened`;
};

// A later worker of the same store opens only the file the first one opened: never a file put
// in its place, never a new empty one.
let db;
let startupProblem = opened === undefined ? undefined : fileProblem();
if (startupProblem === undefined) {
  const Database = require('better-sqlite3');
  // The first open creates the file if missing, and so its directory (SQLite creates no directory).
  if (opened === undefined && !inMemory) mkdirSync(dirname(path), { recursive: true });
  db = new Database(path, { fileMustExist: opened !== undefined });
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 0');
  if (opened === undefined && !inMemory) {
    opened = currentIdentity();
    parentPort.postMessage({ opened });
  }
}

const prepared = (sql) => {
  let statement = statements.get(sql);
  if (!statement) statements.set(sql, (statement = db.prepare(sql)));
  return statement;
};
// Every statement reads its rows to the end (`all`), so none stays open half-run.
const execute = (sql, params) => {
  const statement = prepared(sql);
  if (statement.reader) return statement.all(...params);
  statement.run(...params);
  return [];
};
const isBusy = (error) => typeof error?.code === 'string' && error.code.startsWith('SQLITE_BUSY');
const fail = (id, failure, message, code) => parentPort.postMessage({ id, failure, message, code });

const transaction = (steps) => {
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
const attempt = (request) => {
  const problem = startupProblem ?? fileProblem();
  if (problem !== undefined) {
    fail(request.id, 'replaced', problem);
    return true;
  }
  try {
    if (request.kind === 'read')
      parentPort.postMessage({ id: request.id, rows: [execute(request.sql, request.params)], applied: true });
    else if (request.kind === 'write') parentPort.postMessage({ id: request.id, ...transaction(request.steps) });
    else parentPort.postMessage({ id: request.id, rows: [execute('SELECT 1 AS ok', [])], applied: true });
    return true;
  } catch (error) {
    const busy = isBusy(error);
    if (busy && nowMs() < request.deadline) return false;
    fail(
      request.id,
      busy ? 'busy' : 'sqlite',
      busy ? 'the database stayed locked until the deadline' : String(error?.message),
      error?.code,
    );
    return true;
  }
};

/** Writes run in order: the head is retried while the database is busy, the rest wait behind it. */
const pumpWrites = () => {
  writeTimer = undefined;
  while (writes.length > 0) {
    const head = writes[0];
    if (nowMs() >= head.deadline) {
      fail(head.id, 'busy', 'the request waited past its deadline');
    } else if (!attempt(head)) {
      writeDelay = Math.min(Math.max(writeDelay * 2, 2), 50);
      writeTimer = setTimeout(pumpWrites, writeDelay);
      return;
    }
    writes.shift();
    writeDelay = 0;
  }
};

const read = (request) => {
  if (!attempt(request)) setTimeout(() => read(request), 5);
};

parentPort.on('message', (request) => {
  if (request.kind === 'close') {
    clearTimeout(writeTimer);
    for (const waiting of writes) fail(waiting.id, 'sqlite', 'the store was closed');
    db?.close();
    parentPort.close();
    return;
  }
  if (nowMs() >= request.deadline) return fail(request.id, 'busy', 'the request waited past its deadline');
  if (request.kind !== 'write') return read(request);
  writes.push(request);
  if (writes.length === 1 && writeTimer === undefined) pumpWrites();
});
