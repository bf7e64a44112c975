// The workloads of issue 5 through a real `cryptfs mount`, as one suite run
// against several crypt remotes (over a local directory, over Swift, over
// S3): git, sqlite3, tar with unicode names, mv of a directory whose uploads
// are in flight, random-offset writes, rm -r; then the real rclone reads
// everything back. The daemon is a child process; all file operations run in
// further child processes, never in the test's event loop.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CryptFixture, forceStop, isMounted, sh, startMount, type Mounted } from './mount-helpers.js';
import { pollUntil } from '../../helpers/poll.js';

/** Makes a tree with unicode names (NFC and NFD forms, CJK, emoji, spaces) and chunk-boundary sizes. */
const MAKE_TREE = String.raw`
import os, random, sys
root = sys.argv[1]
random.seed(int(sys.argv[2]))
names = ['café.txt', 'cafe\u0301.txt', '日本語のファイル', 'emoji 🎉 file', 'with space.bin',
         'Ünïcödé', 'ελληνικά', 'кириллица.dat', 'x' * 100, '.hidden']
sizes = [0, 1, 65535, 65536, 65537, 131072 + 7, 300000]
for d in ['', 'dir ü', 'dir ü/子ディレクトリ', 'deep/er/est', 'empty dir']:
    os.makedirs(os.path.join(root, d), exist_ok=True)
    if d == 'empty dir':
        continue
    for n in names:
        with open(os.path.join(root, d, n), 'wb') as f:
            f.write(random.randbytes(random.choice(sizes)))
`;

/** 300 random pwrites (some past the end) and a truncate on a 5 MB file; the expected bytes go to a second file. */
const RANDOM_WRITES = String.raw`
import os, random, sys
path, expected = sys.argv[1], sys.argv[2]
random.seed(int(sys.argv[3]))
data = bytearray(random.randbytes(5 * 1024 * 1024))
with open(path, 'wb') as f:
    f.write(data)
fd = os.open(path, os.O_RDWR)
for i in range(300):
    off = random.randrange(0, len(data) + 50000)
    buf = random.randbytes(random.randrange(1, 100000))
    os.pwrite(fd, buf, off)
    if off > len(data):
        data.extend(b'\0' * (off - len(data)))
    data[off:off + len(buf)] = buf
    if i == 150:
        os.ftruncate(fd, 4 * 1024 * 1024 + 123)
        del data[4 * 1024 * 1024 + 123:]
    if i % 50 == 0:
        assert os.pread(fd, 1000, off) == bytes(data[off:off + 1000])
os.fsync(fd)
os.close(fd)
with open(expected, 'wb') as f:
    f.write(data)
`;

const RENAME_NOREPLACE = String.raw`
import ctypes, os, sys, errno
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
r = libc.renameat2(AT_FDCWD, sys.argv[1].encode(), AT_FDCWD, sys.argv[2].encode(), 1)
print(errno.errorcode.get(ctypes.get_errno(), 'OK') if r != 0 else 'OK')
`;

/**
 * The suite on the crypt remote `makeFixture` sets up. `local` adds the checks
 * that need a local remote directory (statfs name length of crypt over local).
 */
export function workloadSuite(
  title: string,
  makeFixture: () => Promise<CryptFixture>,
  options: { skip?: string | false; local?: boolean } = {},
): void {
  describe(title, { skip: options.skip }, () => {
    let fx: CryptFixture;
    let m: Mounted | undefined;
    let M: string;
    let T: string;
    const seed = String(Math.floor(Math.random() * 1e9));
    const run = (script: string, timeoutMs?: number) => sh(script, { M, T, SEED: seed }, timeoutMs);
    const ok = async (script: string, timeoutMs?: number) => {
      const r = await run(script, timeoutMs);
      assert.equal(r.code, 0, `script failed (${r.code}):\n${script}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-4000)}\nlog: ${(await m?.log())?.slice(-4000)}`);
      return r.stdout;
    };

    before(async () => {
      fx = await makeFixture();
      T = fx.root;
      M = join(fx.root, 'mnt');
      // A short write-back, so that uploads are in flight while later commands run.
      m = await startMount(fx, M, ['--vfs-cache-mode', 'writes', '--vfs-write-back', '100ms']);
    });

    after(async () => {
      await forceStop(m);
      await fx?.cleanup();
    });

    it('git init, 30 commits, git fsck', async () => {
      const out = await ok(
        `cd "$M" && mkdir repo && cd repo && git init -q
         for i in $(seq 1 30); do
           echo "line $i" >> file.txt
           head -c $((RANDOM * 7)) /dev/urandom > "blob$((i % 7)).bin"
           git add -A
           git -c user.name=t -c user.email=t@example.org commit -qm "commit $i"
         done
         git fsck --full --strict
         git log --oneline | wc -l`,
        150_000,
      );
      assert.equal(out.trim(), '30');
    });

    it('sqlite3 inserts 5,000 rows in 10 transactions; integrity_check ok', async () => {
      const sql = ['create table t(id integer primary key, v text, n integer);'];
      for (let tx = 0; tx < 10; tx++) {
        sql.push('begin;');
        for (let i = 0; i < 500; i++) sql.push(`insert into t(v, n) values('row ${tx}-${i} ${'z'.repeat(i % 50)}', ${tx * 500 + i});`);
        sql.push('commit;');
      }
      sql.push('pragma integrity_check;', 'select count(*), sum(n) from t;');
      await writeFile(join(T, 'rows.sql'), sql.join('\n'));
      const out = await ok('sqlite3 "$M/db.sqlite" < "$T/rows.sql"');
      assert.equal(out.trim(), `ok\n5000|${(4999 * 5000) / 2}`);
    });

    it('tar -x of a tree with unicode names, then mv of the directory while its uploads are in flight', async () => {
      await writeFile(join(T, 'make_tree.py'), MAKE_TREE);
      await ok('python3 "$T/make_tree.py" "$T/src" "$SEED" && tar -cf "$T/tree.tar" -C "$T/src" .');
      await ok('mkdir "$M/untar" && tar -xf "$T/tree.tar" -C "$M/untar" && mv "$M/untar" "$M/moved"');
      await ok('diff -r "$T/src" "$M/moved"');
      await ok('test ! -e "$M/untar"');
      // Once the uploads are done (every file listed on the remote at its new path), the tree is
      // still complete (and still readable).
      const expected = (await ok('cd "$T/src" && find . -type f | sed "s|^\\./||"')).split('\n').filter(Boolean).sort();
      let listed: string[] = [];
      await pollUntil(
        'the moved tree on the remote (rclone lsf -R secret:moved)',
        async () => {
          listed = (await fx.rclone('lsf -R --files-only secret:moved')).stdout.split('\n').filter(Boolean).sort();
          return listed.join('\n') === expected.join('\n');
        },
        {
          timeoutMs: 60_000,
          intervalMs: 200,
          detail: () => `missing: ${JSON.stringify(expected.filter((n) => !listed.includes(n)).slice(0, 10))}, extra: ${JSON.stringify(listed.filter((n) => !expected.includes(n)).slice(0, 10))}`,
        },
      );
      await ok('diff -r "$T/src" "$M/moved" && ls "$M/moved/dir ü/子ディレクトリ" | wc -l');
    });

    it('random-offset writes into a 5 MB file (python3)', async () => {
      await writeFile(join(T, 'random_writes.py'), RANDOM_WRITES);
      await ok('python3 "$T/random_writes.py" "$M/rand.bin" "$T/expected.bin" "$SEED"');
      await ok('cmp "$T/expected.bin" "$M/rand.bin"');
    });

    it('rm -r, O_EXCL, RENAME_NOREPLACE, names too long for the crypt format', async () => {
      await ok(`mkdir -p "$M/junk/a/b" && for i in 1 2 3; do echo $i > "$M/junk/a/b/f$i"; echo $i > "$M/junk/g$i"; done
                rm -r "$M/junk" && test ! -e "$M/junk"`);
      const excl = await run(`python3 -c 'import os,sys; os.open(sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_WRONLY)' "$M/moved/café.txt"`);
      assert.notEqual(excl.code, 0);
      assert.match(excl.stderr, /FileExistsError/);
      await writeFile(join(T, 'renameat2.py'), RENAME_NOREPLACE);
      assert.equal((await ok('echo a > "$M/ra" && echo b > "$M/rb" && python3 "$T/renameat2.py" "$M/ra" "$M/rb"')).trim(), 'EEXIST');
      assert.equal((await ok('python3 "$T/renameat2.py" "$M/ra" "$M/rc" && cat "$M/rc"')).trim(), 'OK\na');
      // chmod/chown are accepted (and ignored, as rclone does); utimens sets the remote's mtime.
      await ok(`chmod 600 "$M/rb" && chown "$(id -u):$(id -g)" "$M/rb" && touch -m -d '2001-02-03 04:05:06.123 UTC' "$M/rb"
                test "$(stat -c %Y "$M/rb")" = 981173106`);
      if (options.local) {
        const long = await run(`touch "$M/${'n'.repeat(200)}"`);
        assert.notEqual(long.code, 0);
        assert.match(long.stderr, /File name too long/);
      }
      await ok('df "$M" >/dev/null');
      // Crypt over local: 255-byte names below, base32 standard names: 143 plain bytes fit.
      if (options.local) await ok('stat -f -c %l "$M" | grep -qx 143');
    });

    it('after unmount the real rclone reads every file back identical', async () => {
      await ok('mkdir "$T/ref" && cp -a "$M/." "$T/ref/"');
      assert.equal(await m!.unmount(), 0, await m!.log());
      assert.equal(await isMounted(M), false);
      // rclone's copy would skip one of two names that differ only in Unicode normalization
      // (it matches names normalized): compare listings, and every file's MD5 as rclone reads it.
      const rcloneBin = process.env.RCLONE_BIN || 'rclone';
      // Empty directories exist only on remotes with real directories (not on object stores).
      const dirs = options.local ? '-mindepth 1 -type d' : '-mindepth 1 -type d -not -empty';
      await ok(`cd "$T/ref"
        diff <(find . -type f | sed 's|^\\./||' | LC_ALL=C sort) <("${rcloneBin}" --config "${fx.config}" lsf -R --files-only secret: | LC_ALL=C sort)
        diff <(find . ${dirs} | sed 's|^\\./||; s|$|/|' | LC_ALL=C sort) <("${rcloneBin}" --config "${fx.config}" lsf -R --dirs-only secret: | LC_ALL=C sort)
        diff <(find . -type f -print0 | xargs -0 md5sum | sed 's|  \\./|  |' | LC_ALL=C sort) \\
             <("${rcloneBin}" --config "${fx.config}" md5sum --download secret: | LC_ALL=C sort)`);
      await ok('diff -r "$T/src" "$T/ref/moved"');
      await ok('cmp "$T/expected.bin" "$T/ref/rand.bin"');
      const back = await fx.rclone(`copy secret: "${T}/back" --create-empty-src-dirs`);
      assert.equal(back.code, 0, back.stderr);
      await ok('cd "$T/back/repo" && git fsck --full --strict && test "$(git log --oneline | wc -l)" = 30');
      assert.equal((await ok('sqlite3 "$T/back/db.sqlite" "pragma integrity_check; select count(*) from t;"')).trim(), 'ok\n5000');
      assert.equal((await ok('ls "$T/back"')).split('\n').filter(Boolean).sort().join(','), 'db.sqlite,moved,rand.bin,rb,rc,repo');
      assert.match((await fx.rclone('lsl secret:rb', 30_000)).stdout, /^ +2 2001-02-03 04:05:06\.123000000 rb$/m);
      m = undefined;
    });
  });
}
