// -P in a real pseudo-terminal (util-linux `script`): the built CLI draws the
// stats block, redraws it in place with ANSI codes while a rate-limited copy
// runs, prints log lines above it, cuts lines to the terminal width, and ends
// with the final summary. Where rclone is installed, its final frame has the
// same lines.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rcloneBinary, rcloneSkipReason } from '../../helpers/cli.js';
import { scriptSkipReason } from '../../helpers/require-tool.js';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(join(dir, 'package.json')) || dir.endsWith('dist')) dir = dirname(dir);
  return dir;
}
const mainJs = join(repoRoot(), 'dist', 'src', 'cli', 'cryptfs.cjs');
const noScript = scriptSkipReason();
const noRclone = rcloneSkipReason();

const root = fs.mkdtempSync(join(tmpdir(), 'cryptfs-pty-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const emptyConf = join(root, 'empty.conf');
fs.writeFileSync(emptyConf, '');
const src = join(root, 'src');
fs.mkdirSync(join(src, 'dir'), { recursive: true });
fs.writeFileSync(join(src, 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 1));
fs.writeFileSync(join(src, 'small.txt'), 'small');
fs.writeFileSync(join(src, 'dir/other.txt'), 'other');

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs a command line in a pseudo-terminal of the given size; returns what the terminal received. */
function inPty(command: string[], columns: number): Promise<{ code: number; output: string }> {
  const line = `stty cols ${columns} rows 40; exec ${command.map(quote).join(' ')}`;
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!/^(RCLONE_|CRYPTFS_|NODE_TEST)/.test(k)) env[k] = v;
    const child = spawn('script', ['-q', '-e', '-c', line, '/dev/null'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => out.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output: Buffer.concat(out).toString('utf8') });
    });
  });
}

const ESC = '\x1b';
/** The text of the terminal's lines with control codes removed. */
const plainLines = (s: string) =>
  s
    .replace(/\x1b\[[0-9;]*[A-Za-z]/g, '\n')
    .split(/\r?\n|\r/)
    .filter((l) => l !== '');

/** The last frame drawn: from the last "Transferred: <tab>" line to the end. */
function lastFrame(output: string): string[] {
  const lines = plainLines(output);
  let start = -1;
  lines.forEach((l, i) => {
    if (/^Transferred: {3}\t/.test(l)) start = i;
  });
  return start < 0 ? [] : lines.slice(start);
}

test('-P draws and redraws the progress block in a terminal, with the same lines as rclone', { skip: noScript ?? noRclone }, async () => {
  const dst = join(root, 'dst1');
  // 3 MiB at 2 MiB/s: about 1.5 s, three redraws at 500 ms.
  const r = await inPty([process.execPath, mainJs, '--config', emptyConf, 'copy', src, dst, '-P', '--bwlimit', '2M', '--transfers', '1'], 120);
  assert.equal(r.code, 0, r.output);
  assert.deepEqual(fs.readFileSync(join(dst, 'big.bin')), fs.readFileSync(join(src, 'big.bin')));

  const frames = r.output.split(/Transferred: {3}\t/).length - 1;
  assert.ok(frames >= 3, `at least three frames drawn, got ${frames}:\n${JSON.stringify(r.output)}`);
  // Redrawn in place: erase line, cursor up, back to column 1 (rclone's codes).
  assert.ok(r.output.includes(`${ESC}[2K${ESC}[1A`), 'cursor moved up over the previous block');
  assert.ok(r.output.includes(`${ESC}[2K${ESC}[1G`), 'line erased, cursor at column 1');
  // While the big file is going: the per-file line with percentage, size, speed and ETA.
  const fileLine = plainLines(r.output).find((l) => /^ \* +big\.bin: *\d+% \/3Mi, /.test(l));
  assert.ok(fileLine, `a "big.bin" progress line: ${JSON.stringify(r.output)}`);
  assert.match(fileLine!, /^ \* {39}big\.bin: *\d+% \/3Mi, [\d.]+[KM]?i?\/s, (-|\d+s)$/);
  assert.ok(plainLines(r.output).includes('Transferring:'));
  // The final frame: everything transferred, then the elapsed time.
  const final = lastFrame(r.output);
  assert.match(final[0], /^Transferred: {3}\t {4}3\.000 MiB \/ 3\.000 MiB, 100%, [\d.]+ [KM]?i?B\/s, ETA (-|\d+s)$/);
  assert.match(final[1], /^Transferred: {12}3 \/ 3, 100%$/);
  assert.match(final[2], /^Elapsed time: +\d+\.\ds$/);
  assert.equal(final.length, 3, `no "Transferring:" left at the end: ${final}`);
  assert.ok(r.output.endsWith('\r\n'), 'a newline after the last frame');

  const dst2 = join(root, 'dst-rclone');
  const theirs = await inPty([rcloneBinary(), '--config', emptyConf, 'copy', src, dst2, '-P', '--bwlimit', '2M', '--transfers', '1'], 120);
  assert.equal(theirs.code, 0, theirs.output);
  const labels = (frame: string[]) => frame.map((l) => l.replace(/[:\s].*$/, ''));
  assert.deepEqual(labels(final), labels(lastFrame(theirs.output)), 'the same lines as rclone\'s last frame');
});

test('-P -v prints log lines above the block; lines are cut to the terminal width', { skip: noScript }, async () => {
  const dst = join(root, 'dst2');
  const r = await inPty([process.execPath, mainJs, '--config', emptyConf, 'copy', src, dst, '-P', '-v', '--bwlimit', '4M', '--transfers', '1'], 50);
  assert.equal(r.code, 0, r.output);
  // A log line is printed where the block was, and the block is drawn again below it.
  assert.match(r.output, /\x1b\[2K\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO {2}: big\.bin: Copied \(new\)\r\nTransferred: {3}\t/);
  // While -P runs, block lines are at most 50 characters (tabs count as one, as rclone counts).
  const progressPart = r.output.slice(0, r.output.search(/\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d INFO {2}: \r\nTransferred/));
  const blockLines = progressPart
    .split(/\x1b\[2K\x1b\[1G/)
    .slice(1)
    .flatMap((frame) => frame.split(/\x1b/)[0].split('\r\n'))
    .filter((l) => l !== '' && !/ (INFO|NOTICE|ERROR|DEBUG) {0,2}: /.test(l));
  assert.ok(blockLines.length > 0);
  for (const l of blockLines) assert.ok(l.length <= 50, `cut to the width: ${JSON.stringify(l)}`);
  // After the progress: the final stats block at INFO, as with rclone -P -v.
  assert.match(r.output, /\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d INFO {2}: \r\nTransferred: {3}\t/);
});

test('without a terminal -P writes plain blocks, no control codes', async () => {
  const dst = join(root, 'dst3');
  const r = spawnSync(process.execPath, [mainJs, '--config', emptyConf, 'copy', src, dst, '-P', '--bwlimit', '4M'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /\x1b/);
  assert.match(r.stdout, /Transferred: +3 \/ 3, 100%\nElapsed time: +[\d.]+s\n/);
});
