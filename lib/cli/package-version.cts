import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * This package's version, read from its `package.json`: the nearest one above this file whose
 * name is `nestjs-api-key` (`dist/cjs` holds a `package.json` of its own, without a name). A
 * CommonJS module in both builds, so that `__dirname` names this file's location (`dist/esm/cli`,
 * `dist/cjs/cli`, or `lib/cli` when the sources run under Jest).
 */
export function packageVersion(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const manifest = readManifest(join(dir, 'package.json'));
    if (manifest?.name === 'nestjs-api-key' && typeof manifest.version === 'string') return manifest.version;
    if (dirname(dir) === dir) throw new Error(`no package.json of nestjs-api-key above ${__dirname}`);
  }
}

/** The parsed manifest at `path`, or `undefined` when there is no file there. */
function readManifest(path: string): { name?: unknown; version?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown; version?: unknown };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
