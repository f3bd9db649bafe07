// Throughput of `scanForApiKeys` (what `nestjs-api-key scan` runs) in MB/s, beside plain reading
// of the same files (the I/O floor), on a generated tree and on a real one (the project's
// node_modules, scanned as a tree: its nested node_modules folders are skipped as by default).
// Run alone: `npm run build && tsc -p bench/tsconfig.json && node bench/dist/scan.js`.
import { createReadStream } from 'node:fs';
import { mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ApiKeyFormat } from 'nestjs-api-key';
import { scanForApiKeys } from 'nestjs-api-key/leaks';

export interface ScanThroughput {
  readonly tree: string;
  readonly files: number;
  readonly megabytes: number;
  /** Median MB/s of the scan and of plain reading, over the rounds. */
  readonly scanMBps: number;
  readonly readMBps: number;
  readonly findings: number;
}

const WORDS = 'const let return function import export await async class private readonly string number'.split(' ');

/** A tree of `files` source-like text files (~64 KiB each) and a few binary ones, with `keys` planted keys. */
function generateTree(root: string, files: number, keys: number): void {
  const format = new ApiKeyFormat('acme');
  let seed = 1;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < files; i++) {
    const dir = join(root, `pkg-${i % 40}`, `src-${i % 7}`);
    mkdirSync(dir, { recursive: true });
    let text = '';
    while (text.length < 64 * 1024) {
      const word = WORDS[Math.floor(random() * WORDS.length)]!;
      // Look-alikes: the prefix in identifiers, which the scanner must check and drop.
      text += random() < 0.01 ? ` acme_config_${word}` : ` ${word}${random() < 0.1 ? ';\n' : ''}`;
    }
    if (i % Math.max(1, Math.floor(files / keys)) === 0) text += `\nconst key = '${format.generate().key}';\n`;
    writeFileSync(join(dir, `file-${i}.ts`), text);
  }
  for (let i = 0; i < 16; i++) {
    const bytes = Buffer.alloc(2 * 1024 * 1024);
    for (let j = 0; j < bytes.length; j += 4) bytes.writeUInt32LE(Math.floor(random() * 2 ** 32), j);
    writeFileSync(join(root, `blob-${i}.bin`), bytes);
  }
}

/** Every file under `root`, skipping `node_modules` and `.git` below it as the scan does. */
function filesOf(root: string, top = true): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!top && (entry.name === 'node_modules' || entry.name === '.git')) continue;
    if (entry.name === '.git') continue;
    const path = join(root, entry.name);
    if (entry.isFile()) out.push(path);
    else if (entry.isDirectory()) out.push(...filesOf(path, false));
  }
  return out;
}

/** Reads every file as the scan does (1 MiB chunks, 8 files at a time) and discards the bytes. */
async function readAll(files: readonly string[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < files.length)
      for await (const chunk of createReadStream(files[next++]!, { highWaterMark: 1 << 20 })) void chunk;
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function measure(tree: string, root: string, rounds: number, format: string): Promise<ScanThroughput> {
  const files = filesOf(root);
  const bytes = files.reduce((sum, file) => sum + statSync(file).size, 0);
  await readAll(files); // into the page cache: both measures read from memory
  const scans: number[] = [];
  const reads: number[] = [];
  let findings = 0;
  const timed = async (run: () => Promise<unknown>, into: number[]) => {
    const start = process.hrtime.bigint();
    await run();
    into.push(bytes / 1e6 / (Number(process.hrtime.bigint() - start) / 1e9));
  };
  const scan = () => scanForApiKeys([root], { format }).then((result) => (findings = result.findings.length));
  // Alternating order (ABBA...), so that a slow spell of the machine weighs on both alike.
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) await timed(scan, scans).then(() => timed(() => readAll(files), reads));
    else await timed(() => readAll(files), reads).then(() => timed(scan, scans));
  }
  return {
    tree,
    files: files.length,
    megabytes: bytes / 1e6,
    scanMBps: median(scans),
    readMBps: median(reads),
    findings,
  };
}

/** Both trees, `rounds` times each. */
export async function runScan(rounds: number, realTree: string | undefined): Promise<ScanThroughput[]> {
  const root = mkdtempSync(join(tmpdir(), 'nestjs-api-key-scan-bench-'));
  try {
    generateTree(root, 2000, 100);
    const results = [
      await measure('generated: 2,000 text files of 64 KiB + 16 binary files of 2 MiB', root, rounds, 'acme'),
    ];
    if (realTree) results.push(await measure(`real: ${realTree}`, realTree, rounds, 'apikey'));
    return results;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** The results as a markdown table. */
export function scanTable(results: readonly ScanThroughput[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.tree} | ${r.files.toLocaleString('en')} | ${r.megabytes.toFixed(0)} | **${r.scanMBps.toFixed(0)}** | ${r.readMBps.toFixed(0)} | ${r.findings} |`,
  );
  return ['| tree | files | MB | scan MB/s | read-only MB/s | keys found |', '|---|---|---|---|---|---|', ...rows].join(
    '\n',
  );
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const rounds = Number(process.env.BENCH_ROUNDS_SCAN ?? 5);
  const real = realpathSync(process.env.BENCH_SCAN_TREE ?? 'node_modules');
  console.log(scanTable(await runScan(rounds, real)));
}
