/** One micro-benchmark case: a synchronous or asynchronous operation. */
export interface MicroCase {
  readonly name: string;
  /** Runs the operation once; the i-th call gets i. */
  readonly run: (i: number) => unknown;
  /** Whether `run` returns a promise to await. */
  readonly async?: boolean;
}

/**
 * CPU time (µs, process.cpuUsage) per operation of each case: `rounds` rounds, every case
 * once per round in alternating order (ABAB...), each measurement `iterations` calls after a
 * warm-up. Returns every round's figure per case, for medians and ratios taken per round.
 */
export async function measureCases(
  cases: readonly MicroCase[],
  rounds: number,
  iterations: number,
): Promise<Map<string, number[]>> {
  const results = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  const once = async (c: MicroCase, n: number): Promise<number> => {
    const start = process.cpuUsage();
    if (c.async) for (let i = 0; i < n; i++) await c.run(i);
    else for (let i = 0; i < n; i++) c.run(i);
    const used = process.cpuUsage(start);
    return (used.user + used.system) / n;
  };
  for (const c of cases) await once(c, iterations);
  for (let round = 0; round < rounds; round++) {
    for (const c of round % 2 ? [...cases].reverse() : cases) results.get(c.name)!.push(await once(c, iterations));
  }
  return results;
}
