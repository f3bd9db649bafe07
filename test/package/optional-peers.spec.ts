import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const optional = Object.entries((manifest.peerDependenciesMeta ?? {}) as Record<string, { optional?: boolean }>)
  .filter(([, meta]) => meta.optional)
  .map(([name]) => name);

/** Every package the module graph from `entry` imports (relative imports followed; type-only imports included). */
function packagesReachedFrom(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
      if (specifier!.startsWith('.')) visit(resolve(dirname(file), specifier!.replace(/\.js$/, '.ts')));
      else packages.add(specifier!.startsWith('@') ? specifier!.split('/').slice(0, 2).join('/') : specifier!.split('/')[0]!);
    }
  };
  visit(join(root, 'lib', 'index.ts'));
  return packages;
}

describe('optional peer dependencies', () => {
  it('are declared as peers with an optional marker and a devDependency for the tests', () => {
    expect(optional.length).toBeGreaterThan(0);
    for (const name of optional) expect([name, typeof manifest.peerDependencies[name], typeof manifest.devDependencies[name]]).toEqual([name, 'string', 'string']);
  });

  it('are never imported by the main entry, even for types', () => {
    const reached = packagesReachedFrom(join(root, 'lib', 'index.ts'));
    expect(optional.filter((name) => reached.has(name))).toEqual([]);
  });
});
