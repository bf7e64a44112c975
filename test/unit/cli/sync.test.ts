// sync, copy, move and moveto run in-process on temporary trees, over local
// disk and over a crypt remote on local disk. The cases compared with the real
// rclone are in test/integration/cli/sync-rclone.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { fresh, encDir, cli, writeTree, readTree, snapshot, cryptTree, lines, lastIndex } from '../../helpers/sync-trees.js';

test('sync local→local copies new and changed files, deletes extras after the transfers, skips unchanged', async () => {
  const src = fresh('src');
  const dst = fresh('dst');
  writeTree(src, { 'a.txt': 'alpha', 'd/b.bin': Buffer.alloc(100_000, 7), 'd/e/c.txt': 'charlie' }, 1_600_000_000);
  writeTree(dst, { 'stale.txt': 'old', 'd/old.bin': 'old bin' });
  const first = await cli('sync', src, dst, '-v');
  assert.equal(first.code, 0, first.err);
  assert.deepEqual(readTree(dst), readTree(src));
  assert.match(first.err, /INFO {2}: stale\.txt: Deleted/);
  assert.match(first.err, /INFO {2}: d\/b\.bin: Copied \(new\)/);
  assert.match(first.err, /Transferred: +3 \/ 3, 100%/);
  assert.match(first.err, /Deleted: +2 \(files\), 0 \(dirs\)/);
  // Deletes come after every copy (rclone's --delete-after default).
  const order = lines(first, /: (Copied|Deleted)/);
  assert.ok(order.findIndex((l) => /Deleted/.test(l)) > lastIndex(order, /Copied/), order.join('\n'));

  const before = snapshot(dst);
  writeTree(src, { 'd/e/c.txt': 'charlie, longer now', 'new.txt': 'new' });
  fs.rmSync(join(src, 'd/b.bin'));
  const second = await cli('sync', src, dst, '-v');
  assert.equal(second.code, 0, second.err);
  assert.deepEqual(readTree(dst), readTree(src));
  const after = snapshot(dst);
  // a.txt matched by size and mtime: not rewritten (same inode, mtime, bytes).
  assert.equal(after['a.txt'], before['a.txt']);
  assert.match(second.err, /d\/e\/c\.txt: Copied \(replaced existing\)/);
  assert.match(second.err, /new\.txt: Copied \(new\)/);
  assert.match(second.err, /d\/b\.bin: Deleted/);
  assert.doesNotMatch(second.err, /a\.txt: Copied/);

  // Same contents, newer mtime: local has md5, so only the mtime is fixed, no copy.
  fs.utimesSync(join(src, 'a.txt'), 1_700_000_000, 1_700_000_000);
  const third = await cli('sync', src, dst, '-v');
  assert.equal(third.code, 0);
  assert.match(third.err, /a\.txt: Updated modification time in destination/);
  assert.match(third.err, /There was nothing to transfer/);
  assert.equal(fs.statSync(join(dst, 'a.txt')).ino, Number(before['a.txt'].split(':')[0]));
  assert.equal(fs.statSync(join(dst, 'a.txt')).mtimeMs, 1_700_000_000_000);
});




test('renames are a delete and a copy, or a server-side move with --track-renames', async () => {
  const src = fresh('src');
  const dst = fresh('dst');
  writeTree(src, { 'old-name.txt': 'renamed content', 'other.txt': 'other' }, 1_600_000_000);
  assert.equal((await cli('sync', src, dst)).code, 0);
  fs.renameSync(join(src, 'old-name.txt'), join(src, 'new-name.txt'));
  const plain = await cli('sync', src, dst, '-v');
  assert.equal(plain.code, 0, plain.err);
  assert.match(plain.err, /new-name\.txt: Copied \(new\)/);
  assert.match(plain.err, /old-name\.txt: Deleted/);
  assert.deepEqual(readTree(dst), readTree(src));

  // --track-renames on local disk: the destination file is moved (same inode), nothing copied.
  fs.renameSync(join(src, 'new-name.txt'), join(src, 'third-name.txt'));
  const inode = fs.statSync(join(dst, 'new-name.txt')).ino;
  const tracked = await cli('sync', src, dst, '-v', '--track-renames');
  assert.equal(tracked.code, 0, tracked.err);
  assert.match(tracked.err, /new-name\.txt: Moved \(server-side\) to: third-name\.txt/);
  assert.match(tracked.err, /Renamed: +1/);
  assert.doesNotMatch(tracked.err, /Copied/);
  assert.equal(fs.statSync(join(dst, 'third-name.txt')).ino, inode);
  assert.deepEqual(readTree(dst), readTree(src));

  // Over crypt the sealed records state the plaintext md5 (rclone's crypt has no hash and
  // ignores --track-renames there): the rename is found and moved server-side, and re-sealed.
  assert.equal((await cli('sync', src, 'sec2:')).code, 0);
  fs.renameSync(join(src, 'third-name.txt'), join(src, 'fourth-name.txt'));
  const byHash = await cli('sync', src, 'sec2:', '-v', '--track-renames');
  assert.equal(byHash.code, 0, byHash.err);
  assert.doesNotMatch(byHash.err, /common hash/);
  assert.match(byHash.err, /third-name\.txt: Moved \(server-side\) to: fourth-name\.txt/);
  assert.doesNotMatch(byHash.err, /Copied/);
  fs.renameSync(join(src, 'fourth-name.txt'), join(src, 'fifth-name.txt'));
  const beforeEnc = snapshot(encDir('sec2'));
  const byTime = await cli('sync', src, 'sec2:', '-v', '--track-renames', '--track-renames-strategy', 'modtime');
  assert.equal(byTime.code, 0, byTime.err);
  assert.match(byTime.err, /fourth-name\.txt: Moved \(server-side\) to: fifth-name\.txt/);
  const afterEnc = snapshot(encDir('sec2'));
  // The ciphertext was renamed, not rewritten: the same inode and nonce under a new name.
  assert.deepEqual(Object.values(afterEnc).sort(), Object.values(beforeEnc).sort());
  assert.deepEqual(await cryptTree('sec2:'), readTree(src));
});



test('--create-empty-src-dirs, --delete-before, and empty destination directories', async () => {
  const src = fresh('src');
  const dst = fresh('dst');
  fs.mkdirSync(join(src, 'empty/deeper'), { recursive: true });
  writeTree(src, { 'f.txt': 'f' });
  writeTree(dst, { 'onlydst/z.txt': 'z', 'gone.txt': 'gone' });
  const r = await cli('sync', src, dst, '--create-empty-src-dirs', '--delete-before', '-v');
  assert.equal(r.code, 0, r.err);
  assert.ok(fs.statSync(join(dst, 'empty/deeper')).isDirectory());
  assert.equal(fs.existsSync(join(dst, 'onlydst')), false, 'a destination-only directory is removed once empty');
  assert.deepEqual(readTree(dst), { 'f.txt': 'f' });
  // Deletes before the copies with --delete-before.
  const order = lines(r, /: (Copied|Deleted)/);
  assert.ok(lastIndex(order, /Deleted/) < order.findIndex((l) => /Copied/.test(l)), order.join('\n'));
  const both = await cli('sync', src, dst, '--delete-before', '--delete-during');
  assert.equal(both.code, 1);
});


test('copy and copyto still work; --error-on-no-transfer exits 9 when nothing moved', async () => {
  const src = fresh('src');
  const dst = fresh('dst');
  writeTree(src, { 'one.txt': 'one', 'dir/two.txt': 'two' });
  writeTree(dst, { 'extra.txt': 'stays' });
  const c = await cli('copy', src, dst);
  assert.equal(c.code, 0, c.err);
  assert.deepEqual(readTree(dst), { 'dir/two.txt': 'two', 'extra.txt': 'stays', 'one.txt': 'one' });
  const none = await cli('copy', src, dst, '--error-on-no-transfer');
  assert.equal(none.code, 9);
  const single = await cli('copy', join(src, 'one.txt'), 'sec5:');
  assert.equal(single.code, 0, single.err);
  const to = await cli('copyto', join(src, 'dir/two.txt'), 'sec5:renamed.txt', '-v');
  assert.equal(to.code, 0, to.err);
  assert.match(to.err, /two\.txt: Copied \(new\) to: renamed\.txt/);
  assert.deepEqual(await cryptTree('sec5:'), { 'one.txt': 'one', 'renamed.txt': 'two' });
  // --transfers 1 and --checkers 1 still finish (no deadlock between the pools).
  const dst2 = fresh('dst');
  const serial = await cli('sync', src, dst2, '--transfers', '1', '--checkers', '1');
  assert.equal(serial.code, 0, serial.err);
  assert.deepEqual(readTree(dst2), readTree(src));
});



