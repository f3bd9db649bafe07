// `npm run bench`: every benchmark in turn, then one markdown report in bench/results/.
// `npm run bench -- --quick` is a short smoke run (numbers too rough to quote).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { runFlood } from './flood.js';
import { runHttp } from './http.js';
import { BENCH_KEY_COUNT } from './keys.js';
import { runMicro } from './micro.js';
import { runScan, scanTable } from './scan.js';
import { loadTarget, targetNames } from './targets.js';

const quick = process.argv.includes('--quick');
const env = (name: string, normal: number, short: number) => Number(process.env[name] ?? (quick ? short : normal));
const settings = {
  rounds: env('BENCH_ROUNDS', 7, 2),
  seconds: env('BENCH_SECONDS', 5, 2),
  warmupSeconds: env('BENCH_WARMUP', 3, 1),
  connections: env('BENCH_CONNECTIONS', 8, 8),
  microRounds: env('BENCH_ROUNDS_MICRO', 9, 3),
  iterations: env('BENCH_ITERATIONS', 20_000, 5_000),
  floodSeconds: env('BENCH_FLOOD_SECONDS', 5, 2),
  floodConnections: env('BENCH_FLOOD_CONNECTIONS', 1000, 1000),
};
const platforms = (process.env.BENCH_PLATFORMS ?? 'express,fastify').split(',');
const only = process.env.BENCH_TARGETS?.split(',');
const targets: string[] = [];
for (const name of targetNames())
  if ((await loadTarget(name)).compare !== false && (!only || only.includes(name))) targets.push(name);

const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const started = new Date();
const loadBefore = loadavg()
  .map((n) => n.toFixed(1))
  .join(' ');

log('[micro] verify and guard steps');
const micro = await runMicro(settings.microRounds, settings.iterations);
log('[scaling] 10 / 10,000 / 1,000,000 keys');
const scaling = (spread: number, cache: boolean) =>
  execFileSync(process.execPath, ['--expose-gc', new URL('./scaling.js', import.meta.url).pathname], {
    env: {
      ...process.env,
      BENCH_SCALING_SPREAD: String(spread),
      BENCH_SCALING_CACHE: cache ? '1' : '0',
      BENCH_ROUNDS_MICRO: String(settings.microRounds),
      BENCH_ITERATIONS: String(settings.iterations / 2),
    },
    encoding: 'utf8',
  });
const scalingSpread = scaling(1024, true);
const scalingHot = scaling(8, true);
const http = await runHttp({ platforms, targets, ...settings }, log);
const flood = await runFlood(
  { platforms, seconds: settings.floodSeconds, floodConnections: settings.floodConnections },
  log,
);
log('[scan] nestjs-api-key scan throughput');
const scanned = scanTable(await runScan(quick ? 1 : 5, realpathSync('node_modules')));

const wrkVersion = spawnSync('wrk', ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0]!.trim(); // wrk -v exits with 1
const report = `# nestjs-api-key benchmark report

${quick ? '**Quick run: too short to quote.**\n\n' : ''}- Date: ${started.toISOString()} (took ${Math.round((Date.now() - started.getTime()) / 1000)} s)
- Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB; load average ${loadBefore} at the start, ${loadavg()
  .map((n) => n.toFixed(1))
  .join(' ')} at the end
- Node.js ${process.version}, ${wrkVersion}; HTTP key set: ${BENCH_KEY_COUNT.toLocaleString('en')} keys
- Command: \`npm run bench${quick ? ' -- --quick' : ''}\`; settings: ${JSON.stringify(settings)}

## 1. HTTP: what each target adds over the unguarded route

Each target runs beside its own copy of the unguarded app, both servers pinned to CPU 0, each
under its own wrk (1 thread, ${settings.connections} connections) pinned to CPU 1, at the same time; ${settings.rounds} rounds of
${settings.seconds} s after a ${settings.warmupSeconds} s warm-up, every pair once per round in alternating order. The **paired ratio** is the
target's server CPU time per request (process.cpuUsage, all threads) over its baseline's in the same
round. Sharing a core makes every request dearer by a common factor, which the ratio cancels; a third
copy of the unguarded app, run alone on the core at the start of each round, gives the unit back:
**adds µs/req** = (ratio − 1) × the unguarded app's CPU per request alone, i.e. microseconds of a core
of its own. The table gives the median over rounds and the range. The A/A row (baseline beside
baseline) is the instrument's error; \`spin-10us\` should read about 10 µs above \`naive-equals\`.
req/s and latencies are the target's own, with two servers sharing one core.

${http}

## 2. Micro-benchmark: verify() and the guard's steps

${micro}

## 3. Scaling with the number of keys

Keys verified in turn: 1,024 spread over the whole set.

${scalingSpread}
The same with 8 keys verified in turn (the records stay in the CPU caches):

${scalingHot}
## 4. Flood of invalid keys

${flood}

## 5. Scan throughput

\`scanForApiKeys\` (what \`nestjs-api-key scan\` runs) over a generated tree (source-like text with
look-alikes of the prefix, binary files, 100 planted keys) and over the project's node_modules
(nested node_modules skipped, as by default), files in the page cache; beside plain reading of the
same files in the same way (1 MiB chunks, 8 files at a time), the floor. Medians of the rounds, in
alternating order.

${scanned}
`;
mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
const file = new URL(`../results/report-${started.toISOString().replace(/[:.]/g, '-')}.md`, import.meta.url);
writeFileSync(file, report);
writeFileSync(new URL('../results/latest.md', import.meta.url), report);
log(`report written to ${file.pathname} (and bench/results/latest.md)`);
