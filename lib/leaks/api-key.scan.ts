import { createReadStream } from 'node:fs';
import { lstat, opendir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiKeyFormat } from '../keys/api-key.format.js';
import { ApiKeyHasher } from '../keys/api-key.hasher.js';
import type { ApiKeyRepository } from '../storage/api-key.repository.js';
import { refusalOf, verifyRecord } from '../storage/verified-api-key.js';

/** What {@link scanForApiKeys} reports of a key found with `verify`. */
export type ApiKeyFindingStatus = 'live' | 'revoked' | 'disabled' | 'expired' | 'unknown';

/** A well-formed key (right prefix, shape and checksum) found in a file or on standard input. */
export interface ApiKeyFinding {
  /** The key's public id (never its secret). */
  readonly keyId: string;
  /** The file, as reached from the given paths; `-` for standard input. */
  readonly file: string;
  /** 1-based line, and 1-based column in bytes, of the key's first character. */
  readonly line: number;
  readonly column: number;
  /**
   * With `verify`: `live` (it works now), `revoked` (or a rotated-out secret past its grace),
   * `disabled`, `expired`, or `unknown` (not in the store: another environment's key, or deleted).
   */
  readonly status?: ApiKeyFindingStatus;
}

/** Options of {@link scanForApiKeys}. */
export interface ApiKeyScanOptions {
  /** The keys' format or prefix. Default `apikey`, the library's default prefix. */
  readonly format?: ApiKeyFormat | string;
  /** File and directory names skipped anywhere in the tree. Default `.git` and `node_modules`. */
  readonly exclude?: readonly string[];
  /** What `-` among the paths reads. Default `process.stdin`. */
  readonly stdin?: AsyncIterable<Buffer | string>;
  /** Look each key up to report its `status`: the application's repository and peppers. */
  readonly verify?: { readonly repository: ApiKeyRepository; readonly peppers?: readonly string[] };
}

/** The outcome of {@link scanForApiKeys}. */
export interface ApiKeyScanResult {
  /** Keys found, ordered by file, line and column. */
  readonly findings: ApiKeyFinding[];
  /** Files read and their total size in bytes. */
  readonly files: number;
  readonly bytes: number;
}

const DEFAULT_EXCLUDE = ['.git', 'node_modules'];
const ID_AND_SECRET = '[0-9A-Za-z]{1,64}_[0-9A-Za-z]{38}';
const READ_CHUNK = 1024 * 1024;
const PARALLEL_FILES = 8;
const NEWLINE = 10;

/**
 * Finds keys of the configured format in files, directory trees (symbolic links are not
 * followed) and standard input (`-`), text or binary alike: every `<prefix>_` occurrence whose
 * shape and CRC32 checksum are right, so random look-alikes are not reported; the checksum is
 * checked offline. A key is found wherever its bytes are contiguous (across read chunks too),
 * not when a line break or an encoding (UTF-16, base64, compression) splits or hides it.
 * With `verify`, each key is looked up by its keyed hash to report its {@link ApiKeyFinding.status}.
 * Findings carry ids and places, never secrets. Rejects when a path cannot be read.
 */
export async function scanForApiKeys(
  paths: readonly string[],
  options: ApiKeyScanOptions = {},
): Promise<ApiKeyScanResult> {
  const format =
    typeof options.format === 'string' ? new ApiKeyFormat(options.format) : (options.format ?? new ApiKeyFormat());
  const scanner = new KeyScanner(format);
  const exclude = new Set(options.exclude ?? DEFAULT_EXCLUDE);
  const files: string[] = [];
  for (const path of paths) {
    if (path === '-') await scanner.scan('-', options.stdin ?? process.stdin);
    else await collect(path, exclude, files, true);
  }
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++]!;
      await scanner.scan(file, createReadStream(file, { highWaterMark: READ_CHUNK }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_FILES, files.length) }, worker));
  const found = scanner.found.sort((a, b) =>
    a.finding.file === b.finding.file
      ? a.finding.line - b.finding.line || a.finding.column - b.finding.column
      : a.finding.file < b.finding.file
        ? -1
        : 1,
  );
  const findings = options.verify
    ? await withStatus(found, options.verify.repository, new ApiKeyHasher(options.verify.peppers ?? []))
    : found.map(({ finding }) => finding);
  return { findings, files: scanner.files, bytes: scanner.bytes };
}

/** Adds the files under `path` (or `path` itself) to `files`, skipping excluded names. */
async function collect(path: string, exclude: ReadonlySet<string>, files: string[], given: boolean): Promise<void> {
  // A path named on the command line is followed if it is a symbolic link; links inside are not.
  const stats = await (given ? stat : lstat)(path);
  if (stats.isFile()) files.push(path);
  else if (stats.isDirectory()) {
    for await (const entry of await opendir(path)) {
      if (exclude.has(entry.name)) continue;
      const child = join(path, entry.name);
      if (entry.isFile()) files.push(child);
      else if (entry.isDirectory()) await collect(child, exclude, files, false);
    }
  } else if (given) files.push(path); // a FIFO or device named on purpose
}

/** Each finding with its status in the store. */
async function withStatus(
  found: readonly { finding: ApiKeyFinding; key: string }[],
  repository: ApiKeyRepository,
  hasher: ApiKeyHasher,
): Promise<ApiKeyFinding[]> {
  const now = Date.now();
  const results: ApiKeyFinding[] = [];
  for (const { finding, key } of found) {
    let status: ApiKeyFindingStatus = 'unknown';
    for (const hash of hasher.candidates(key)) {
      const record = await repository.findByHash(hash);
      const verified = record ? verifyRecord(record, hash, repository) : undefined;
      if (!verified || verified.principal.id !== finding.keyId) continue;
      // A found record's refusal is revoked, disabled or expired (never malformed or not_found).
      status = (refusalOf(verified, now)?.reason ?? 'live') as ApiKeyFindingStatus;
      break;
    }
    results.push({ ...finding, status });
  }
  return results;
}

/**
 * Searches byte streams for keys: a fast search for `<prefix>_`, then, at each occurrence that
 * starts a word, the key's shape and checksum. The last bytes of each chunk (a whole key's worth)
 * are kept for the next, so a key across two chunks is found once.
 */
class KeyScanner {
  readonly found: { finding: ApiKeyFinding; key: string }[] = [];
  files = 0;
  bytes = 0;
  private readonly needle: Buffer;
  private readonly shape: RegExp;
  /** The longest key, plus one byte to see where it ends. */
  private readonly tail: number;

  constructor(private readonly format: ApiKeyFormat) {
    this.needle = Buffer.from(`${format.prefix}_`, 'latin1');
    this.shape = new RegExp(`^${format.prefix}_(${ID_AND_SECRET})(?![0-9A-Za-z_])`);
    this.tail = this.needle.length + 64 + 1 + 38 + 1;
  }

  async scan(file: string, source: AsyncIterable<Buffer | string>): Promise<void> {
    this.files++;
    let pending: Buffer = Buffer.alloc(0);
    let base = 0; // offset of pending[0] in the stream
    let searched = 0; // offset in pending of the first byte not yet searched as a key start
    let line = 1;
    let lineStart = 0; // stream offset where the current line starts
    let counted = 0; // offset in pending up to which newlines are counted
    const process = (buffer: Buffer, final: boolean) => {
      const end = final ? buffer.length : buffer.length - this.tail;
      for (let at = buffer.indexOf(this.needle, searched); at !== -1 && at < end;) {
        if (at === 0 ? base === 0 : !isWordByte(buffer[at - 1]!)) {
          const match = this.shape.exec(buffer.toString('latin1', at, Math.min(buffer.length, at + this.tail)));
          const keyId = match ? this.format.parse(match[0]) : null;
          if (keyId !== null) {
            for (
              let nl = buffer.indexOf(NEWLINE, counted);
              nl !== -1 && nl < at;
              nl = buffer.indexOf(NEWLINE, nl + 1)
            ) {
              line++;
              lineStart = base + nl + 1;
            }
            counted = at;
            const finding = { keyId, file, line, column: base + at - lineStart + 1 };
            this.found.push({ finding, key: match![0] });
          }
        }
        at = buffer.indexOf(this.needle, at + 1);
      }
      return Math.max(end, searched);
    };
    for await (const chunk of source) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      this.bytes += bytes.length;
      const buffer = pending.length === 0 ? bytes : Buffer.concat([pending, bytes]);
      const done = process(buffer, false);
      // Keep one byte before the unsearched part, to tell whether a key there starts a word.
      const keep = Math.max(0, done - 1);
      for (let nl = buffer.indexOf(NEWLINE, counted); nl !== -1 && nl < keep; nl = buffer.indexOf(NEWLINE, nl + 1)) {
        line++;
        lineStart = base + nl + 1;
      }
      pending = buffer.subarray(keep);
      base += keep;
      searched = done - keep;
      counted = Math.max(0, Math.max(counted, keep) - keep);
    }
    process(pending, true);
  }
}

/** Whether `byte` is `[0-9A-Za-z_]` in ASCII. */
function isWordByte(byte: number): boolean {
  return (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte === 95;
}
