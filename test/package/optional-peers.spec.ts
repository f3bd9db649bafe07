import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const optionalPeers = Object.entries(manifest.peerDependenciesMeta ?? {})
  .filter(([, meta]) => (meta as { optional?: boolean }).optional)
  .map(([name]) => name);

/**
 * Every package statically imported by `file` and the files it imports, following relative
 * imports. A dynamic `import('peer')` is how an optional peer may be probed at run time, so it
 * does not count.
 */
function packagesReachedFrom(file: string, seen = new Set<string>(), found = new Set<string>()): Set<string> {
  if (seen.has(file)) return found;
  seen.add(file);
  for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from|^import)\s*'([^']+)'/gm)) {
    if (specifier!.startsWith('.'))
      packagesReachedFrom(resolve(dirname(file), specifier!.replace(/\.js$/, '.ts')), seen, found);
    else
      found.add(specifier!.startsWith('@') ? specifier!.split('/').slice(0, 2).join('/') : specifier!.split('/')[0]!);
  }
  return found;
}

describe.each(optionalPeers)('the optional peer %s', (peer) => {
  it('is declared as a peer and installed as a devDependency for the tests', () => {
    expect(manifest.peerDependencies[peer]).toBeDefined();
    expect(manifest.devDependencies[peer]).toBeDefined();
  });

  it('is never reached from the main entry point (lib/index.ts)', () => {
    const reached = packagesReachedFrom(join(root, 'lib/index.ts'));
    expect(reached.has('@nestjs/common')).toBe(true); // the walk does follow the imports
    expect(reached.has(peer)).toBe(false);
  });
});

describe('the health entry point (lib/health/index.ts)', () => {
  it('reaches no optional peer but @nestjs/terminus, so it loads without rate limiting or Swagger installed', () => {
    const reached = packagesReachedFrom(join(root, 'lib/health/index.ts'));
    expect(reached.has('@nestjs/terminus')).toBe(true); // the walk does follow the imports
    expect(optionalPeers.filter((peer) => peer !== '@nestjs/terminus' && reached.has(peer))).toEqual([]);
  });
});
