// The same command lines through cryptfs and the real rclone (1.60): exit codes
// and the lines a user reads (Error/NOTICE/ERROR/Failed) must agree. rclone is the
// oracle here, so a missing rclone fails these tests instead of skipping them.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeRun, rcloneAvailable, rcloneBinary, runCryptfs, runRclone, type RunOptions, type RunResult } from '../../helpers/cli.js';
import { obscure } from '../../../src/crypt/obscure.js';

const work = mkdtempSync(join(tmpdir(), 'cryptfs-parity-'));
process.once('exit', () => rmSync(work, { recursive: true, force: true }));
mkdirSync(join(work, 'base'));
mkdirSync(join(work, 'cwd'));
const cryptConfig = join(work, 'crypt.conf');
writeFileSync(cryptConfig, `[allas-crypt]\ntype = crypt\nremote = ${join(work, 'base')}\npassword = ${obscure('parity secret')}\n`);

before(() => {
  if (!rcloneAvailable()) throw new Error(`rclone (${rcloneBinary()}) cannot be run: the parity tests need it as their oracle`);
});

interface Pair {
  rclone: RunResult;
  cryptfs: RunResult;
}

async function both(argv: string[], opts: RunOptions = {}): Promise<Pair> {
  const [rclone, cryptfs] = await Promise.all([runRclone(argv, opts), runCryptfs(argv, opts)]);
  return { rclone, cryptfs };
}

/** stderr lines without log timestamps, rclone's program name read as ours. */
function lines(r: RunResult, program: 'rclone' | 'cryptfs'): string[] {
  return r.stderr
    .split('\n')
    .map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, ''))
    .map((l) => (program === 'rclone' ? l.replace(/\brclone\b/g, 'cryptfs') : l));
}

/** The first stderr line starting with `prefix`, or a failure naming the run. */
function lineStarting(r: RunResult, program: 'rclone' | 'cryptfs', prefix: string): string {
  const found = lines(r, program).find((l) => l.startsWith(prefix));
  assert.ok(found !== undefined, `no line starting ${JSON.stringify(prefix)}\n${describeRun(program, r)}`);
  return found;
}

function sameExit(p: Pair, expected: number): void {
  assert.equal(p.rclone.code, expected, describeRun('rclone', p.rclone));
  assert.equal(p.cryptfs.code, expected, describeRun('cryptfs', p.cryptfs));
}

/** The "Did you mean this?" block: the tab-indented names after it, up to the blank line. */
function suggestions(r: RunResult): string[] {
  const text = r.stderr;
  const at = text.indexOf('Did you mean this?\n');
  if (at < 0) return [];
  const out: string[] = [];
  for (const l of text.slice(at).split('\n').slice(1)) {
    if (!l.startsWith('\t')) break;
    out.push(l.slice(1));
  }
  return out;
}

for (const argv of [['--help'], ['-h'], ['help'], ['help', 'ls'], ['ls', '--help']]) {
  test(`${argv.join(' ')}: help on stdout, exit 0 as rclone`, async () => {
    const p = await both(argv);
    sameExit(p, 0);
    assert.match(p.cryptfs.stdout.toString(), /Usage:/);
  });
}

for (const flag of ['--version', '-V']) {
  test(`${flag}: prints the version like the version command, exit 0 as rclone`, async () => {
    const p = await both([flag]);
    sameExit(p, 0);
    assert.match(p.rclone.stdout.toString(), /^rclone v/);
    const version = await runCryptfs(['version']);
    assert.equal(p.cryptfs.stdout.toString(), version.stdout.toString());
    assert.match(p.cryptfs.stdout.toString(), /^cryptfs v\d/);
  });
}

test('ls --version: a root-only flag is unknown after a command, in both', async () => {
  const p = await both(['ls', '--version']);
  sameExit(p, 1);
  assert.equal(lineStarting(p.cryptfs, 'cryptfs', 'Error:'), lineStarting(p.rclone, 'rclone', 'Error:'));
});

for (const [typed, expected] of [
  ['lss', ['ls', 'lsd', 'lsf', 'lsl']],
  ['sycn', ['sync']],
  ['xyz', []],
] as const) {
  test(`unknown command "${typed}": rclone's Error line, exit code and suggestions`, async () => {
    const p = await both([typed]);
    sameExit(p, 1);
    assert.equal(lineStarting(p.cryptfs, 'cryptfs', 'Error:'), lineStarting(p.rclone, 'rclone', 'Error:'));
    assert.equal(lineStarting(p.cryptfs, 'cryptfs', 'Fatal error:'), lineStarting(p.rclone, 'rclone', 'Fatal error:'));
    assert.deepEqual(suggestions(p.rclone), expected, describeRun('rclone', p.rclone));
    assert.deepEqual(suggestions(p.cryptfs), expected, describeRun('cryptfs', p.cryptfs));
    assert.ok(lines(p.cryptfs, 'cryptfs').includes("Run 'cryptfs --help' for usage."));
  });
}

test('unknown flag: rclone\'s Error and Fatal lines and exit code; cryptfs adds the closest flag', async () => {
  for (const argv of [['ls', '--dry-rn', work], ['--nosuch']]) {
    const p = await both(argv);
    sameExit(p, 1);
    assert.equal(lineStarting(p.cryptfs, 'cryptfs', 'Error:'), lineStarting(p.rclone, 'rclone', 'Error:'));
    assert.equal(lineStarting(p.cryptfs, 'cryptfs', 'Fatal error:'), lineStarting(p.rclone, 'rclone', 'Fatal error:'));
  }
  const typo = await runCryptfs(['ls', '--dry-rn', work]);
  assert.deepEqual(suggestions(typo), ['--dry-run']);
});

test('a remote missing from the config: the Failed line names the spec and the remote', async () => {
  for (const argv of [['ls', 'nosuch:'], ['cat', 'nosuch:x']]) {
    const p = await both(argv);
    sameExit(p, 1);
    const theirs = lineStarting(p.rclone, 'rclone', 'Failed to create file system for');
    assert.equal(theirs, `Failed to create file system for ${JSON.stringify(argv[1])}: didn't find section in config file`);
    assert.equal(lineStarting(p.cryptfs, 'cryptfs', 'Failed to'), `${theirs} ("nosuch")`);
  }
});

test('a configured remote given without its colon: rclone\'s NOTICE, word for word', async () => {
  const p = await both(['ls', 'allas-crypt'], { config: cryptConfig, cwd: join(work, 'cwd') });
  sameExit(p, 3);
  const notice = lineStarting(p.rclone, 'rclone', 'NOTICE:');
  assert.equal(notice, 'NOTICE: "allas-crypt" refers to a local folder, use "allas-crypt:" to refer to your remote or "./allas-crypt" to hide this warning');
  assert.equal(lineStarting(p.cryptfs, 'cryptfs', 'NOTICE:'), notice);
  // `./name` silences it in both.
  const quiet = await both(['ls', './allas-crypt'], { config: cryptConfig, cwd: join(work, 'cwd') });
  sameExit(quiet, 3);
  assert.ok(!quiet.rclone.stderr.includes('NOTICE'), describeRun('rclone', quiet.rclone));
  assert.ok(!quiet.cryptfs.stderr.includes('NOTICE'), describeRun('cryptfs', quiet.cryptfs));
});

test('cat of a missing file: exit 3 and rclone\'s ERROR and Failed lines, word for word', async () => {
  const cases: [string[], RunOptions][] = [
    [['cat', join(work, 'no-such-file.txt')], {}],
    [['cat', 'allas-crypt:no-such-file.txt'], { config: cryptConfig }],
    [['cat', 'allas-crypt:no-dir/no-such-file.txt'], { config: cryptConfig }],
  ];
  for (const [argv, opts] of cases) {
    const p = await both(argv, opts);
    sameExit(p, 3);
    for (const prefix of ['ERROR : : error listing:', 'Failed to cat']) {
      const theirs = lineStarting(p.rclone, 'rclone', prefix);
      const ours = lineStarting(p.cryptfs, 'cryptfs', prefix);
      assert.equal(ours, theirs, `${argv.join(' ')}\n rclone: ${theirs}\ncryptfs: ${ours}`);
    }
    assert.equal(p.cryptfs.stdout.length, 0);
  }
});
