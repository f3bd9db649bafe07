// Fails when a source line in lib/ is longer than 120 characters (Prettier leaves long strings and comments alone).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const MAX = 120;
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', 'lib'], {
  encoding: 'utf8',
})
  .split('\0')
  .filter((file) => /\.(ts|cts|mts|cjs|mjs|js)$/.test(file));
const offenders = [];
for (const file of files) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') continue; // deleted in the work tree, still in the index
    throw error;
  }
  text.split(/\r?\n/).forEach((line, index) => {
    const length = [...line].length;
    if (length > MAX) offenders.push(`${file}:${index + 1}: ${length} characters`);
  });
}
if (offenders.length > 0) {
  console.error(`Lines over ${MAX} characters in lib/ (split strings with +, rewrap comments):`);
  for (const offender of offenders) console.error(`  ${offender}`);
  process.exit(1);
}
