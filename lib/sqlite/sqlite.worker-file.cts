import { join } from 'node:path';

/**
 * The worker program's file, shipped beside this one (`dist/esm/sqlite`, `dist/cjs/sqlite`, or
 * `lib/sqlite` when the sources run under Jest). A CommonJS module in both builds, so that
 * `__dirname` names this package's own location.
 */
export const SQLITE_WORKER_FILE = join(__dirname, 'sqlite.worker.cjs');
