// check and cryptcheck on matching and damaged trees, local and crypt, with the
// real rclone (required) as the reference: its exit codes and messages on the same
// data (lines compared without timestamps, in sorted order). The cases without
// rclone are in test/unit/cli/check.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { rcloneSkipReason } from '../../helpers/cli.js';
import { root, fresh, cli, writeTree, logLines, corrupt, cipherFile, data, runRclone } from '../../helpers/check-trees.js';

const skip = rcloneSkipReason(); // rclone is required: fails without it, unless --allow-skip

test('check between local trees: matches, missing files, size and md5 differences, as rclone', { skip }, async () => {
  const a = fresh('a');
  const b = fresh('b');
  writeTree(a, { same: 'same content', 'd/diff': 'abc', onlysrc: 'x', sizediff: '1234' });
  writeTree(b, { same: 'same content', 'd/diff': 'abd', onlydst: 'y', sizediff: '12345' });
  const same = await cli('check', a, a);
  assert.equal(same.code, 0, same.err);
  assert.match(same.err, /NOTICE: Local file system at .*: 0 differences found/);
  assert.match(same.err, /NOTICE: Local file system at .*: 4 matching files/);

  const cases = [[], ['--one-way'], ['--size-only'], ['--download']];
  for (const flags of cases) {
    const ours = await cli('check', a, b, ...flags);
    assert.equal(ours.code, 1, `${flags}: ${ours.err}`);
    assert.match(ours.err, /ERROR : sizediff: sizes differ/);
    assert.match(ours.err, /ERROR : onlysrc: file not in Local file system at /);
    if (flags.length === 0) {
      assert.match(ours.err, /ERROR : d\/diff: md5 differ/);
      assert.match(ours.err, /NOTICE: Local file system at .*\/\d+-b: 4 differences found/);
      assert.match(ours.err, /NOTICE: Local file system at .*\/\d+-b: 1 matching files/);
      assert.match(ours.err, /Failed to check with 4 errors: last error was: 4 differences found/);
    }
    const theirs = runRclone('check', a, b, ...flags);
    assert.equal(ours.code, theirs.code, `exit code with ${flags}`);
    // --download: rclone logs no line for content differences; the counts still agree.
    assert.deepEqual(logLines(ours.err).filter((l) => !/files differ/.test(l)), logLines(theirs.err), `messages with ${flags}`);
  }
  const missing = await cli('check', join(root, 'nope'), a);
  assert.equal(missing.code, 3);
  assert.equal(runRclone('check', join(root, 'nope'), a).code, 3);
});


test('check against crypt: plaintext SHA-256 from sealed records without --download; --download reads both sides', { skip }, async () => {
  const src = fresh('src');
  writeTree(src, { 'small.txt': 'small', 'big.bin': data(200_000, 3) });
  assert.equal((await cli('sync', src, 'sec1:')).code, 0);
  const quick = await cli('check', src, 'sec1:');
  assert.equal(quick.code, 0, quick.err);
  assert.doesNotMatch(quick.err, /No common hash found/);
  assert.doesNotMatch(quick.err, /could not be checked/);
  assert.match(quick.err, /NOTICE: Encrypted drive 'sec1:': 2 matching files/);
  const full = await cli('check', src, 'sec1:', '--download');
  assert.equal(full.code, 0, full.err);
  assert.match(full.err, /Encrypted drive 'sec1:': 0 differences found/);
  assert.match(full.err, /Encrypted drive 'sec1:': 2 matching files/);

  // A changed source file of the same size: the sealed record's SHA-256 finds it with no download
  // (rclone, without hashes on crypt, sees it only with --download).
  writeTree(src, { 'small.txt': 'SMALL' });
  const quickChanged = await cli('check', src, 'sec1:');
  assert.equal(quickChanged.code, 1, quickChanged.err);
  assert.match(quickChanged.err, /ERROR : small\.txt: sha256 differ/);
  const changed = await cli('check', src, 'sec1:', '--download');
  assert.equal(changed.code, 1);
  assert.match(changed.err, /Failed to check: 1 differences found/);
  assert.equal(runRclone('check', src, 'sec1:').code, 0);
  assert.equal(runRclone('check', src, 'sec1:', '--download').code, 1);

  // An object rclone wrote has no record: sizes only for it, counted.
  // (small.txt is put back by cryptfs first: whether rclone would re-upload it too depends on
  // mtimes, and an rclone upload over a sealed local file leaves it unverifiable as well.)
  writeTree(src, { 'small.txt': 'small' });
  assert.equal((await cli('sync', src, 'sec1:')).code, 0);
  writeTree(src, { 'by-rclone.txt': 'rclone wrote this' });
  assert.equal(runRclone('copyto', join(src, 'by-rclone.txt'), 'sec1:by-rclone.txt').code, 0);
  const mixed = await cli('check', src, 'sec1:');
  assert.equal(mixed.code, 0, mixed.err);
  assert.match(mixed.err, /NOTICE: Encrypted drive 'sec1:': 1 hashes could not be checked/);
  writeTree(src, { 'by-rclone.txt': 'rclone wrote THIS' });
  assert.equal((await cli('check', src, 'sec1:')).code, 0, 'a file without a record is compared by size only');
  writeTree(src, { 'by-rclone.txt': 'rclone wrote this' });

  // Damaged ciphertext: the block fails to authenticate; both tools exit 1.
  writeTree(src, { 'small.txt': 'small' });
  corrupt(await cipherFile('sec1:', 'big.bin'), 32 + 65552 + 1000);
  const damaged = await cli('check', src, 'sec1:', '--download');
  assert.equal(damaged.code, 1);
  assert.match(damaged.err, /ERROR : big\.bin: failed to download: failed to authenticate decrypted block/);
  assert.equal(runRclone('check', src, 'sec1:', '--download').code, damaged.code);
});

test('cryptcheck re-encrypts with each file\'s nonce: agrees with rclone on good and damaged data', { skip }, async () => {
  const src = fresh('src');
  writeTree(src, { 'a.txt': 'alpha', 'dir/b.bin': data(150_000, 9), 'dir/empty': '' });
  assert.equal((await cli('sync', src, 'sec2:')).code, 0);
  const good = await cli('cryptcheck', src, 'sec2:', '-v');
  assert.equal(good.code, 0, good.err);
  assert.match(good.err, /INFO {2}: Using md5 for hash comparisons/);
  assert.match(good.err, /NOTICE: Encrypted drive 'sec2:': 0 differences found/);
  assert.match(good.err, /NOTICE: Encrypted drive 'sec2:': 3 matching files/);
  // rclone checks what cryptfs wrote…
  const theirsGood = runRclone('cryptcheck', src, 'sec2:');
  assert.equal(theirsGood.code, 0, theirsGood.err);
  assert.deepEqual(logLines(good.err), logLines(theirsGood.err));
  // …and cryptfs checks what rclone wrote.
  assert.equal(runRclone('sync', src, 'sec3:').code, 0);
  const ours = await cli('cryptcheck', src, 'sec3:');
  assert.equal(ours.code, 0, ours.err);

  // One byte flipped inside a chunk: the stored ciphertext no longer hashes the same.
  corrupt(await cipherFile('sec2:', 'dir/b.bin'), 32 + 65552 + 500);
  const bad = await cli('cryptcheck', src, 'sec2:');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /ERROR : dir\/b\.bin: hashes differ \(sec2:\) "[0-9a-f]{32}" vs \(local:.*\) "[0-9a-f]{32}"/);
  assert.match(bad.err, /NOTICE: Encrypted drive 'sec2:': 1 differences found/);
  assert.match(bad.err, /NOTICE: Encrypted drive 'sec2:': 2 matching files/);
  assert.match(bad.err, /Failed to cryptcheck: 1 differences found/);
  // A missing file on each side.
  writeTree(src, { 'new.txt': 'not yet synced' });
  fs.rmSync(await cipherFile('sec2:', 'a.txt'));
  const more = await cli('cryptcheck', src, 'sec2:');
  assert.equal(more.code, 1);
  assert.match(more.err, /ERROR : new\.txt: file not in Encrypted drive 'sec2:'/);
  assert.match(more.err, /ERROR : a\.txt: file not in Encrypted drive 'sec2:'/);
  const theirs = runRclone('cryptcheck', src, 'sec2:');
  assert.equal(theirs.code, more.code);
  // The same hashes and the same words: rclone's line, byte for byte.
  assert.deepEqual(logLines(more.err), logLines(theirs.err));
});

test('cryptcheck: not a crypt remote, no_data_encryption, a missing source', { skip }, async () => {
  const src = fresh('src');
  writeTree(src, { 'f.txt': 'plain data' });
  const notCrypt = await cli('cryptcheck', src, src);
  assert.equal(notCrypt.code, 1);
  assert.match(notCrypt.err, /Failed to cryptcheck: local:.* is not a crypt remote/);
  assert.equal(runRclone('cryptcheck', src, src).code, 1);

  assert.equal((await cli('sync', src, 'plain:')).code, 0);
  const ok = await cli('cryptcheck', src, 'plain:');
  assert.equal(ok.code, 0, ok.err);
  // The stored bytes are the plaintext: same size, different data.
  fs.writeFileSync(await cipherFile('plain:', 'f.txt'), 'plain DATA');
  const bad = await cli('cryptcheck', src, 'plain:');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /hashes differ/);
  assert.equal(runRclone('cryptcheck', src, 'plain:').code, 1);

  const gone = await cli('cryptcheck', join(root, 'nope'), 'sec4:');
  assert.equal(gone.code, 3);
  assert.equal(runRclone('cryptcheck', join(root, 'nope'), 'sec4:').code, 3);
});
