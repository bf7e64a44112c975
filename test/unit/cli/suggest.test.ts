// "Did you mean this?" for mistyped commands and flags, and the root flags
// (--help/-h, --version/-V) that exit 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { didYouMeanText, editDistance, suggestFlags, suggestNames } from '../../../src/cli/suggest.js';
import type { FlagSpec } from '../../../src/cli/args.js';
import { runMain } from '../../helpers/run-main.js';

test('editDistance is Levenshtein, case-insensitive like cobra', () => {
  assert.equal(editDistance('lss', 'ls'), 1);
  assert.equal(editDistance('sycn', 'sync'), 2);
  assert.equal(editDistance('LS', 'ls'), 0);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

test('suggestNames: distance at most 2 or a prefix, in the order given (cobra\'s rule)', () => {
  const names = ['cat', 'check', 'copy', 'ls', 'lsd', 'lsf', 'lsjson', 'lsl', 'rmdir', 'rmdirs', 'sync'];
  assert.deepEqual(suggestNames('lss', names), ['ls', 'lsd', 'lsf', 'lsl']);
  assert.deepEqual(suggestNames('sycn', names), ['sync']);
  assert.deepEqual(suggestNames('rmdri', names), ['rmdir', 'rmdirs']);
  assert.deepEqual(suggestNames('lsj', names), ['ls', 'lsd', 'lsf', 'lsjson', 'lsl']);
  assert.deepEqual(suggestNames('xyzzy', names), []);
  assert.deepEqual(suggestNames('', names), []);
});

test('suggestFlags offers visible long flags only', () => {
  const specs: FlagSpec[] = [
    { name: 'dry-run', type: 'bool', help: '' },
    { name: 'max-depth', type: 'int', help: '' },
    { name: 'dry-secret', type: 'bool', help: '', hidden: true },
  ];
  assert.deepEqual(suggestFlags('--dry-rn', specs), ['--dry-run']);
  assert.deepEqual(suggestFlags('--max-dept', specs), ['--max-depth']);
  assert.deepEqual(suggestFlags('--nothing-like-it', specs), []);
});

test('didYouMeanText is cobra\'s block, empty when nothing fits', () => {
  assert.equal(didYouMeanText(['ls', 'lsd']), '\nDid you mean this?\n\tls\n\tlsd\n');
  assert.equal(didYouMeanText([]), '');
});

test('an unknown command: cobra\'s message, the suggestions, exit 1', async () => {
  const r = await runMain(['lss']);
  assert.equal(r.code, 1);
  assert.ok(
    r.err.startsWith('Error: unknown command "lss" for "cryptfs"\n\nDid you mean this?\n\tls\n\tlsd\n\tlsf\n\tlsl\n\nRun \'cryptfs --help\' for usage.\n'),
    r.err,
  );
  const none = await runMain(['xyzzy']);
  assert.equal(none.code, 1);
  assert.ok(none.err.startsWith('Error: unknown command "xyzzy" for "cryptfs"\nRun \'cryptfs --help\' for usage.\n'), none.err);
});

test('an unknown flag: the Error line, then the closest flags, then the usage', async () => {
  const r = await runMain(['ls', '--dry-rn', '.']);
  assert.equal(r.code, 1);
  assert.ok(r.err.startsWith('Error: unknown flag: --dry-rn\n\nDid you mean this?\n\t--dry-run\n\nUsage:\n'), r.err);
  assert.match(r.err, /Fatal error: unknown flag: --dry-rn\n/);
  const root = await runMain(['--verbos']);
  assert.equal(root.code, 1);
  assert.match(root.err, /Did you mean this\?\n\t--verbose\n/);
});

test('--help/-h exit 0; --version/-V print what `version` prints and exit 0', async () => {
  for (const argv of [['--help'], ['-h'], ['help'], ['ls', '--help']]) {
    const r = await runMain(argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.err}`);
    assert.match(r.out, /Usage:/);
  }
  const version = await runMain(['version']);
  for (const flag of ['--version', '-V']) {
    const r = await runMain([flag]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, version.out);
    assert.match(r.out, /^cryptfs v\d/);
  }
  const afterCommand = await runMain(['ls', '--version']);
  assert.equal(afterCommand.code, 1, 'rclone knows --version at the root only');
});
