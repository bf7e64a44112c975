// The stats block and the -P display: rclone's units and layout, the in-place
// redraw codes, log lines above the block, and periodic --stats logging.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  TransferStats,
  byteRateUnit,
  byteUnit,
  countSuffix,
  goDuration,
  parseDuration,
  readableDuration,
  shortenName,
  sizeSuffix,
} from '../../../src/cli/stats.js';
import { EraseLine, MoveToStartOfLine, MoveUp, ProgressDisplay } from '../../../src/cli/progress.js';
import { runMain } from '../../helpers/run-main.js';

const root = fs.mkdtempSync(join(tmpdir(), 'cryptfs-progress-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

test('rclone units: SizeSuffix, byte units, counts, durations', () => {
  assert.equal(sizeSuffix(0), '0');
  assert.equal(sizeSuffix(8), '8');
  assert.equal(sizeSuffix(100_000), '97.656Ki');
  assert.equal(sizeSuffix(30_000_000), '28.610Mi');
  assert.equal(sizeSuffix(1024 * 1024), '1Mi');
  assert.equal(byteUnit(0), '0 B');
  assert.equal(byteUnit(1023), '1023 B');
  assert.equal(byteUnit(1_048_576), '1 MiB');
  assert.equal(byteUnit(30_100_008), '28.706 MiB');
  assert.equal(byteUnit(270_553_174_016), '251.972 GiB');
  assert.equal(byteRateUnit(0), '0 B/s');
  assert.equal(byteRateUnit(21_029_000), '20.055 MiB/s');
  assert.equal(countSuffix(3), '3');
  assert.equal(countSuffix(1234), '1.234k');
  assert.equal(parseDuration('1m0s'), 60_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('2d'), 172_800_000);
  assert.equal(parseDuration('1.5'), 1500);
  assert.throws(() => parseDuration('soon'));
  assert.equal(readableDuration(0), '0s');
  assert.equal(readableDuration(3_723_000), '1h2m3s');
  assert.equal(readableDuration(90_061_000, 3), '1d1h1m');
  assert.equal(goDuration(5_000), '5s');
  assert.equal(goDuration(90_000), '1m30s');
  assert.equal(shortenName('abcdefghij', 5), 'ab…ij');
  assert.equal(shortenName('short', 45), 'short');
});

test('the stats block has rclone\'s layout', () => {
  const s = new TransferStats();
  s.started = Date.now();
  s.bytes = 100_008;
  s.transfers = 2;
  s.checks = 2;
  s.deletes = 1;
  assert.equal(
    s.string(),
    '\nTransferred:   \t   97.664 KiB / 97.664 KiB, 100%, 0 B/s, ETA -\n' +
      'Checks:                 2 / 2, 100%\n' +
      'Deleted:                1 (files), 0 (dirs)\n' +
      'Transferred:            2 / 2, 100%\n' +
      'Elapsed time:         0.0s\n',
  );
  // Nothing done: only the byte line and the time (rclone's "There was nothing to transfer" block).
  const empty = new TransferStats();
  empty.started = Date.now();
  assert.equal(empty.string(), '\nTransferred:   \t          0 B / 0 B, -, 0 B/s, ETA -\nElapsed time:         0.0s\n');

  // In flight: queued work counts in the totals; the file line as -P shows it.
  const busy = new TransferStats();
  busy.started = Date.now() - 65_300;
  busy.queueTransfer(1000);
  const t = busy.startTransfer('big.bin', 30_000_000);
  t.done = 10_300_000;
  busy.bytes = 10_300_000;
  busy.error(new Error('x'));
  const text = busy.string();
  assert.match(text, /^\nTransferred: {3}\t {4}9\.823 MiB \/ 28\.611 MiB, 34%, 0 B\/s, ETA -\n/);
  assert.match(text, /\nErrors: {17}1 \(retrying may help\)\n/);
  assert.match(text, /\nTransferred: {12}0 \/ 2, 0%\n/);
  assert.match(text, /\nElapsed time: {7}1m5\.3s\n/);
  assert.match(text, /\nTransferring:\n \* {39}big\.bin: 34% \/28\.610Mi, 0\/s, -\n$/);
  assert.equal(busy.string({ oneLine: true }), '    9.823 MiB / 28.611 MiB, 34%, 0 B/s, ETA - (xfr#0/2)');
});

/** A writable that records what was written and says it is a terminal of the given width. */
class FakeTerminal extends Writable {
  text = '';
  isTTY = true;
  constructor(readonly columns: number) {
    super();
  }
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

test('-P on a terminal redraws the block in place and prints log lines above it', () => {
  const term = new FakeTerminal(30);
  let block = 'Transferred: 1\nElapsed time: 1';
  const p = new ProgressDisplay(term, () => block, { tty: true, columns: () => term.columns });
  p.print();
  assert.equal(term.text, `${EraseLine}${MoveToStartOfLine}Transferred: 1\nElapsed time: 1`);
  term.text = '';
  block = 'Transferred: 2\nElapsed time: 2\nTransferring:';
  p.print();
  // Back up over the two lines drawn before, then draw three.
  assert.equal(term.text, `${EraseLine}${MoveUp}${EraseLine}${MoveToStartOfLine}Transferred: 2\nElapsed time: 2\nTransferring:`);
  term.text = '';
  p.print('2026/11/24 10:00:00 INFO  : a.txt: Copied (new)\n');
  assert.equal(
    term.text,
    `\n${MoveUp}${EraseLine}${MoveUp}${EraseLine}${MoveUp}${EraseLine}${MoveToStartOfLine}${EraseLine}` +
      `2026/11/24 10:00:00 INFO  : a.txt: Copied (new)\nTransferred: 2\nElapsed time: 2\nTransferring:`,
  );
  // Lines are cut to the terminal width.
  term.text = '';
  block = 'x'.repeat(50);
  p.print();
  assert.ok(term.text.endsWith(`${MoveToStartOfLine}${'x'.repeat(30)}`));
  term.text = '';
  p.stop();
  assert.ok(term.text.endsWith('\n'));

  // Not a terminal: no control codes at all.
  const plain = new FakeTerminal(80);
  plain.isTTY = false;
  const q = new ProgressDisplay(plain, () => 'Transferred: 3', { tty: false });
  q.print();
  q.print('a log line');
  q.stop();
  assert.doesNotMatch(plain.text, /\x1b/);
  assert.match(plain.text, /Transferred: 3\n\na log line\nTransferred: 3\n/);
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return runMain(['--config', '/dev/null', ...argv]);
}

test('--stats logs the block periodically at INFO; -P without a terminal prints plain blocks', async () => {
  const src = join(root, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(join(src, 'slow.bin'), Buffer.alloc(600_000, 5));
  // 600 kB at 1 MiB/s: about 0.6 s, several 150 ms ticks.
  const periodic = await cli('copy', src, join(root, 'dst1'), '--bwlimit', '1M', '--stats', '150ms', '-v');
  assert.equal(periodic.code, 0, periodic.err);
  const blocks = periodic.err.match(/INFO {2}: \nTransferred: {3}\t/g) ?? [];
  assert.ok(blocks.length >= 3, `periodic blocks plus the final one: ${periodic.err}`);
  assert.match(periodic.err, /Transferring:\n \* +slow\.bin: +\d+% \/585\.938Ki, /);

  const oneLine = await cli('copy', src, join(root, 'dst2'), '--bwlimit', '1M', '--stats', '150ms', '--stats-one-line', '-v');
  assert.match(oneLine.err, /INFO {2}: +\d+(\.\d+)? [KM]?i?B \/ 585\.938 KiB, \d+%, /);

  const quiet = await cli('copy', src, join(root, 'dst3'), '--stats', '100ms', '--bwlimit', '2M');
  assert.doesNotMatch(quiet.err, /Transferred:/, 'at the default level the INFO stats are not shown');

  const progress = await cli('copy', src, join(root, 'dst4'), '-P', '--bwlimit', '1M');
  assert.equal(progress.code, 0);
  assert.doesNotMatch(progress.out, /\x1b/);
  assert.ok((progress.out.match(/Transferred: {3}\t/g) ?? []).length >= 2, progress.out);
  assert.match(progress.out, /Transferred: +1 \/ 1, 100%\nElapsed time: +[\d.]+s\n/);
});
