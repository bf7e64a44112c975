// sync, copy, move and moveto run in-process on temporary trees, over local
// disk and over a crypt remote on local disk; the real rclone (required) on the
// same trees is the reference. The cases without rclone are in test/unit/cli/sync.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { rcloneSkipReason } from '../../helpers/cli.js';
import { root, fresh, encDir, cli, writeTree, readTree, snapshot, cryptTree, runRclone } from '../../helpers/sync-trees.js';

const skip = rcloneSkipReason(); // rclone is required: fails without it, unless --allow-skip

test('sync to a crypt remote leaves unchanged ciphertext alone and rclone reads the result', { skip }, async () => {
  const src = fresh('src');
  writeTree(src, { 'one.txt': 'first file', 'dir/two.bin': Buffer.alloc(70_000, 1), 'dir/three.txt': 'three' }, 1_600_000_000);
  const first = await cli('sync', src, 'sec1:');
  assert.equal(first.code, 0, first.err);
  assert.deepEqual(await cryptTree('sec1:'), readTree(src));
  const before = snapshot(encDir('sec1'));

  const again = await cli('sync', src, 'sec1:', '-v');
  assert.equal(again.code, 0, again.err);
  assert.match(again.err, /There was nothing to transfer/);
  assert.deepEqual(snapshot(encDir('sec1')), before, 'no ciphertext file was rewritten (inode, mtime, nonce header)');

  // Change one file: only its ciphertext changes, with a fresh nonce.
  writeTree(src, { 'dir/three.txt': 'three, changed' });
  const third = await cli('sync', src, 'sec1:', '-v');
  assert.equal(third.code, 0, third.err);
  const afterChange = snapshot(encDir('sec1'));
  const changed = Object.keys(afterChange).filter((k) => afterChange[k] !== before[k]);
  assert.equal(changed.length, 1, `exactly one ciphertext rewritten: ${changed}`);
  assert.notEqual(afterChange[changed[0]].split(':')[3].slice(16), before[changed[0]].split(':')[3].slice(16), 'new nonce');
  assert.deepEqual(await cryptTree('sec1:'), readTree(src));

  const check = runRclone('check', src, 'sec1:', '--download');
  assert.equal(check.code, 0, check.err);
  const cryptcheck = runRclone('cryptcheck', src, 'sec1:');
  assert.equal(cryptcheck.code, 0, cryptcheck.err);
  assert.match(cryptcheck.err, /0 differences found/);
});

test('a transfer error stops the deletes, as rclone: exit code and messages agree', { skip }, async () => {
  const make = () => {
    const src = fresh('src');
    const dst = fresh('dst');
    writeTree(src, { x: 'a file', 'ok.txt': 'fine' });
    // A directory where the file should go: the copy of x fails.
    writeTree(dst, { 'x/inner.txt': 'in the way', 'stale.txt': 'must survive' });
    return { src, dst };
  };
  const ours = make();
  const r = await cli('sync', ours.src, ours.dst, '--retries', '2');
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /ERROR : x: Failed to copy: /);
  assert.match(r.err, /: not deleting files as there were IO errors/);
  assert.match(r.err, /: not deleting directories as there were IO errors/);
  assert.match(r.err, /ERROR : Attempt 1\/2 failed with 1 errors and: /);
  assert.match(r.err, /ERROR : Attempt 2\/2 failed with 1 errors and: /);
  assert.match(r.err, /Failed to sync: /);
  assert.equal(fs.readFileSync(join(ours.dst, 'stale.txt'), 'utf8'), 'must survive');
  assert.equal(fs.readFileSync(join(ours.dst, 'ok.txt'), 'utf8'), 'fine');

  // --delete-during deletes as it goes, errors or not.
  const during = make();
  const d = await cli('sync', during.src, during.dst, '--delete-during', '--retries', '1');
  assert.equal(d.code, 1);
  assert.equal(fs.existsSync(join(during.dst, 'stale.txt')), false);

  const theirs = make();
  const rr = runRclone('sync', theirs.src, theirs.dst, '--retries', '2');
  assert.equal(rr.code, r.code, rr.err);
  assert.deepEqual(readTree(theirs.dst), readTree(ours.dst));
});

test('a missing source exits 3 and deletes nothing', { skip }, async () => {
  const dst = fresh('dst');
  writeTree(dst, { 'keep.txt': 'keep' });
  const r = await cli('sync', join(root, 'does-not-exist'), dst, '--retries', '1');
  assert.equal(r.code, 3, r.err);
  assert.match(r.err, /error reading source root directory: directory not found/);
  assert.match(r.err, /Failed to sync: directory not found/);
  assert.ok(fs.existsSync(join(dst, 'keep.txt')));
  assert.equal(runRclone('sync', join(root, 'does-not-exist'), dst, '--retries', '1').code, 3);
});


test('filters: excluded files are neither copied nor deleted; --delete-excluded removes them; rclone agrees', { skip }, async () => {
  const files = {
    'keep.txt': 'keep',
    'skip.tmp': 'tmp',
    'logs/a.log': 'log',
    'logs/keep.txt': 'kept?',
    'photos/a.jpg': 'jpg',
    'photos/secret1.jpg': 'secret',
    'photos/b.png': 'png',
    'big.txt': Buffer.alloc(5000, 1),
  };
  const rules = join(root, 'filter-rules.txt');
  fs.writeFileSync(rules, '# comment\n- secret*.jpg\n+ *.jpg\n+ /keep.txt\n- *\n');
  const cases: string[][] = [
    ['--exclude', '*.tmp', '--exclude', 'logs/'],
    ['--include', '*.txt', '--max-size', '1k'],
    ['--filter-from', rules],
    ['--filter', '+ /photos/**', '--filter', '- *'],
    ['--exclude', '*.tmp', '--delete-excluded'],
  ];
  for (const flags of cases) {
    const src = fresh('src');
    const dst = fresh('dst');
    writeTree(src, files);
    writeTree(dst, { 'old.tmp': 'excluded on dst', 'gone.txt': 'not in src' });
    const r = await cli('sync', src, dst, ...flags);
    assert.equal(r.code, 0, `${flags}: ${r.err}`);
    const dst2 = fresh('dst-rclone');
    writeTree(dst2, { 'old.tmp': 'excluded on dst', 'gone.txt': 'not in src' });
    const rr = runRclone('sync', src, dst2, ...flags);
    assert.equal(rr.code, 0, rr.err);
    assert.deepEqual(readTree(dst), readTree(dst2), `same result as rclone for ${flags.join(' ')}`);
    if (flags[1] === '*.tmp' && flags.length === 4) {
      assert.deepEqual(Object.keys(readTree(dst)), ['big.txt', 'keep.txt', 'old.tmp', 'photos/a.jpg', 'photos/b.png', 'photos/secret1.jpg']);
    }
    if (flags.includes('--delete-excluded')) assert.equal(fs.existsSync(join(dst, 'old.tmp')), false);
    if (flags[0] === '--filter-from') {
      // "- *" keeps the destination's own files out of the sync: they are not deleted.
      assert.deepEqual(Object.keys(readTree(dst)), ['gone.txt', 'keep.txt', 'old.tmp', 'photos/a.jpg']);
    }
  }
  // A filter with a single-file source is refused, as rclone does.
  const src = fresh('src');
  writeTree(src, { 'f.txt': 'f' });
  const refused = await cli('copy', join(src, 'f.txt'), fresh('dst'), '--include', '*.txt');
  assert.notEqual(refused.code, 0);
  assert.match(refused.err, /Can't limit to single files when using filters/);
});

test('--dry-run changes nothing and logs what it would do', { skip }, async () => {
  const src = fresh('src');
  const dst = fresh('dst');
  writeTree(src, { 'new.txt': 'new', 'changed.txt': 'changed content', 'dir/emptyish/x.txt': 'x' }, 1_600_000_000);
  writeTree(dst, { 'changed.txt': 'old', 'extra.txt': 'extra', 'onlydst/sub/y.txt': 'y' });
  const before = snapshot(dst);
  const r = await cli('sync', src, dst, '--dry-run');
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(snapshot(dst), before);
  assert.match(r.err, /NOTICE: new\.txt: Skipped copy as --dry-run is set \(size 3\)/);
  assert.match(r.err, /NOTICE: changed\.txt: Skipped copy as --dry-run is set \(size 15\)/);
  assert.match(r.err, /NOTICE: extra\.txt: Skipped delete as --dry-run is set \(size 5\)/);
  assert.match(r.err, /NOTICE: onlydst\/sub: Skipped remove directory as --dry-run is set/);
  // The stats come at NOTICE level with --dry-run, counting what would have happened.
  assert.match(r.err, /NOTICE: \nTransferred: +\t +\d+ B \/ \d+ B, 100%/);
  assert.match(r.err, /Deleted: +2 \(files\), 2 \(dirs\)/);
  // Over crypt too.
  const encBefore = fs.existsSync(encDir('sec3')) ? snapshot(encDir('sec3')) : {};
  const c = await cli('sync', src, 'sec3:', '--dry-run');
  assert.equal(c.code, 0, c.err);
  assert.deepEqual(fs.existsSync(encDir('sec3')) ? snapshot(encDir('sec3')) : {}, encBefore);
  // -q hides the notices.
  const quiet = await cli('sync', src, dst, '--dry-run', '-q');
  assert.equal(quiet.err, '');
  const rr = runRclone('sync', src, dst, '--dry-run');
  const pick = (s: string) => s.split('\n').filter((l) => /Skipped/.test(l)).map((l) => l.replace(/^\S+ \S+ /, '')).sort();
  assert.deepEqual(pick(r.err), pick(rr.err));
});


test('move: server-side on the same remote, copy then delete across remotes; moveto renames', { skip }, async () => {
  const src = fresh('src');
  const dst = fresh('dst');
  writeTree(src, { 'a.txt': 'a', 'd/b.txt': 'b', 'd/e/c.txt': 'c' });
  const inode = fs.statSync(join(src, 'd/b.txt')).ino;
  const r = await cli('move', src, dst, '-v', '--delete-empty-src-dirs');
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /d\/b\.txt: Moved \(server-side\)/);
  assert.equal(fs.statSync(join(dst, 'd/b.txt')).ino, inode, 'renamed, not copied');
  assert.deepEqual(readTree(dst), { 'a.txt': 'a', 'd/b.txt': 'b', 'd/e/c.txt': 'c' });
  assert.deepEqual(fs.readdirSync(src), [], 'source emptied; the root itself stays');

  // Local → crypt: copied, verified, then the source deleted.
  const src2 = fresh('src');
  writeTree(src2, { 'x.txt': 'x content', 'sub/y.txt': 'y content' });
  const toCrypt = await cli('move', src2, 'sec4:moved', '-v');
  assert.equal(toCrypt.code, 0, toCrypt.err);
  assert.match(toCrypt.err, /x\.txt: Copied \(new\)/);
  assert.match(toCrypt.err, /x\.txt: Deleted/);
  assert.deepEqual(readTree(src2), {});
  assert.deepEqual(await cryptTree('sec4:moved/'), { 'x.txt': 'x content', 'sub/y.txt': 'y content' });

  // moveto inside the crypt remote: a server-side rename of the ciphertext.
  const before = Object.values(snapshot(encDir('sec4'))).filter((v) => v !== 'dir').sort();
  const mt = await cli('moveto', 'sec4:moved/x.txt', 'sec4:renamed/x2.txt', '-v');
  assert.equal(mt.code, 0, mt.err);
  assert.match(mt.err, /x\.txt: Moved \(server-side\) to: x2\.txt/);
  assert.deepEqual(Object.values(snapshot(encDir('sec4'))).filter((v) => v !== 'dir').sort(), before);
  assert.equal((await cli('cat', 'sec4:renamed/x2.txt')).out, 'x content');
  assert.equal(runRclone('cat', 'sec4:renamed/x2.txt').out, 'x content');

  // moveto of a file onto an identical one just deletes the source.
  const src3 = fresh('src');
  writeTree(src3, { 'same.txt': 'same' }, 1_600_000_000);
  writeTree(dst, { 'same.txt': 'same' }, 1_600_000_000);
  const dup = await cli('moveto', join(src3, 'same.txt'), join(dst, 'same.txt'), '-v');
  assert.equal(dup.code, 0, dup.err);
  assert.match(dup.err, /same\.txt: Deleted/);
  assert.equal(fs.existsSync(join(src3, 'same.txt')), false);
  // --dry-run moves nothing.
  writeTree(src3, { 'm.txt': 'm' });
  const dry = await cli('move', src3, dst, '--dry-run');
  assert.match(dry.err, /m\.txt: Skipped move as --dry-run is set \(size 1\)/);
  assert.ok(fs.existsSync(join(src3, 'm.txt')));
});


test('usage errors: a one-line message, the usage, and rclone\'s exit code', { skip }, async () => {
  const src = fresh('src');
  const cases: [string[], RegExp, boolean][] = [
    [['sync', src], /Command sync needs 2 arguments minimum: you provided 1 non flag arguments/, true],
    [['sync', src, src, src], /Command sync needs 2 arguments maximum/, true],
    [['sync', src, src, '--min-size', '10x'], /Fatal error: invalid argument "10x" for "--min-size" flag: bad suffix 'x'/, true],
    [['sync', src, src, '--stats', 'soon'], /invalid argument "soon" for "--stats" flag: time: invalid duration "soon"/, true],
    [['move', src, src, '--bwlimit', '1kb'], /invalid argument "1kb" for "--bwlimit" flag: strconv\.ParseFloat: parsing "1k": invalid syntax/, true],
    [['sync', src, src, '--delete-before', '--delete-after'], /Only one of --delete-before, --delete-during or --delete-after can be used\./, false],
    [['sync', src, src, '--include', '{a,{b}}'], /Failed to load filters: can't nest '\{' '\}' in glob "\{a,\{b\}\}"/, false],
    [['check', src, src, '--filter', 'x'], /Failed to load filters: malformed rule "x"/, false],
  ];
  for (const [argv, message, usage] of cases) {
    const r = await cli(...argv);
    assert.equal(r.code, 1, argv.join(' '));
    assert.match(r.err, message, argv.join(' '));
    if (usage) assert.match(r.err, new RegExp(`Usage:\\n  cryptfs ${argv[0]} source:path dest:path \\[flags\\]`));
    else assert.doesNotMatch(r.err, /Usage:/);
    assert.equal(runRclone(...argv).code, r.code, `rclone ${argv.join(' ')}`);
  }
});

test('sync or move of a tree into itself is refused with a fatal error (exit 7), unless filtered out', { skip }, async () => {
  const dir = fresh('overlap');
  writeTree(dir, { 'a.txt': 'a', 'sub/b.txt': 'b' });
  for (const argv of [['sync', dir, join(dir, 'sub')], ['move', dir, join(dir, 'sub')], ['sync', dir, dir], ['sync', join(dir, 'sub'), dir]]) {
    const r = await cli(...argv);
    assert.equal(r.code, 7, argv.join(' '));
    assert.match(r.err, /ERROR : Fatal error received - not attempting retries/);
    assert.match(r.err, /Failed to (sync|move): can't sync or move files on overlapping remotes/);
    assert.equal(runRclone(...argv).code, 7, `rclone ${argv.join(' ')}`);
  }
  assert.deepEqual(readTree(dir), { 'a.txt': 'a', 'sub/b.txt': 'b' });
  const filtered = await cli('sync', dir, join(dir, 'sub'), '--exclude', '/sub/**');
  assert.equal(filtered.code, 0, filtered.err);
  assert.equal(fs.readFileSync(join(dir, 'sub/a.txt'), 'utf8'), 'a');
});

test('--checksum, --size-only, --ignore-times, --update, --ignore-existing decide like rclone', { skip }, async () => {
  // Same size and mtime, different bytes: only a hash comparison notices.
  const make = () => {
    const src = fresh('src');
    const dst = fresh('dst');
    writeTree(src, { 'f.txt': 'new!', 'newer-on-dst.txt': 'src' }, 1_600_000_000);
    writeTree(dst, { 'f.txt': 'old!' }, 1_600_000_000);
    writeTree(dst, { 'newer-on-dst.txt': 'dst' }, 1_700_000_000);
    return { src, dst };
  };
  const outcomes: Record<string, Record<string, string>> = {};
  for (const flags of [[], ['--checksum'], ['--size-only'], ['--ignore-times'], ['--update'], ['--ignore-existing']]) {
    const { src, dst } = make();
    const r = await cli('copy', src, dst, ...flags);
    assert.equal(r.code, 0, r.err);
    outcomes[flags.join(' ') || 'default'] = readTree(dst);
    const t = make();
    assert.equal(runRclone('copy', t.src, t.dst, ...flags).code, 0);
    assert.deepEqual(readTree(t.dst), readTree(dst), `same decisions as rclone with ${flags}`);
  }
  assert.equal(outcomes.default['f.txt'], 'old!', 'size and mtime equal: skipped');
  assert.equal(outcomes['--checksum']['f.txt'], 'new!', 'md5 differs: copied');
  assert.equal(outcomes['--ignore-times']['f.txt'], 'new!');
  assert.equal(outcomes['--update']['newer-on-dst.txt'], 'dst');
  assert.equal(outcomes.default['newer-on-dst.txt'], 'src');
  assert.equal(outcomes['--ignore-existing']['newer-on-dst.txt'], 'dst');
  // Crypt states the plaintext hashes in its sealed records: --checksum really compares checksums (SHA-256)
  // (rclone has no hash on crypt and falls back to sizes, so it would skip the changed file).
  const src = fresh('src');
  writeTree(src, { 'x.txt': 'x' }, 1_600_000_000);
  const c = await cli('sync', src, 'sec6:', '--checksum');
  assert.equal(c.code, 0);
  assert.doesNotMatch(c.err, /no hashes in common/);
  writeTree(src, { 'x.txt': 'y' }, 1_600_000_000);
  const again = await cli('sync', src, 'sec6:', '--checksum', '-v');
  assert.equal(again.code, 0, again.err);
  assert.match(again.err, /x\.txt: Copied \(replaced existing\)/);
  assert.equal((await cli('cat', 'sec6:x.txt')).out, 'y');
  // An object rclone wrote has no record: sizes decide for it, and it is counted.
  assert.equal(runRclone('copyto', '--ignore-times', join(src, 'x.txt'), 'sec6:x.txt').code, 0);
  const unsealed = await cli('sync', src, 'sec6:', '--checksum');
  assert.equal(unsealed.code, 0, unsealed.err);
  assert.match(unsealed.err, /NOTICE: 1 file was compared by size only: no hash for it on one side/);
});
