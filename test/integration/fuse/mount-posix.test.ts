// The smaller POSIX calls through a real `cryptfs mount` on a crypt remote over
// a local directory, checked with ordinary tools and read back with rclone:
// fallocate (util-linux and posix_fallocate) in each cache mode, utimensat
// with UTIME_NOW/UTIME_OMIT and nanoseconds (touch, os.utime), directory
// mtimes, special files (mkfifo, mknod, a unix socket) across a remount, link refused with EPERM.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CryptFixture, forceStop, fuseSkipReason, sh, startMount, type Mounted } from './mount-helpers.js';
import { rcloneSkipReason } from '../../helpers/cli.js';
import { requireTool } from '../../helpers/require-tool.js';

const onPath = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const skip =
  fuseSkipReason() ??
  rcloneSkipReason() ??
  requireTool('fallocate', onPath('fallocate'), 'util-linux fallocate is not installed') ??
  requireTool('python3', onPath('python3'));
const isRoot = process.geteuid?.() === 0;

describe('cryptfs mount: fallocate, times, links and special files', { skip }, () => {
  let fx: CryptFixture;
  let m: Mounted | undefined;
  let M: string;
  const run = (script: string) => sh(script, { M, T: fx.root, TZ: 'UTC' });
  const ok = async (script: string) => {
    const r = await run(script);
    assert.equal(r.code, 0, `script failed (${r.code}):\n${script}\n${r.stderr}\nlog: ${(await m?.log())?.slice(-3000)}`);
    return r.stdout;
  };
  const remount = async (cacheMode: string) => {
    if (m) assert.equal(await m.unmount(), 0, await m.log());
    m = await startMount(fx, M, ['--vfs-cache-mode', cacheMode, '--vfs-write-back', '0s']);
  };
  const unmount = async () => {
    assert.equal(await m!.unmount(), 0, await m!.log());
    m = undefined;
  };

  before(async () => {
    fx = await CryptFixture.create('posix');
    M = join(fx.root, `mnt-posix-ops-${randomBytes(4).toString('hex')}`);
  });

  after(async () => {
    await forceStop(m);
    await fx?.cleanup();
  });

  for (const cacheMode of ['writes', 'full']) {
    it(`fallocate in --vfs-cache-mode ${cacheMode}: -l grows, -n keeps the size, -p is refused; rclone reads the bytes`, async () => {
      await remount(cacheMode);
      const f = `fa-${cacheMode}`;
      await ok(`printf head > "$M/${f}" && fallocate -l 1000000 "$M/${f}"`);
      assert.equal((await ok(`stat -c %s "$M/${f}"`)).trim(), '1000000');
      await ok(`fallocate -n -o 0 -l 8000000 "$M/${f}"`);
      assert.equal((await ok(`stat -c %s "$M/${f}"`)).trim(), '1000000', 'KEEP_SIZE leaves st_size');
      const punch = await run(`fallocate -p -o 0 -l 4096 "$M/${f}"`);
      assert.notEqual(punch.code, 0);
      assert.match(punch.stderr, /unsupported|not supported/);
      const zero = await run(`fallocate -z -o 0 -l 4096 "$M/${f}"`);
      assert.notEqual(zero.code, 0);
      assert.match(zero.stderr, /unsupported|not supported/);
      // posix_fallocate (glibc: fallocate mode 0, no fallback needed) past the end, then a write after the range.
      await ok(
        `python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDWR); os.posix_fallocate(fd, 900000, 300000); ` +
          `os.pwrite(fd, b"tail", 1200000); os.close(fd)' "$M/${f}"`,
      );
      await ok(
        `python3 -c 'import sys; sys.stdout.buffer.write(b"head" + bytes(1200000 - 4) + b"tail")' > "$T/${f}.want" && cmp "$T/${f}.want" "$M/${f}"`,
      );
      await unmount();
      await ok(`"${process.env.RCLONE_BIN || 'rclone'}" --config "${fx.config}" cat secret:${f} | cmp - "$T/${f}.want"`);
    });
  }

  it('fallocate in --vfs-cache-mode off: a file being written grows with zeros in the upload', async () => {
    await remount('off');
    await ok(
      `python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC); os.write(fd, b"head"); ` +
        `os.posix_fallocate(fd, 0, 500000); os.pwrite(fd, b"tail", 500000); os.close(fd)' "$M/fa-off"`,
    );
    await ok(`python3 -c 'import sys; sys.stdout.buffer.write(b"head" + bytes(500000 - 4) + b"tail")' > "$T/fa-off.want"`);
    await ok(`"${process.env.RCLONE_BIN || 'rclone'}" --config "${fx.config}" cat secret:fa-off | cmp - "$T/fa-off.want"`);
    await unmount();
  });

  it('utimensat: UTIME_OMIT leaves a time alone, UTIME_NOW is now, nanoseconds are exact', async () => {
    await remount('writes');
    // st_[amc]time in ns, from stat's %.9X (seconds.nanoseconds).
    const stat = async (p: string) => {
      const [a, mt, c] = (await ok(`stat -c '%.9X %.9Y %.9Z' "${p}"`))
        .trim()
        .split(' ')
        .map((t) => BigInt(t.replace('.', '')));
      return { a, m: mt, c };
    };
    await ok('echo x > "$M/t" && mkdir "$M/td"');
    for (const p of ['$M/t', '$M/td']) {
      await ok(`python3 -c 'import os, sys; os.utime(sys.argv[1], ns=(1900000000123456789, 1950000000987654321))' "${p}"`);
      assert.deepEqual(await stat(p), { ...(await stat(p)), a: 1900000000123456789n, m: 1950000000987654321n }, p);
      // touch -a: atime now, mtime omitted; touch -m -d: mtime set, atime omitted.
      const t0 = BigInt(Date.now() - 1000) * 1_000_000n;
      await ok(`touch -a "${p}"`);
      let s = await stat(p);
      assert.ok(s.a >= t0 && s.a < 1900000000000000000n, `${p}: atime now`);
      assert.equal(s.m, 1950000000987654321n, `${p}: mtime untouched`);
      assert.ok(s.c >= t0, `${p}: ctime now`);
      await ok(`touch -m -d '2001-02-03 04:05:06.5' "${p}"`);
      s = await stat(p);
      assert.equal(s.m, 981173106500000000n, `${p}: mtime set`);
      assert.ok(s.a >= t0 && s.a < 1900000000000000000n, `${p}: atime untouched`);
      await ok(`touch -m "${p}"`);
      assert.ok((await stat(p)).m >= t0, `${p}: mtime now`);
    }
    // The file's mtime went to the remote; rclone sees it (to its precision).
    await ok(`touch -m -d '2002-03-04 05:06:07' "$M/t"`);
    await unmount();
    const lsl = await fx.rclone('lsl secret:t');
    assert.match(lsl.stdout, /2002-03-04 05:06:07/);
  });

  it('directory mtimes follow create, unlink, rename and mkdir, and a set mtime sticks while mounted', async () => {
    await remount('writes');
    await ok('mkdir "$M/d" && touch -d 2001-01-01 "$M/d"');
    const mtime = async () => BigInt((await ok('stat -c %Y "$M/d"')).trim());
    assert.equal(await mtime(), 978307200n);
    // Kept pause: a window for the listing's background work (prefetch) to clobber the set mtime,
    // which must NOT happen; an absence can't be polled for.
    await ok('ls -la "$M/d" > /dev/null; sleep 0.2');
    assert.equal(await mtime(), 978307200n, 'still there after a listing');
    for (const step of ['echo x > "$M/d/f"', 'mv "$M/d/f" "$M/d/g"', 'mkdir "$M/d/s"', 'rmdir "$M/d/s"', 'rm "$M/d/g"']) {
      await ok('touch -d 2001-01-01 "$M/d"');
      const t0 = BigInt(Math.floor(Date.now() / 1000) - 1);
      await ok(step);
      assert.ok((await mtime()) >= t0, `${step} updates the directory's mtime`);
    }
    await unmount();
  });

  it('mkfifo, mknod and a unix socket make special files that survive a remount; rclone reads the remote; link answers EPERM', async () => {
    await remount('writes');
    await ok('mkdir "$M/sp" && echo a > "$M/sp/a"');
    const link = await run('ln "$M/sp/a" "$M/sp/b"');
    assert.notEqual(link.code, 0);
    assert.match(link.stderr, /Operation not permitted/, 'hard links stay EPERM');

    // A FIFO: the kernel carries the bytes between a writer and a reader on the mount.
    await ok('umask 022 && mkfifo "$M/sp/p"');
    assert.equal((await ok('stat -c "%F %a" "$M/sp/p"')).trim(), 'fifo 644');
    const piped = await ok('printf "through the fifo" > "$M/sp/p" & cat "$M/sp/p"; wait');
    assert.equal(piped, 'through the fifo');
    // A UNIX socket bound on the mount; it accepts a connection while bound.
    await ok(
      `python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
c = socket.socket(socket.AF_UNIX); c.connect(sys.argv[1]); c.sendall(b"hi")
print(s.accept()[0].recv(2).decode())' "$M/sp/s"`,
    );
    assert.equal((await ok('stat -c %F "$M/sp/s"')).trim(), 'socket');
    if (isRoot) {
      await ok('mknod -m 640 "$M/sp/c" c 1 3 && mknod -m 600 "$M/sp/blk" b 7 200');
      assert.equal((await ok('stat -c "%F %a %t:%T" "$M/sp/c"')).trim(), 'character special file 640 1:3');
      assert.equal((await ok('stat -c "%F %t:%T" "$M/sp/blk"')).trim(), 'block special file 7:c8');
      // The mount is nodev (libfuse's default, as root too): a device can't be opened through it.
      const opened = await run('head -c 1 "$M/sp/c"');
      assert.match(opened.stderr, /Permission denied/);
    }
    // chmod, utimens, rename keep the type; the listing shows it (DT_FIFO: find -type p).
    await ok('chmod 600 "$M/sp/p" && touch -d 2001-01-01 "$M/sp/p" && mv "$M/sp/p" "$M/sp/q"');
    assert.equal((await ok('stat -c "%F %a %Y" "$M/sp/q"')).trim(), 'fifo 600 978307200');
    assert.equal((await ok('find "$M/sp" -type p -printf "%f\\n"')).trim(), 'q');
    assert.equal((await ok('find "$M/sp" -type s -printf "%f\\n"')).trim(), 's');
    const exists = await run('mkfifo "$M/sp/q"');
    assert.match(exists.stderr, /File exists/);

    await unmount();
    await remount('writes');
    assert.equal((await ok('stat -c "%F %a" "$M/sp/q"')).trim(), 'fifo 600', 'still a FIFO after a remount');
    assert.equal((await ok('stat -c %F "$M/sp/s"')).trim(), 'socket');
    if (isRoot) assert.equal((await ok('stat -c "%F %t:%T" "$M/sp/c"')).trim(), 'character special file 1:3');
    assert.equal(await ok('printf again > "$M/sp/q" & cat "$M/sp/q"; wait'), 'again');
    await unmount();

    // rclone reads the remote: every special file is an empty object; the ciphertext files are
    // regular, and the type is rclone metadata it lists.
    const listing = JSON.parse((await fx.rclone('lsjson -M secret:sp')).stdout) as Array<{ Name: string; Size: number; Metadata?: Record<string, string> }>;
    const byName = Object.fromEntries(listing.map((e) => [e.Name, e]));
    assert.deepEqual(Object.keys(byName).sort(), isRoot ? ['a', 'blk', 'c', 'q', 's'] : ['a', 'q', 's']);
    assert.equal(byName.q!.Size, 0);
    assert.equal(byName.q!.Metadata?.['cryptfs-type'], '10000');
    assert.equal(byName.q!.Metadata?.mode, '100600', 'the ciphertext file\'s own mode: a regular file');
    assert.equal(byName.s!.Metadata?.['cryptfs-type'], '140000');
    if (isRoot) assert.deepEqual([byName.c!.Metadata?.['cryptfs-type'], byName.c!.Metadata?.['cryptfs-rdev']], ['20000', '100000003']);
    assert.equal((await fx.rclone('cat secret:sp/q')).stdout, '');
    const check = await fx.rclone('lsl secret:');
    assert.equal(check.code, 0, check.stderr);

    await remount('writes');
    await ok('rm "$M/sp/q" "$M/sp/s" && rm -f "$M/sp/c" "$M/sp/blk"');
    assert.equal((await ok('ls -A "$M/sp"')).trim(), 'a');
    await unmount();
    assert.equal((await fx.rclone('lsf secret:sp')).stdout.trim(), 'a');
  });
});
