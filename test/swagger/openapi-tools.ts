import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

/** One finding of Spectral: `severity` 0 is an error, 1 a warning, 2 information, 3 a hint. */
export interface SpectralResult {
  code: string;
  message: string;
  severity: number;
  path: string[];
  source: string;
}

/** Lints the documents with Spectral's `spectral:oas` ruleset (its CLI); returns every finding, each naming its document. */
export async function spectralLint(documents: Record<string, object>): Promise<SpectralResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'spectral-'));
  try {
    const files = Object.entries(documents).map(([name, document]) => {
      const file = join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(document));
      return file;
    });
    const report = join(dir, 'report.json');
    const args = [
      'lint',
      ...files,
      '--ruleset',
      join(import.meta.dirname, 'spectral.yaml'),
      '-f',
      'json',
      '-o',
      report,
    ];
    const spectral = join(root, 'node_modules/@stoplight/spectral-cli/dist/index.js');
    await run(process.execPath, [spectral, ...args], { cwd: dir }).catch(() => undefined); // exit code 1 on errors
    const results = JSON.parse(readFileSync(report, 'utf8')) as SpectralResult[];
    return results.map((result) => ({ ...result, source: result.source.replace(`${dir}/`, '') }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Generates a TypeScript client for `document` with swagger-typescript-api (fetch client) into
 * `dir`, and returns the path of its `api.ts`.
 */
export async function generateClient(document: object, dir: string): Promise<string> {
  const input = join(dir, 'openapi.json');
  writeFileSync(input, JSON.stringify(document));
  await run(process.execPath, [join(import.meta.dirname, 'generate-client.mjs'), input, dir], { cwd: root });
  return join(dir, 'api.ts');
}
