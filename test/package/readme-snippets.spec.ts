/**
 * Every ```ts block of README.md and docs/*.md type-checks against the built package (dist), as a user's
 * file would: `nestjs-api-key` resolves through the package's own exports map (a self-reference from
 * inside the package root), every other import from node_modules. One TypeScript program checks them all.
 *
 * A block may be preceded by an HTML comment that the rendered page hides:
 * - `<!-- snippet: skip -->` leaves the block unchecked (for text that is not TypeScript a user would write);
 * - `<!-- snippet: prelude ... -->` puts the code after `prelude` before the block (imports and `declare`s
 *   that the block assumes), so a short block still compiles.
 * Prefer blocks complete enough to compile on their own.
 *
 * The relative links of the same files are checked too: each names an existing file, and a heading of it
 * when it has an anchor, so a page or a heading renamed in one place cannot leave a dead link elsewhere.
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

const root = join(import.meta.dirname, '..', '..');
/** Inside the package root, below no other package.json, so that the package can import itself. */
const workDir = join(root, 'test-artifacts', 'readme-snippets');

interface Snippet {
  /** Markdown file, relative to the package root. */
  source: string;
  /** 1-based line in the Markdown file of the block's first line of code. */
  line: number;
  prelude: string;
  code: string;
}

const FENCE = /^```(\w*)\s*$/;
const DIRECTIVE = /^<!--\s*snippet:\s*(skip|prelude)\b([\s\S]*?)-->\s*$/;

/** The ```ts blocks of one Markdown file, with the directive comment that precedes each, if any. */
function extractSnippets(source: string, text: string): Snippet[] {
  const lines = text.split('\n');
  const snippets: Snippet[] = [];
  let pending: { kind: string; body: string } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const comment = lines[i].trimStart().startsWith('<!--') ? readComment(lines, i) : null;
    if (comment) {
      const match = DIRECTIVE.exec(comment.text);
      if (match) pending = { kind: match[1], body: match[2] };
      i = comment.end;
      continue;
    }
    const fence = FENCE.exec(lines[i].trimStart());
    if (!fence) {
      if (lines[i].trim() !== '') pending = null;
      continue;
    }
    const indent = lines[i].length - lines[i].trimStart().length;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end].trim() !== '```') end++;
    if (fence[1] === 'ts' && pending?.kind !== 'skip') {
      const code = lines
        .slice(start, end)
        .map((line) => line.slice(Math.min(indent, line.length - line.trimStart().length)))
        .join('\n');
      snippets.push({ source, line: start + 1, prelude: pending?.kind === 'prelude' ? pending.body.trim() : '', code });
    }
    pending = null;
    i = end;
  }
  return snippets;
}

function readComment(lines: string[], start: number): { text: string; end: number } {
  let end = start;
  while (end < lines.length && !lines[end].includes('-->')) end++;
  return {
    text: lines
      .slice(start, end + 1)
      .join('\n')
      .trim(),
    end,
  };
}

function markdownFiles(): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => join('docs', name));
  return ['README.md', ...docs];
}

/** Type-checks the snippets in one program; each error names the Markdown file and line. */
function typeCheck(snippets: Snippet[]): string[] {
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  const files = new Map<string, { snippet: Snippet; offset: number }>();
  snippets.forEach((snippet, index) => {
    const file = join(workDir, `snippet-${index}.ts`);
    const prelude = snippet.prelude ? `${snippet.prelude}\n` : '';
    writeFileSync(file, `${prelude}${snippet.code}\n`);
    files.set(file, { snippet, offset: prelude === '' ? 0 : prelude.split('\n').length - 1 });
  });
  const program = ts.createProgram([...files.keys()], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    moduleDetection: ts.ModuleDetectionKind.Force,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    types: ['node'],
    strict: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: true,
    noEmit: true,
  });
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    const entry = diagnostic.file ? files.get(diagnostic.file.fileName) : undefined;
    if (!diagnostic.file || !entry || diagnostic.start === undefined) {
      return `${diagnostic.file ? relative(root, diagnostic.file.fileName) : '(program)'}: TS${diagnostic.code} ${message}`;
    }
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    const where =
      line < entry.offset
        ? `${entry.snippet.source}:${entry.snippet.line} (in its prelude)`
        : `${entry.snippet.source}:${entry.snippet.line + line - entry.offset}`;
    return `${where}: TS${diagnostic.code} ${message}`;
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** Relative links (`[text](path#anchor)`) outside code blocks that name no existing file or heading. */
function brokenLinks(files: string[]): string[] {
  const anchors = new Map(
    files.map((file) => {
      const text = readFileSync(join(root, file), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
      return [file, new Set([...text.matchAll(/^#+ (.+)$/gm)].map((match) => anchorOf(match[1])))];
    }),
  );
  const broken: string[] = [];
  for (const file of files) {
    const lines = readFileSync(join(root, file), 'utf8').split('\n');
    let inCode = false;
    lines.forEach((line, index) => {
      if (/^\s*```/.test(line)) inCode = !inCode;
      if (inCode) return;
      for (const [, target] of line.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        const [path, anchor] = target.split('#');
        const linked = path === '' ? file : join(dirname(file), path);
        const exists = path === '' || existsSync(join(root, linked));
        const known = anchor === undefined || anchors.get(linked)?.has(anchor) === true;
        if (!exists || !known) broken.push(`${file}:${index + 1}: ${target}`);
      }
    });
  }
  return broken;
}

describe('the TypeScript snippets of README.md and docs/', () => {
  it('finds blocks, directives and their lines', () => {
    const text = [
      '# Title',
      '```ts',
      'const a = 1;',
      '```',
      '<!-- snippet: skip -->',
      '```ts',
      'not checked',
      '```',
      '<!-- snippet: prelude',
      "import { x } from 'y';",
      '-->',
      '',
      '  ```ts',
      '  x();',
      '  ```',
      '```bash',
      'echo',
      '```',
    ].join('\n');
    expect(extractSnippets('T.md', text)).toEqual([
      { source: 'T.md', line: 3, prelude: '', code: 'const a = 1;' },
      { source: 'T.md', line: 14, prelude: "import { x } from 'y';", code: 'x();' },
    ]);
  });

  it('compile against the built package', () => {
    const snippets = markdownFiles().flatMap((file) => extractSnippets(file, readFileSync(join(root, file), 'utf8')));
    expect(snippets.length).toBeGreaterThan(10);
    expect(typeCheck(snippets)).toEqual([]);
  }, 120_000);
});

describe('the links of README.md and docs/', () => {
  it('reach an existing file, and a heading of it when they name one', () => {
    expect(brokenLinks(markdownFiles())).toEqual([]);
  });
});
