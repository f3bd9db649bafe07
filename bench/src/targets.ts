import { readdirSync } from 'node:fs';
import type { BenchTarget } from './target.js';

const directory = new URL('./targets/', import.meta.url);

/** Names of every target file in targets/, the baseline (`unguarded`) first. */
export function targetNames(): string[] {
  const names = readdirSync(directory)
    .filter((file) => file.endsWith('.js'))
    .map((file) => file.slice(0, -3));
  return names.sort((a, b) => Number(b === 'unguarded') - Number(a === 'unguarded') || a.localeCompare(b));
}

/** The target exported by targets/<name>.js. */
export async function loadTarget(name: string): Promise<BenchTarget> {
  if (!targetNames().includes(name)) throw new Error(`unknown target "${name}" (known: ${targetNames().join(', ')})`);
  return ((await import(new URL(`${name}.js`, directory).href)) as { default: BenchTarget }).default;
}
