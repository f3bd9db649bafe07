// The HTTP comparison. Each target runs beside its own copy of the baseline (`unguarded`),
// both servers pinned to one core, each under its own wrk pinned to the other core, at the
// same time: whatever slows the machine slows both alike, and the ratio of their server CPU
// time per request is what we keep. The A/A pair (baseline beside baseline) shows the error.
// A third copy of the baseline, alone on the core in each round, turns the ratio back into µs.
import { load, startServer, type BenchServer, type LoadResult } from './processes.js';
import { BENCH_VALID_KEY } from './keys.js';
import { fixed, median, table } from './stats.js';
import { loadTarget } from './targets.js';

/** Settings of the HTTP comparison. */
export interface HttpSettings {
  readonly platforms: readonly string[];
  readonly targets: readonly string[];
  readonly rounds: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
}

interface Sample {
  readonly cpuPerRequest: number;
  readonly baselineCpuPerRequest: number;
  /** The unguarded app's CPU per request alone on the core, measured in the same round. */
  readonly soloBaselineCpuPerRequest: number;
  readonly load: LoadResult;
  readonly baselineLoad: LoadResult;
}

interface Pair {
  readonly name: string;
  readonly target: BenchServer;
  readonly baseline: BenchServer;
  readonly samples: Sample[];
}

/**
 * Loads every server at once, each with its own wrk, and returns each one's server CPU µs per
 * request with its load result. CPU is read from every server before any load starts and after
 * all of it has ended, so no server's window is shorter than its load.
 */
async function loadTogether(
  servers: readonly BenchServer[],
  run: (server: BenchServer) => Promise<LoadResult>,
): Promise<Array<{ cpu: number; result: LoadResult }>> {
  const before = await Promise.all(servers.map((server) => server.stats()));
  const results = await Promise.all(servers.map(run));
  const after = await Promise.all(servers.map((server) => server.stats()));
  return servers.map((server, i) => {
    const result = results[i]!;
    if (result.errors) throw new Error(`${server.target}: ${result.errors} failed requests (is the key accepted?)`);
    return { cpu: (after[i]!.cpuMicros - before[i]!.cpuMicros) / result.requests, result };
  });
}

/**
 * What the target adds per request, in µs of CPU on a core of its own: the paired ratio
 * (target over its baseline, both sharing the core) applied to the unguarded app's own cost
 * alone on the core. Sharing a core makes every request dearer by a common factor (caches and
 * scheduling); the ratio cancels it, the solo baseline restores the unit.
 */
function added(sample: Sample): number {
  return (sample.cpuPerRequest / sample.baselineCpuPerRequest - 1) * sample.soloBaselineCpuPerRequest;
}

/** Runs the comparison on every platform; returns the report section (markdown). */
export async function runHttp(settings: HttpSettings, log: (line: string) => void): Promise<string> {
  const headers = [`X-API-Key: ${BENCH_VALID_KEY}`];
  const sections: string[] = [];
  for (const platform of settings.platforms) {
    const names = ['unguarded (A/A control)', ...settings.targets.filter((name) => name !== 'unguarded')];
    const pairs: Pair[] = [];
    for (const name of names) {
      const targetName = name.startsWith('unguarded') ? 'unguarded' : name;
      log(`[http] ${platform}: starting ${targetName} and its baseline`);
      pairs.push({
        name,
        target: await startServer(targetName, platform),
        baseline: await startServer('unguarded', platform),
        samples: [],
      });
    }
    // The solo baseline has a server of its own: running one of the pairs' servers alone as well
    // would warm it more than its partner and bias that pair.
    const soloServer = await startServer('unguarded', platform);
    const soloBaselines: number[] = [];
    try {
      const run = (server: BenchServer, seconds: number) =>
        load({ port: server.port, seconds, connections: settings.connections, headers });
      const solo = async (seconds: number): Promise<number> =>
        (await loadTogether([soloServer], (server) => run(server, seconds)))[0]!.cpu;
      const measure = async (pair: Pair, seconds: number, soloBaseline: number): Promise<Sample> => {
        const [target, baseline] = await loadTogether([pair.target, pair.baseline], (server) => run(server, seconds));
        return {
          cpuPerRequest: target.cpu,
          baselineCpuPerRequest: baseline.cpu,
          soloBaselineCpuPerRequest: soloBaseline,
          load: target.result,
          baselineLoad: baseline.result,
        };
      };
      await solo(settings.warmupSeconds);
      for (const pair of pairs) await measure(pair, settings.warmupSeconds, 0);
      for (let round = 1; round <= settings.rounds; round++) {
        const soloBaseline = await solo(settings.seconds);
        soloBaselines.push(soloBaseline);
        log(`[http] ${platform} round ${round}/${settings.rounds} unguarded alone: ${fixed(soloBaseline)} µs/request`);
        // ABAB...: every pair once per round, in alternating order, so drift spreads evenly.
        const order = round % 2 ? pairs : [...pairs].reverse();
        for (const pair of order) {
          const sample = await measure(pair, settings.seconds, soloBaseline);
          pair.samples.push(sample);
          log(
            `[http] ${platform} round ${round}/${settings.rounds} ${pair.name}: ${fixed(sample.cpuPerRequest)} vs ${fixed(sample.baselineCpuPerRequest)} µs/request, +${fixed(added(sample), 2)} µs`,
          );
        }
      }
    } finally {
      soloServer.stop();
      for (const pair of pairs) {
        pair.target.stop();
        pair.baseline.stop();
      }
    }
    const descriptions = await Promise.all(
      pairs.map(async (pair) => (await loadTarget(pair.target.target)).description),
    );
    const rows = pairs.map((pair, i) => {
      const s = pair.samples;
      const deltas = s.map(added);
      return [
        `**${pair.name}**`,
        `**${fixed(median(deltas), 1, true)}**`,
        `${fixed(Math.min(...deltas), 1, true)} … ${fixed(Math.max(...deltas), 1, true)}`,
        `×${fixed(median(s.map((x) => x.cpuPerRequest / x.baselineCpuPerRequest)), 3)}`,
        `${fixed(median(s.map((x) => x.cpuPerRequest)))} / ${fixed(median(s.map((x) => x.baselineCpuPerRequest)))}`,
        fixed(median(s.map((x) => x.load.requestsPerSecond)), 0),
        fixed(median(s.map((x) => x.load.p50Ms)), 2),
        fixed(median(s.map((x) => x.load.p99Ms)), 2),
        descriptions[i]!,
      ];
    });
    sections.push(
      `### ${platform}\n\n` +
        `Unguarded app alone on the core: **${fixed(median(soloBaselines))} µs** of server CPU per request (median of the rounds; range ${fixed(Math.min(...soloBaselines))} … ${fixed(Math.max(...soloBaselines))}).\n\n` +
        table(
          [
            'target',
            'adds µs/req (median)',
            'range over rounds',
            'paired ratio',
            'paired CPU µs/req, target / baseline',
            'req/s',
            'p50 ms',
            'p99 ms',
            'what it does',
          ],
          rows,
        ),
    );
  }
  return sections.join('\n\n');
}
