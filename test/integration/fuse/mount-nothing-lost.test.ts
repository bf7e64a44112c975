// "Nothing lost" through a real `cryptfs mount` on crypt over a local
// directory, with the real rclone reading the result:
// - a mount without flags lets >>, dd conv=notrunc, rsync --inplace, git,
//   sed -i, sqlite3, zip and mmap edit files in place;
// - --vfs-cache-mode off refuses opens it cannot honour (EPERM at open, an
//   ERROR line) and never replaces a file with a refused or cut-short stream;
// - a log file that cannot be written does not take the mount down;
// - every EIO is logged with the path and the cause;
// - names over the format's limit answer ENAMETOOLONG;
// - `cryptfs umount` returns once everything is uploaded (rclone check is
//   clean right after), and exits 1 when uploads failed.
// The daemon is a child process; file operations run in further child
// processes. Each test stops only what it started. Missing tools fail the test.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CryptFixture, forceStop, isMounted, sh, startMount, type Mounted, processAlive } from './mount-helpers.js';
import { cryptfsMain, rcloneBinary, scrubbedEnv } from '../../helpers/cli.js';
import { removeMountState } from '../../../src/cli/mount-state.js';

const TOOLS = ['fusermount3', 'rsync', 'git', 'sqlite3', 'zip', 'unzip', 'python3', 'dd', 'sed', 'cmp', 'md5sum'];

/** Changes bytes in the middle of a file through a shared writable mmap. */
const MMAP_EDIT = String.raw`
import mmap, sys
with open(sys.argv[1], 'r+b') as f:
    m = mmap.mmap(f.fileno(), 0)
    m[10:20] = b'MMAPPED!!!'
    m.flush()
    m.close()
`;

/** Opens with O_TRUNC, writes 4 KiB, then writes at a gap: the second write is refused. */
const SEEK_WRITE = String.raw`
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, b'a' * 4096)
try:
    os.pwrite(fd, b'b' * 10, 100000)
    print('write accepted')
except OSError as e:
    print('write refused', e.strerror)
try:
    os.close(fd)
    print('close ok')
except OSError as e:
    print('close failed', e.strerror)
`;

describe('cryptfs mount: nothing lost', () => {
  let fx: CryptFixture;
  let m: Mounted | undefined;
  let M: string;
  const mountpoints: string[] = [];
  const spawned: ChildProcess[] = [];
  const run = (script: string, env: Record<string, string> = {}) => sh(script, { M, T: fx.root, RCLONE: rcloneBinary(), CONF: fx.config, ...env });
  const ok = async (script: string, env: Record<string, string> = {}) => {
    const r = await run(script, env);
    assert.equal(r.code, 0, `script failed (${r.code}):\n${script}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-3000)}\nlog: ${(await m?.log())?.slice(-3000)}`);
    return r.stdout;
  };
  const cryptfs = (args: string) => run(`"${process.execPath}" "${cryptfsMain()}" --config "$CONF" ${args}`);
  const freshMountpoint = () => {
    M = join(fx.root, `mnt-${randomBytes(4).toString('hex')}`);
    mountpoints.push(M);
    return M;
  };
  const stop = async () => {
    if (m) assert.equal(await m.unmount(), 0, await m.log());
    m = undefined;
  };

  before(async () => {
    const missing = await sh(`for t in ${TOOLS.join(' ')} "${rcloneBinary()}"; do command -v "$t" >/dev/null || echo "$t"; done`);
    assert.equal(missing.stdout.trim(), '', `tools missing for these tests: ${missing.stdout.trim()}`);
    fx = await CryptFixture.create('lost');
  });

  // A failed test must not leave its mount to the next one.
  afterEach(async () => {
    if (!m) return;
    await forceStop(m);
    // Its last state write comes as it exits; the state files are removed after that.
    await Promise.race([m.exited, new Promise((r) => setTimeout(r, 10_000))]);
    m = undefined;
  });

  after(async () => {
    for (const c of spawned) if (c.pid && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await forceStop(m);
    for (const p of mountpoints) await removeMountState(p);
    await fx?.cleanup();
  });

  it('a mount without flags: >>, dd conv=notrunc, rsync --inplace, git commit, sed -i, sqlite3, zip, mmap; rclone reads it byte-exact', async () => {
    m = await startMount(fx, freshMountpoint());
    await writeFile(join(fx.root, 'mmap_edit.py'), MMAP_EDIT);
    // The same edits on a local directory give the expected bytes.
    const edits = (D: string) => `
      D="${D}"
      printf 'first line\\n' > "$D/notes.txt"
      echo more >> "$D/notes.txt"
      head -c 200000 "$T/seed.bin" > "$D/dd.bin"
      printf 'PATCHED' | dd of="$D/dd.bin" bs=1 seek=70000 conv=notrunc status=none
      head -c 300000 "$T/seed.bin" > "$D/rsync.bin"
      rsync --inplace --no-whole-file --ignore-times "$T/rsync-new.bin" "$D/rsync.bin"
      mkdir -p "$D/repo" && cd "$D/repo" && git init -q
      echo one > a.txt && git add a.txt && git commit -qm one
      echo two >> a.txt && git commit -qam two
      cd "$T"
      printf 'alpha\\nbeta\\ngamma\\n' > "$D/sed.txt" && sed -i 's/beta/BETA/' "$D/sed.txt"
      sqlite3 "$D/db.sqlite" 'create table t(v); insert into t values (1),(2),(3); update t set v = v * 10;'
      (cd "$D" && zip -q arch.zip notes.txt sed.txt && zip -q arch.zip dd.bin)
      head -c 5000 "$T/seed.bin" > "$D/mmap.bin" && python3 "$T/mmap_edit.py" "$D/mmap.bin"`;
    await ok(`head -c 400000 /dev/urandom > "$T/seed.bin"
              tail -c +150015 "$T/seed.bin" > "$T/seed-tail.bin"
              { head -c 150000 "$T/seed.bin"; printf 'middle changed'; head -c 149986 "$T/seed-tail.bin"; } > "$T/rsync-new.bin"
              mkdir "$T/expect"`);
    const gitEnv = {
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.org',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.org',
      GIT_AUTHOR_DATE: '2001-02-03T04:05:06Z',
      GIT_COMMITTER_DATE: '2001-02-03T04:05:06Z',
    };
    await ok(edits('$T/expect'), gitEnv);
    await ok(edits('$M'), gitEnv);
    await ok('cmp "$T/expect/notes.txt" "$M/notes.txt" && cmp "$T/rsync-new.bin" "$M/rsync.bin" && cmp "$T/expect/rsync.bin" "$M/rsync.bin"');
    await stop();
    // Every file as rclone reads it. Three differ by design and are checked below instead: git's
    // index holds stat data, .git/config what git probed of the file system (file modes are not
    // kept), and a zip archive its members' times.
    const differs = "repo/.git/index|repo/.git/config|arch.zip";
    const sums = await ok(`cd "$T/expect" && diff <(find . -type f | sed 's|^\\./||' | grep -Ev '^(${differs})$' | LC_ALL=C sort | xargs -d '\\n' md5sum | LC_ALL=C sort -k2) \\
                                  <("$RCLONE" --config "$CONF" md5sum --download secret: | grep -Ev '  (${differs})$' | LC_ALL=C sort -k2) && echo same`);
    assert.equal(sums.trim(), 'same');
    assert.equal((await fx.rclone('cat secret:notes.txt')).stdout, 'first line\nmore\n');
    await ok(`rm -rf "$T/back" && "$RCLONE" --config "$CONF" copy secret:repo "$T/back/repo" && cd "$T/back/repo" && git fsck --full --strict && test "$(git log --oneline | wc -l)" = 2 && test "$(git rev-parse HEAD)" = "$(git -C "$T/expect/repo" rev-parse HEAD)" && git status --porcelain | (! grep .)`);
    await ok('"$RCLONE" --config "$CONF" copyto secret:db.sqlite "$T/back/db.sqlite" && "$RCLONE" --config "$CONF" copyto secret:arch.zip "$T/back/arch.zip"');
    assert.equal((await ok('sqlite3 "$T/back/db.sqlite" "pragma integrity_check; select sum(v) from t"')).trim(), 'ok\n60');
    await ok('mkdir "$T/back/unzipped" && unzip -q "$T/back/arch.zip" -d "$T/back/unzipped" && for f in notes.txt sed.txt dd.bin; do cmp "$T/expect/$f" "$T/back/unzipped/$f"; done');
  });

  it('--vfs-cache-mode off: >>, dd conv=notrunc and rsync --inplace fail with EPERM at open and leave the file; a refused write never replaces it', async () => {
    await ok('printf "version one\\n" > "$T/v1.txt" && "$RCLONE" --config "$CONF" copyto "$T/v1.txt" secret:off/v1.txt');
    m = await startMount(fx, freshMountpoint(), ['--vfs-cache-mode', 'off']);
    const append = await run('echo more >> "$M/off/v1.txt"');
    assert.notEqual(append.code, 0);
    assert.match(append.stderr, /Operation not permitted/);
    const dd = await run('printf X | dd of="$M/off/v1.txt" bs=1 seek=2 conv=notrunc status=none');
    assert.notEqual(dd.code, 0);
    assert.match(dd.stderr, /failed to open.*Operation not permitted/);
    const rsync = await run('printf "version two\\n" > "$T/v2.txt" && rsync --inplace --ignore-times "$T/v2.txt" "$M/off/v1.txt"');
    assert.notEqual(rsync.code, 0);
    assert.match(rsync.stderr, /Operation not permitted/);
    await writeFile(join(fx.root, 'seek_write.py'), SEEK_WRITE);
    const seek = await ok('python3 "$T/seek_write.py" "$M/off/v1.txt"');
    assert.match(seek, /write refused/);
    assert.match(seek, /close failed/, 'close reports that the file was not replaced');
    assert.equal((await fx.rclone('cat secret:off/v1.txt')).stdout, 'version one\n');
    assert.equal(await ok('cat "$M/off/v1.txt"'), 'version one\n');
    // Replacing the whole file (O_TRUNC) still works in mode off.
    await ok('printf "replaced\\n" > "$M/off/v1.txt"');
    const log = await m.log();
    assert.match(log, /ERROR : off\/v1\.txt: can't open an existing file for writing without O_TRUNC .*--vfs-cache-mode writes/);
    await stop();
    assert.equal((await fx.rclone('cat secret:off/v1.txt')).stdout, 'replaced\n');
  });

  it('--vfs-cache-mode off: a stream cut short by the unmount is abandoned; the remote keeps the previous version and the daemon exits 1', async () => {
    await ok('printf "kept\\n" > "$T/kept.txt" && "$RCLONE" --config "$CONF" copyto "$T/kept.txt" secret:off/abandoned.txt');
    m = await startMount(fx, freshMountpoint(), ['--vfs-cache-mode', 'off']);
    // A writer that truncated the file, wrote part of the new version, and is still at it
    // (one descriptor, never closed: a close would end the upload).
    const writer = spawn(
      'python3',
      ['-c', "import os, sys, time; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC); os.write(fd, os.urandom(300000)); print('ready', flush=True); time.sleep(60)", join(M, 'off/abandoned.txt')],
      { env: scrubbedEnv(), stdio: ['ignore', 'pipe', 'ignore'] },
    );
    spawned.push(writer);
    await new Promise<void>((resolve, reject) => {
      writer.stdout!.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
      writer.on('exit', (code) => reject(new Error(`the writer exited (${code}) before it was ready`)));
    });
    m.child.kill('SIGTERM');
    const timer = setTimeout(() => m?.child.kill('SIGKILL'), 60_000);
    const code = await m.exited;
    clearTimeout(timer);
    const log = await m.log();
    assert.equal(code, 1, log);
    assert.match(log, /ERROR : off\/abandoned\.txt: unmounted while open for writing: upload abandoned/);
    assert.match(log, /still open for writing: their new contents were dropped/);
    writer.kill('SIGKILL');
    m = undefined;
    assert.equal((await fx.rclone('cat secret:off/abandoned.txt')).stdout, 'kept\n');
  });

  it('a log file that cannot be written (its directory removed) does not take the mount down', async () => {
    const logDir = join(fx.root, 'logs');
    await mkdir(logDir);
    m = await startMount(fx, freshMountpoint(), ['--vfs-write-back', '1h', '--log-file', join(logDir, 'mount.log')]);
    await rm(logDir, { recursive: true });
    // -v: uploads log "Copied", failures log errors; fsync uploads one file now, the rest wait for the unmount.
    await ok(`for i in 1 2 3; do echo "data $i" > "$M/logless-$i.txt"; done
              python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$M/logless-1.txt"
              cat "$M/logless-1.txt"; ls "$M" >/dev/null`);
    await run(`cat "$M/${'z'.repeat(200)}" "$M/not-there"`); // error paths log as well
    assert.equal(m.child.exitCode, null, 'the daemon is still running');
    assert.ok(await isMounted(M));
    assert.equal(await ok('cat "$M/logless-3.txt"'), 'data 3\n');
    assert.equal(await m.unmount(), 0, 'uploads at the unmount did not fail');
    m = undefined;
    for (const i of [1, 2, 3]) assert.equal((await fx.rclone(`cat secret:logless-${i}.txt`)).stdout, `data ${i}\n`);
  });

  it('an EIO (a tampered chunk) is logged at ERROR with the path and the cause', async () => {
    await ok(`head -c 100000 /dev/urandom > "$T/tamper.bin" && "$RCLONE" --config "$CONF" mkdir secret:tamper && "$RCLONE" --config "$CONF" copyto "$T/tamper.bin" secret:tamper/victim.bin`);
    // Flip one byte in the first chunk of the stored (encrypted) object.
    const found = await ok(`"$RCLONE" --config "$CONF" cryptdecode --reverse secret: tamper/victim.bin | awk '{print $NF}'`);
    const encPath = join(fx.remoteDir, found.trim());
    await ok(`test -f "${encPath}" && printf '\\xff' | dd of="${encPath}" bs=1 seek=5000 conv=notrunc status=none`);
    const mounted = (m = await startMount(fx, freshMountpoint()));
    const cat = await run('cat "$M/tamper/victim.bin" > /dev/null');
    assert.notEqual(cat.code, 0);
    assert.match(cat.stderr, /Input\/output error/);
    await stop();
    assert.match(await mounted.log(), /ERROR : tamper\/victim\.bin: read: failed to authenticate decrypted block/);
  });

  it('names over the format limit answer ENAMETOOLONG in stat, cat (open), rm, rmdir and both sides of mv', async () => {
    m = await startMount(fx, freshMountpoint());
    const long = 'L'.repeat(200); // crypt over local: at most 143 plain bytes
    await ok('echo x > "$M/short.txt" && mkdir -p "$M/d"');
    for (const cmd of [
      `stat "$M/${long}"`,
      `stat "$M/d/${long}"`,
      `cat "$M/${long}"`,
      `rm "$M/${long}"`,
      `rmdir "$M/${long}"`,
      `mv "$M/${long}" "$M/other"`,
      `mv "$M/short.txt" "$M/${long}"`,
      `touch "$M/${long}"`,
    ]) {
      const r = await run(cmd);
      assert.notEqual(r.code, 0, cmd);
      assert.match(r.stderr, /File name too long/, `${cmd}: ${r.stderr}`);
    }
    const missing = await run('stat "$M/not-there"');
    assert.match(missing.stderr, /No such file or directory/);
    await stop();
  });

  it('cryptfs umount waits for every pending upload, then rclone check is clean', async () => {
    m = await startMount(fx, freshMountpoint(), ['--vfs-write-back', '1h']);
    await ok(`rm -rf "$T/src" && mkdir -p "$T/src/sub" && head -c 20000000 /dev/urandom > "$T/src/big.bin"
              for i in $(seq 1 20); do head -c $((i * 1000)) /dev/urandom > "$T/src/sub/f$i"; done
              mkdir "$M/checked" && cp -r "$T/src/." "$M/checked/"`);
    assert.doesNotMatch((await fx.rclone('lsf -R secret:checked')).stdout, /big\.bin/, 'nothing uploaded yet (write-back 1h)');
    const um = await cryptfs(`umount "$M"`);
    assert.equal(um.code, 0, `${um.stdout}\n${um.stderr}\n${await m.log()}`);
    assert.match(um.stdout, /^Unmounted /m);
    assert.match(um.stdout, /Waiting for the cryptfs daemon \(process \d+\)/);
    assert.match(um.stdout, /All modified files are on secret:; the daemon has exited/);
    assert.equal(processAlive(m.child.pid!), false, 'the daemon has exited when umount returns');
    const check = await fx.rclone(`check "${fx.root}/src" secret:checked`);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stderr, /0 differences found/);
    assert.equal(await m.exited, 0);
    m = undefined;
    // Not mounted any more: umount says so and fails.
    const again = await cryptfs(`umount "$M"`);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /is not mounted/);
  });

  it('cryptfs umount exits 1 when uploads fail; the next mount uploads them', async () => {
    m = await startMount(fx, freshMountpoint(), ['--vfs-write-back', '1h']);
    await ok('echo "must not be lost" > "$M/pending.txt"');
    // The remote's directory becomes a file: every upload fails.
    const away = `${fx.remoteDir}.away`;
    await rename(fx.remoteDir, away);
    await writeFile(fx.remoteDir, 'not a directory');
    const um = await cryptfs(`umount "$M"`);
    assert.equal(um.code, 1, `${um.stdout}\n${um.stderr}`);
    assert.match(um.stderr, /1 file could not be uploaded/);
    assert.equal(await m.exited, 1);
    await rm(fx.remoteDir);
    await rename(away, fx.remoteDir);
    m = await startMount(fx, freshMountpoint());
    await ok(`for i in $(seq 1 100); do "$RCLONE" --config "$CONF" cat secret:pending.txt 2>/dev/null | grep -q "must not be lost" && exit 0; sleep 0.1; done; exit 1`);
    const um2 = await cryptfs(`umount "$M"`);
    assert.equal(um2.code, 0, um2.stdout + um2.stderr);
    m = undefined;
  });
});
