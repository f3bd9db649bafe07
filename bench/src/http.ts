// The HTTP comparison. Each target runs beside its own copy of the baseline (`unguarded`),
// both servers pinned to one core, each under its own wrk pinned to the other core, at the
// same time: whatever slows the machine slows both alike, and the ratio of their server CPU
// time per request is what we keep. The A/A pair (baseline beside baseline) shows the error.
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
  readonly load: LoadResult;
  readonly baselineLoad: LoadResult;
}

interface Pair {
  readonly name: string;
  readonly target: BenchServer;
  readonly baseline: BenchServer;
  readonly samples: Sample[];
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
      pairs.push({ name, target: await startServer(targetName, platform), baseline: await startServer('unguarded', platform), samples: [] });
    }
    try {
      const measure = async (pair: Pair, seconds: number): Promise<Sample> => {
        const [before, baselineBefore] = await Promise.all([pair.target.stats(), pair.baseline.stats()]);
        const run = (port: number) => load({ port, seconds, connections: settings.connections, headers });
        const [result, baselineResult] = await Promise.all([run(pair.target.port), run(pair.baseline.port)]);
        const [after, baselineAfter] = await Promise.all([pair.target.stats(), pair.baseline.stats()]);
        for (const [server, r] of [[pair.target, result], [pair.baseline, baselineResult]] as const) {
          if (r.errors) throw new Error(`${platform}/${server.target}: ${r.errors} failed requests (is the key accepted?)`);
        }
        return {
          cpuPerRequest: (after.cpuMicros - before.cpuMicros) / result.requests,
          baselineCpuPerRequest: (baselineAfter.cpuMicros - baselineBefore.cpuMicros) / baselineResult.requests,
          load: result,
          baselineLoad: baselineResult,
        };
      };
      for (const pair of pairs) await measure(pair, settings.warmupSeconds);
      for (let round = 1; round <= settings.rounds; round++) {
        // ABAB...: every pair once per round, in alternating order, so drift spreads evenly.
        const order = round % 2 ? pairs : [...pairs].reverse();
        for (const pair of order) {
          const sample = await measure(pair, settings.seconds);
          pair.samples.push(sample);
          log(`[http] ${platform} round ${round}/${settings.rounds} ${pair.name}: ${fixed(sample.cpuPerRequest)} vs ${fixed(sample.baselineCpuPerRequest)} µs/request`);
        }
      }
    } finally {
      for (const pair of pairs) {
        pair.target.stop();
        pair.baseline.stop();
      }
    }
    const descriptions = await Promise.all(pairs.map(async (pair) => (await loadTarget(pair.target.target)).description));
    // The calibration: what 10 µs of tight-loop arithmetic (spin-10us, over naive-equals) adds
    // in the same round, so every Δ can be read in the units of the micro-benchmark.
    const spin = pairs.find((pair) => pair.name === 'spin-10us');
    const naive = pairs.find((pair) => pair.name === 'naive-equals');
    const delta = (x: Sample) => x.cpuPerRequest - x.baselineCpuPerRequest;
    // One factor for the run (medians, not per round: a difference of two noisy rounds can be ≤ 0).
    const factor = spin && naive ? (median(spin.samples.map(delta)) - median(naive.samples.map(delta))) / 10 : 0;
    const scale = factor > 0 ? factor : undefined;
    const rows = pairs.map((pair, i) => {
      const s = pair.samples;
      const deltas = s.map(delta);
      const spread = `${fixed(Math.min(...deltas), 1, true)} … ${fixed(Math.max(...deltas), 1, true)}`;
      return [
        `**${pair.name}**`,
        fixed(median(s.map((x) => x.cpuPerRequest))),
        fixed(median(s.map((x) => x.baselineCpuPerRequest))),
        `**${fixed(median(deltas), 1, true)}**`,
        spread,
        `×${fixed(median(s.map((x) => x.cpuPerRequest / x.baselineCpuPerRequest)), 3)}`,
        scale ? fixed(median(deltas) / scale, 1, true) : '–',
        fixed(median(s.map((x) => x.load.requestsPerSecond)), 0),
        fixed(median(s.map((x) => x.load.p50Ms)), 2),
        fixed(median(s.map((x) => x.load.p99Ms)), 2),
        descriptions[i]!,
      ];
    });
    sections.push(
      `### ${platform}\n\n` +
        table(
          ['target', 'server CPU µs/req', 'its baseline µs/req', 'Δ µs/req (median)', 'Δ range over rounds', 'ratio', 'Δ in tight-loop µs', 'req/s', 'p50 ms', 'p99 ms', 'what it does'],
          rows,
        ) +
        (scale
          ? `\n\nCalibration: 10 µs of tight-loop arithmetic (median Δ of spin-10us minus that of naive-equals) added ${fixed(10 * scale, 1)} µs of server CPU per request in this run: one tight-loop µs weighed ×${fixed(scale, 2)} here. "Δ in tight-loop µs" is the median Δ divided by that factor.`
          : spin && naive
            ? '\n\nCalibration failed in this run (spin-10us did not cost more than naive-equals): too noisy to convert Δ into tight-loop µs.'
            : ''),
    );
  }
  return sections.join('\n\n');
}
