import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ApiKeyEventSink, ApiKeyFormat, createStandaloneApiKeyService } from 'nestjs-api-key';
import { scanForApiKeys, type ApiKeyFinding } from 'nestjs-api-key/leaks';
import { createSqliteApiKeyStore } from 'nestjs-api-key/sqlite';
import { tempDir } from '../support/databases.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin['nestjs-api-key']);
const PEPPER = 'scan-e2e-pepper-0000000001';
const dir = tempDir();
afterAll(() => dir.remove());
const tree = join(dir.path, 'repo');
const database = join(dir.path, 'keys.db');

/** Runs the built executable; `input` is written to its standard input. */
function exec(args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

function plant(path: string, content: string | Buffer): void {
  mkdirSync(dirname(join(tree, path)), { recursive: true });
  writeFileSync(join(tree, path), content);
}

/** Every key planted, to prove no secret is ever printed. */
const secrets: string[] = [];
const expected: Array<Omit<ApiKeyFinding, 'keyId'> & { key: string; state: string }> = [];
let live: { key: string; id: string };
let revoked: { key: string; id: string };

beforeAll(async () => {
  const store = await createSqliteApiKeyStore({ database, migrate: true });
  const { service } = createStandaloneApiKeyService({
    repository: store,
    pepper: PEPPER,
    keyPrefix: 'acme',
    events: new (class extends ApiKeyEventSink {
      emit(): void {}
    })(),
  });
  const issue = async (name: string) => {
    const { key, apiKey } = await service.create({ name });
    secrets.push(key);
    return { key, id: apiKey.id };
  };
  live = await issue('live');
  revoked = await issue('revoked');
  await service.revoke(revoked.id);
  const typo = await issue('typo');
  const wrapped = await issue('wrapped');
  const inBinary = await issue('binary');
  const acrossChunks = await issue('large');
  const vendored = await issue('vendored');
  await store.close();
  const unknown = new ApiKeyFormat('acme').generate().key; // well-formed, never stored
  const foreign = new ApiKeyFormat('other').generate().key;
  secrets.push(unknown, foreign);

  plant('src/config.ts', `// settings\nexport const timeoutMs = 5000;\nexport const KEY = '${live.key}';\n`);
  expected.push({ key: live.key, file: join(tree, 'src/config.ts'), line: 3, column: 21, state: 'live' });
  plant('docs/old.md', `# Old notes\n\n    curl -H "X-API-Key: ${revoked.key}" https://api\n`);
  expected.push({ key: revoked.key, file: join(tree, 'docs/old.md'), line: 3, column: 25, state: 'revoked' });
  plant('src/typo.ts', `const k = "${typo.key.slice(0, -1)}${typo.key.endsWith('A') ? 'B' : 'A'}";\n`);
  plant('src/wrapped.txt', `key: ${wrapped.key.slice(0, 30)}\n     ${wrapped.key.slice(30)}\n`);
  plant('src/glued.txt', `x${live.key} ${live.key}y ${foreign}\n`);
  plant('tests/fixture.json', `{"apiKey":"${unknown}"}`);
  expected.push({ key: unknown, file: join(tree, 'tests/fixture.json'), line: 1, column: 12, state: 'unknown' });
  const binary = Buffer.concat([
    randomBytes(5000).map((b) => (b === 10 ? 0 : b)),
    Buffer.from(`\0${inBinary.key}\0`),
    randomBytes(300).map((b) => (b === 10 ? 0 : b)),
  ]);
  plant('assets/blob.bin', binary);
  expected.push({ key: inBinary.key, file: join(tree, 'assets/blob.bin'), line: 1, column: 5002, state: 'live' });
  // A key across the 1 MiB read boundary, on line 20,001 of a 3 MiB log.
  const filler = `${'log line with nothing secret in it..'.padEnd(51, '.')}\n`.repeat(20_000);
  const offset = 1024 * 1024 - 20 - filler.length;
  const large = `${filler}${'z'.repeat(offset)} ${acrossChunks.key}\n${'y'.repeat(2 * 1024 * 1024)}\n`;
  plant('logs/large.log', large);
  expected.push({
    key: acrossChunks.key,
    file: join(tree, 'logs/large.log'),
    line: 20_001,
    column: offset + 2,
    state: 'live',
  });
  plant('node_modules/pkg/index.js', `module.exports = '${vendored.key}';`);
  plant('.git/objects/ab/cdef', vendored.key);
  symlinkSync(tree, join(tree, 'src/loop')); // links inside the tree are not followed
  symlinkSync(tree, join(dir.path, 'repo-link'));
});

const findingsOf = (list: readonly { key: string; file: string; line: number; column: number }[]) =>
  list.map(({ key, file, line, column }) => ({ keyId: new ApiKeyFormat('acme').parse(key), file, line, column }));
const sorted = <T extends { file: string }>(list: T[]) => [...list].sort((a, b) => (a.file < b.file ? -1 : 1));

describe('scanForApiKeys', () => {
  it('finds the well-formed keys of the prefix, with their place: text, binary, across read chunks', async () => {
    const result = await scanForApiKeys([tree], { format: 'acme' });
    expect(result.findings).toEqual(sorted(findingsOf(expected)));
    expect(result.files).toBe(8);
    expect(result.bytes).toBeGreaterThan(3 * 1024 * 1024);
  });

  it('follows a symbolic link named as a path (not those inside the tree)', async () => {
    const result = await scanForApiKeys([join(dir.path, 'repo-link')], { format: 'acme' });
    expect(result.findings.map((finding) => finding.keyId)).toEqual(
      sorted(findingsOf(expected)).map((finding) => finding.keyId),
    );
  });

  it('reads standard input given as "-"', async () => {
    async function* stdin() {
      yield `first line\nthe key: ${live.key.slice(0, 20)}`;
      yield `${live.key.slice(20)}\n`;
    }
    const result = await scanForApiKeys(['-'], { format: 'acme', stdin: stdin() });
    expect(result.findings).toEqual([{ keyId: live.id, file: '-', line: 2, column: 10 }]);
  });
});

describe('nestjs-api-key scan (the built executable)', () => {
  const noSecrets = (text: string) => {
    for (const key of secrets) expect(text).not.toContain(key.slice(key.lastIndexOf('_') + 1, -6));
  };

  it('prints file:line:column and the id of each key, never a secret, and exits 1', async () => {
    const { code, stdout, stderr } = await exec(['scan', tree, '--prefix', 'acme']);
    expect(code).toBe(1);
    expect(stdout.trim().split('\n')).toEqual(
      sorted(expected).map(
        ({ file, line, column, key }) => `${file}:${line}:${column}: acme key ${new ApiKeyFormat('acme').parse(key)}`,
      ),
    );
    expect(stderr).toMatch(/Scanned 8 file\(s\), 3\.\d MB: 5 key\(s\) found\./);
    noSecrets(stdout + stderr);
  });

  it('with --verify, reports each key’s state in the store', async () => {
    const { code, stdout } = await exec([
      'scan',
      tree,
      '--prefix',
      'acme',
      '--verify',
      '--database',
      `sqlite:${database}`,
      '--pepper',
      PEPPER,
      '--json',
    ]);
    expect(code).toBe(1);
    const { findings } = JSON.parse(stdout) as { findings: ApiKeyFinding[] };
    expect(findings).toEqual(sorted(expected).map((entry) => ({ ...findingsOf([entry])[0], status: entry.state })));
    noSecrets(stdout);
  });

  it('with --verify, exits 0 when every key found is revoked', async () => {
    const { code, stdout } = await exec([
      'scan',
      join(tree, 'docs'),
      '--prefix',
      'acme',
      '--verify',
      '--database',
      `sqlite:${database}`,
      '--pepper',
      PEPPER,
    ]);
    expect(stdout).toContain(`acme key ${revoked.id} (revoked)`);
    expect(code).toBe(0);
  });

  it('exits 0 on a tree without keys, and ignores look-alikes', async () => {
    const { code, stderr } = await exec([
      'scan',
      join(tree, 'src/typo.ts'),
      join(tree, 'src/wrapped.txt'),
      join(tree, 'src/glued.txt'),
      '--prefix',
      'acme',
    ]);
    expect(stderr).toContain('0 key(s) found');
    expect(code).toBe(0);
  });

  it('reads standard input when no path is given (a pre-commit hook pipes the staged diff)', async () => {
    const { code, stdout } = await exec(['scan', '--prefix', 'acme'], `+const key = "${live.key}";\n`);
    expect(stdout.trim()).toBe(`-:1:15: acme key ${live.id}`);
    expect(code).toBe(1);
  });

  it('exits 2 on a bad command line: --verify without a store, an unknown option', async () => {
    expect((await exec(['scan', tree, '--verify'])).code).toBe(2);
    expect((await exec(['scan', tree, '--name', 'x'])).code).toBe(2);
  });
});
