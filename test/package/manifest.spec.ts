import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

function exportTargets(node: unknown): string[] {
  if (typeof node === 'string') return [node];
  return Object.values(node as Record<string, unknown>).flatMap(exportTargets);
}

describe('package manifest', () => {
  it('is an ESM package for Node >= 20.19 with Nest 11 and 12 as peers', () => {
    expect(manifest.type).toBe('module');
    expect(manifest.engines.node).toBe('>=20.19');
    expect(manifest.peerDependencies['@nestjs/common']).toBe('^11.0.0 || ^12.0.0');
    expect(manifest.peerDependencies['@nestjs/core']).toBe('^11.0.0 || ^12.0.0');
  });

  it('has an exports map whose every target exists in the build, with import and require conditions', () => {
    for (const [entry, target] of Object.entries(manifest.exports as Record<string, unknown>)) {
      if (entry === './package.json') continue;
      expect(Object.keys(target as object)).toEqual(['import', 'require']);
      for (const file of exportTargets(target))
        expect([entry, file, existsSync(join(root, file))]).toEqual([entry, file, true]);
    }
    expect(existsSync(join(root, 'dist/cjs/package.json'))).toBe(true);
  });

  it('declares every package that lib/ imports as a dependency or peer dependency', () => {
    const declared = new Set([
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ]);
    const builtins = new Set(builtinModules);
    const undeclared = new Set<string>();
    for (const file of sourceFiles(join(root, 'lib'))) {
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        if (specifier!.startsWith('.') || specifier!.startsWith('node:') || builtins.has(specifier!)) continue;
        const name = specifier!.startsWith('@')
          ? specifier!.split('/').slice(0, 2).join('/')
          : specifier!.split('/')[0]!;
        if (!declared.has(name)) undeclared.add(`${name} (in ${file.slice(root.length + 1)})`);
      }
    }
    expect([...undeclared]).toEqual([]);
  });

  it('imports Nest types only from package roots, never from subpaths like @nestjs/common/interfaces', () => {
    const offenders = sourceFiles(join(root, 'lib')).filter((file) =>
      /from '@nestjs\/[a-z-]+\/[^']+'/.test(readFileSync(file, 'utf8')),
    );
    expect(offenders).toEqual([]);
  });
});
