import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';

/** CPU cores: servers share one, load generators use the other. */
export const SERVER_CPU = process.env.BENCH_SERVER_CPU ?? '0';
export const LOAD_CPU = process.env.BENCH_LOAD_CPU ?? '1';

/** A running benchmark server. */
export interface BenchServer {
  readonly target: string;
  readonly port: number;
  /** CPU time used so far (µs) and the target's counters. */
  stats(): Promise<{ cpuMicros: number } & Record<string, number>>;
  stop(): void;
}

/** Starts targets/<target> on `platform`, pinned (every thread) to {@link SERVER_CPU}. */
export async function startServer(target: string, platform: string): Promise<BenchServer> {
  const child = fork(new URL('./server.js', import.meta.url), [target, platform], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await nextMessage(child, 'ready');
  execFileSync('taskset', ['-a', '-p', '-c', SERVER_CPU, String(child.pid)], { stdio: 'ignore' });
  return {
    target,
    port: ready.port as number,
    stats: async () => {
      const reply = nextMessage(child, 'stats');
      child.send({ type: 'stats' });
      return (await reply) as { cpuMicros: number } & Record<string, number>;
    },
    stop: () => child.kill(),
  };
}

function nextMessage(child: ChildProcess, type: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: Record<string, unknown>) => {
      if (message.type !== type) return;
      child.off('message', onMessage).off('exit', onExit);
      resolve(message);
    };
    const onExit = (code: number | null) => reject(new Error(`benchmark server exited (${code}) before '${type}'`));
    child.on('message', onMessage).once('exit', onExit);
  });
}

/** What wrk reports for one run. */
export interface LoadResult {
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Responses other than 2xx/3xx, plus socket errors. */
  readonly errors: number;
}

/** Options of one wrk run. */
export interface LoadOptions {
  readonly port: number;
  readonly seconds: number;
  readonly connections: number;
  readonly threads?: number;
  /** Header lines sent with every request (ignored when `script` sets its own). */
  readonly headers?: readonly string[];
  /** A wrk Lua script (path). */
  readonly script?: string;
  /** Arguments for the script. */
  readonly scriptArgs?: readonly string[];
  /** Whether non-2xx answers are the point (the flood) rather than errors. */
  readonly expectErrors?: boolean;
}

/** Runs wrk against 127.0.0.1:<port>/bench, pinned to {@link LOAD_CPU}. */
export function load(options: LoadOptions): Promise<LoadResult> {
  const args = [
    '-c',
    LOAD_CPU,
    'wrk',
    '--latency',
    '-t',
    String(options.threads ?? 1),
    '-c',
    String(options.connections),
    '-d',
    `${options.seconds}s`,
  ];
  for (const header of options.headers ?? []) args.push('-H', header);
  if (options.script) args.push('-s', options.script);
  args.push(`http://127.0.0.1:${options.port}/bench`);
  if (options.scriptArgs) args.push('--', ...options.scriptArgs);
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`wrk failed (${code}):\n${out}`));
      try {
        resolve(parseWrk(out));
      } catch (error) {
        reject(error);
      }
    });
  });
}

function parseWrk(out: string): LoadResult {
  const number = (pattern: RegExp, fallback?: number): number => {
    const match = pattern.exec(out);
    if (!match) {
      if (fallback !== undefined) return fallback;
      throw new Error(`cannot read ${pattern} from wrk output:\n${out}`);
    }
    return Number(match[1]);
  };
  const latency = (percentile: string): number => {
    const match = new RegExp(`^\\s+${percentile}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    if (!match) throw new Error(`no ${percentile}% latency in wrk output:\n${out}`);
    return Number(match[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[match[2]!]!;
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests: number(/(\d+) requests in/),
    requestsPerSecond: number(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: latency('50'),
    p99Ms: latency('99'),
    errors:
      number(/Non-2xx or 3xx responses: (\d+)/, 0) +
      (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0),
  };
}
