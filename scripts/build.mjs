// Builds the dual package: dist/esm (NodeNext) and dist/cjs (CommonJS).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
rmSync('dist', { recursive: true, force: true });
for (const project of ['tsconfig.json', 'tsconfig.cjs.json']) {
  execFileSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });
}
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
// Plain JavaScript the compiler does not copy: the SQLite worker, started by path.
for (const format of ['esm', 'cjs'])
  copyFileSync('lib/sqlite/sqlite.worker.cjs', `dist/${format}/sqlite/sqlite.worker.cjs`);
