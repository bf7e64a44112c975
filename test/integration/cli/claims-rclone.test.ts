// Claims in the code that cryptfs behaves "as rclone does", each run through
// cryptfs and the real rclone 1.60.1 (the oracle, required) with the same argv:
// the same exit code, stdout and stderr lines (timestamps cut off).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { obscure } from '../../../src/crypt/obscure.js';
import { describeRun, expectSuccess, rcloneSkipReason, runCryptfs, runRclone, type RunOptions, type RunResult } from '../../helpers/cli.js';

const skip = rcloneSkipReason(); // rclone is required: fails without it, unless --allow-skip

const work = mkdtempSync(join(tmpdir(), 'cryptfs-claims-'));
after(() => rmSync(work, { recursive: true, force: true }));
const store = join(work, 'store');
const src = join(work, 'src');
mkdirSync(store);
mkdirSync(join(src, 'sub'), { recursive: true });
writeFileSync(join(src, 'a.txt'), 'alpha\n');
writeFileSync(join(src, 'sub', 'b.txt'), 'beta\n');
const secrets = `password = ${obscure('claims one')}\npassword2 = ${obscure('claims two')}\n`;
const config = join(work, 'rclone.conf');
writeFileSync(
  config,
  `[sec]\ntype = crypt\nremote = ${store}\n${secrets}\n` +
    `[off]\ntype = crypt\nremote = ${join(work, 'off-store')}\nfilename_encryption = off\n${secrets}\n` +
    `[obf]\ntype = crypt\nremote = ${join(work, 'obf-store')}\nfilename_encryption = obfuscate\n${secrets}`,
);

before(async () => {
  if (skip) return;
  expectSuccess('rclone copy', await runRclone(['copy', src, 'sec:'], { config }));
  for (const remote of ['off', 'obf']) {
    expectSuccess('rclone copy', await runRclone(['copy', src, `${remote}:`], { config }));
    // Names that are not encrypted ones: no suffix, no rotation prefix.
    writeFileSync(join(work, `${remote}-store`, 'notenc.txt'), 'plain\n');
    writeFileSync(join(work, `${remote}-store`, 'nodot'), 'plain\n');
  }
});

/** stderr lines without the "2006/01/02 15:04:05 " stamp. */
function stderrLines(r: RunResult, keep: (line: string) => boolean = () => true): string[] {
  return r.stderr
    .split('\n')
    .map((l) => l.replace(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} /, ''))
    .filter((l) => l !== '' && keep(l));
}

/** Runs argv through both; `keep` picks the stderr lines compared (in any order when `anyOrder`). */
async function same(argv: string[], keep?: (line: string) => boolean, anyOrder = false, opts: RunOptions = { config }): Promise<RunResult> {
  const [ours, theirs] = await Promise.all([runCryptfs(argv, opts), runRclone(argv, opts)]);
  const what = `${argv.join(' ')}\n${describeRun('cryptfs', ours)}\n${describeRun('rclone', theirs)}`;
  assert.equal(ours.code, theirs.code, `exit codes: ${what}`);
  assert.equal(ours.stdout.toString(), theirs.stdout.toString(), `stdout: ${what}`);
  const lines = (r: RunResult) => (anyOrder ? stderrLines(r, keep).sort() : stderrLines(r, keep));
  assert.deepEqual(lines(ours), lines(theirs), `stderr: ${what}`);
  return ours;
}

test('a listing of a missing directory: "error listing: directory not found", "Failed to X with 2 errors", exit 3', { skip }, async () => {
  for (const target of ['sec:nope', join(work, 'nope')]) {
    for (const command of ['ls', 'lsl', 'lsd', 'lsf', 'size', 'cat', 'tree']) {
      const r = await same([command, target]);
      assert.equal(r.code, 3, `${command} ${target}`);
    }
  }
  // The wording checked once by hand, so a change in both would still be seen.
  const ls = await runCryptfs(['ls', 'sec:nope'], { config });
  assert.deepEqual(stderrLines(ls), ['ERROR : : error listing: directory not found', 'Failed to ls with 2 errors: last error was: directory not found']);
});

test('names that do not decrypt (off, obfuscate): rclone 1.60.1\'s "not an encrypted file - no ".bin" suffix"', { skip }, async () => {
  const skipping = (l: string) => l.includes('Skipping undecryptable');
  for (const remote of ['off', 'obf']) {
    const r = await same(['lsf', '-vv', `${remote}:`], skipping, true);
    const lines = stderrLines(r, skipping);
    assert.ok(lines.length >= 2, `${remote}: ${r.stderr}`);
    for (const line of lines) assert.match(line, /Skipping undecryptable file name: not an encrypted file - no "\.bin" suffix$/);
  }
});

test('duration flags: --min-age takes dates and says what Go says; --stats is a Go time.Duration (bare numbers refused)', { skip }, async () => {
  const usageLine = (l: string) => l.startsWith('Error:') || l.startsWith('Fatal error:');
  for (const value of ['3q', '2023-13-01', '2023-02-29', '2023/01/01', '2023-01-01x', '1.5.5', '2020-01-01', '2020-01-01 10:00:00', '1.5d', '1e3']) {
    await same(['lsf', src, '--min-age', value], usageLine);
    await same(['lsf', src, '--max-age', value], usageLine);
  }
  for (const value of ['5', '5q', '1d', '0', '1m30s']) {
    await same(['lsf', src, '--stats', value], usageLine);
    await same(['lsf', src, '--retries-sleep', value], usageLine);
  }
  const r = await runCryptfs(['lsf', src, '--stats', '5'], { config });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Fatal error: invalid argument "5" for "--stats" flag: time: missing unit in duration "5"/);
});

test('a spec that does not parse or names no backend: "Failed to create file system for SPEC: …" as rclone prints it', { skip }, async () => {
  for (const spec of ['sec,:', ':nosuch:', ':nosuch,a=b:x', '']) {
    const r = await same(['lsf', spec]);
    assert.equal(r.code, 1, spec);
  }
  const r = await runCryptfs(['lsf', ':nosuch:'], { config });
  assert.deepEqual(stderrLines(r), ['Failed to create file system for ":nosuch:": didn\'t find backend called "nosuch"']);
});

test('a set but empty RCLONE_CONFIG_<REMOTE>_<OPTION> overrides the file: "password not set in config file", as rclone', { skip }, async () => {
  const r = await same(['lsf', 'sec:'], undefined, false, { config, env: { RCLONE_CONFIG_SEC_PASSWORD: '' } });
  assert.equal(r.code, 1);
  assert.deepEqual(stderrLines(r), ['Failed to create file system for "sec:": password not set in config file']);
});
