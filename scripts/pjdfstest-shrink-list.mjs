#!/usr/bin/env node
// Shrinks test/integration/posix/pjdfstest-expected-failures.txt to what the last pjdfstest run
// (its TAP in .tmp/pjdfstest-tap/, left by test/integration/posix/pjdfstest.test.ts) still fails:
// a listed case that passed is removed, a line with no case left is dropped. It never adds a case
// or a line (the list only shrinks; a new failure is a bug to fix, not to list). Reasons and
// comments stay as they are. Prints what it removed.
// Usage: node scripts/run-tests.mjs integration --filter posix/pjdfstest; node scripts/pjdfstest-shrink-list.mjs
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const { parseExpectedList, parseTap, formatCases } = await import(join(root, 'dist', 'test', 'helpers', 'pjdfstest-results.js'));
const listFile = join(root, 'test', 'integration', 'posix', 'pjdfstest-expected-failures.txt');
const tapDir = join(root, '.tmp', 'pjdfstest-tap');

const text = readFileSync(listFile, 'utf8');
const expected = parseExpectedList(text);
const lines = text.split('\n');
let removed = 0;
for (const entry of expected.values()) {
  const tapFile = join(tapDir, entry.file.replace('/', '-') + '.tap');
  if (!existsSync(tapFile)) {
    console.log(`${entry.file}: no result in ${tapDir}; left as it is`);
    continue;
  }
  const tap = readFileSync(tapFile, 'utf8');
  const result = parseTap(entry.file, tap, /^# (timed out|killed)/m.test(tap) ? 'did not finish' : undefined);
  if (result.broken) {
    console.log(`${entry.file}: ${result.broken}; left as it is`);
    continue;
  }
  const i = entry.line - 1;
  if (entry.cases === 'all') {
    if (result.failed.size === 0) {
      console.log(`${entry.file}: passes whole; line removed`);
      lines[i] = null;
      removed++;
    }
    continue;
  }
  const still = [...entry.cases].filter((n) => result.failed.has(n));
  if (still.length === entry.cases.size) continue;
  const passing = [...entry.cases].filter((n) => !result.failed.has(n));
  console.log(`${entry.file}: cases ${formatCases(passing)} pass now; ${still.length ? `left ${formatCases(still)}` : 'line removed'}`);
  removed++;
  const m = /^(\S+\.t)(\s+)(\S+)(\s+)(.+)$/.exec(lines[i].trim());
  lines[i] = still.length ? `${m[1]}${m[2]}${formatCases(still)}${m[4]}${m[5]}` : null;
}
writeFileSync(listFile, lines.filter((l) => l !== null).join('\n'));
console.log(removed ? `${removed} line(s) changed in ${listFile}` : 'nothing to remove');
