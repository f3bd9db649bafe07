// Flood: 1,000 concurrent connections presenting distinct invalid keys beside a steady valid
// stream, on loopback, bounded in time. Storage calls come from the counting repository.
import { fileURLToPath } from 'node:url';
import { BENCH_VALID_KEY } from './keys.js';
import { load, startServer, type LoadResult } from './processes.js';
import { fixed, table } from './stats.js';

const script = fileURLToPath(new URL('../scripts/flood.lua', import.meta.url));

/** Settings of the flood. */
export interface FloodSettings {
  readonly platforms: readonly string[];
  readonly seconds: number;
  readonly floodConnections: number;
}

/** Runs the flood on every platform; returns the report section (markdown). */
export async function runFlood(settings: FloodSettings, log: (line: string) => void): Promise<string> {
  const rows: string[][] = [];
  for (const platform of settings.platforms) {
    const server = await startServer('flood-counted', platform);
    try {
      const valid = () =>
        load({
          port: server.port,
          seconds: settings.seconds,
          connections: 10,
          headers: [`X-API-Key: ${BENCH_VALID_KEY}`],
        });
      await valid(); // warm-up
      for (const kind of ['none', 'malformed', 'unknown'] as const) {
        log(`[flood] ${platform}: valid stream with ${kind === 'none' ? 'no flood' : `a flood of ${kind} keys`}`);
        const before = await server.stats();
        const [steady, flood] = await Promise.all([
          valid(),
          kind === 'none'
            ? Promise.resolve(undefined)
            : load({
                port: server.port,
                seconds: settings.seconds,
                connections: settings.floodConnections,
                threads: 2,
                script,
                scriptArgs: [kind],
                expectErrors: true,
              }),
        ]);
        const after = await server.stats();
        if (steady.errors)
          throw new Error(`${platform}: ${steady.errors} valid requests failed during the ${kind} flood`);
        rows.push(row(platform, kind, steady, flood, after.misses! - before.misses!));
      }
    } finally {
      server.stop();
    }
  }
  return (
    `${settings.floodConnections.toLocaleString('en')} flood connections (wrk, 2 threads) with a distinct invalid key per request ` +
    `(malformed: a space, a comma, 301+ characters, non-ASCII; unknown: well-formed, in no store) beside a steady valid ` +
    `stream (10 connections), ${settings.seconds} s each, server on one core, both load generators on the other. ` +
    `"Storage calls" counts repository lookups of hashes it does not hold.\n\n` +
    table(
      [
        'platform',
        'flood',
        'valid req/s',
        'valid p50 ms',
        'valid p99 ms',
        'flood requests answered',
        'storage calls for flood keys',
      ],
      rows,
    )
  );
}

function row(
  platform: string,
  kind: string,
  steady: LoadResult,
  flood: LoadResult | undefined,
  misses: number,
): string[] {
  return [
    platform,
    kind === 'none' ? 'none' : `${kind} keys`,
    fixed(steady.requestsPerSecond, 0),
    fixed(steady.p50Ms, 2),
    fixed(steady.p99Ms, 2),
    flood ? flood.requests.toLocaleString('en') : '–',
    kind === 'none' ? '–' : `**${misses.toLocaleString('en')}**`,
  ];
}
