// The libfuse3 binding through a real mount: an in-memory filesystem (MemFs)
// is mounted in this process and ordinary programs run against it in child
// processes. Never touch the mount synchronously from this process: its event
// loop is the one serving the requests.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, constants as fsc } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../../../src/errors.js';
import {
  FuseSession,
  FuseSessionError,
  clearStaleMount,
  type Attr,
  type DirPlusEntry,
} from '../../../src/fuse/fuse-session.js';
import { loadNativeFuse } from '../../../src/fuse/native.js';
import { MemFs } from './mem-fs.js';
import { requireTool } from '../../helpers/require-tool.js';

const skip = requireTool('FUSE', existsSync('/dev/fuse'), 'needs /dev/fuse');

interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a shell script in a child process; $M is the mount point. Never rejects. */
function sh(script: string, env: Record<string, string> = {}): Promise<ShResult> {
  return new Promise((resolve) => {
    execFile(
      'sh',
      ['-c', script],
      { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function shOk(script: string, env: Record<string, string> = {}): Promise<string> {
  const r = await sh(script, env);
  assert.equal(r.code, 0, `script failed (${r.code}): ${script}\n${r.stderr}`);
  return r.stdout;
}

async function isMountpoint(path: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((line) => line.split(' ')[4] === path);
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('libfuse3 binding through a mount', { skip }, () => {
  let tmp: string;
  let mnt: string;
  let memfs: MemFs;
  let session: FuseSession;
  const unexpected: Array<{ op: string; err: unknown }> = [];
  const run = (script: string) => sh(script, { M: mnt, T: tmp });
  const runOk = (script: string) => shOk(script, { M: mnt, T: tmp });

  before(async () => {
    tmp = await mkdtemp(join(os.tmpdir(), 'cryptfs-fuse-'));
    mnt = join(tmp, 'mnt');
    await mkdir(mnt);
    memfs = new MemFs();
    session = await FuseSession.mount(mnt, memfs, {
      fsName: 'memfs',
      subtype: 'memfs',
      options: ['default_permissions'],
      onUnexpectedError: (err, op) => unexpected.push({ op, err }),
    });
  });

  after(async () => {
    if (session && !session.ended) await session.unmount();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('mounts with 1 MiB writes negotiated', async () => {
    assert.ok(await isMountpoint(mnt));
    assert.equal(session.connection.maxWrite, 1 << 20);
    const mounts = await readFile('/proc/self/mounts', 'utf8');
    assert.match(mounts, new RegExp(`^memfs ${mnt} fuse\\.memfs `, 'm'));
  });

  it('looks up, stats and lists a 2,000-entry directory across readdir offsets', async () => {
    const big = memfs.add(1n, 'big', fsc.S_IFDIR | 0o755);
    const names: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const name = `entry-${String(i).padStart(4, '0')}-${'x'.repeat(i % 40)}`;
      names.push(name);
      memfs.add(big.ino, name, fsc.S_IFREG | 0o644, Buffer.from(String(i)));
    }
    memfs.readdirOffsets.length = 0;
    const listing = await runOk('ls -1a "$M/big"');
    const seen = listing.split('\n').filter(Boolean);
    assert.equal(seen.length, 2002);
    assert.deepEqual(
      seen.filter((n) => n !== '.' && n !== '..'),
      [...names].sort(),
    );
    // The kernel asked for the listing in several pieces, resuming at offsets.
    assert.ok(memfs.readdirOffsets.length > 2, `readdir calls: ${memfs.readdirOffsets.length}`);
    assert.ok(memfs.readdirOffsets.some((o) => o > 0));

    const target = memfs.resolve(`big/${names[1234]}`)!;
    const out = await runOk(`stat -c '%i %s %a %F' "$M/big/${names[1234]}"`);
    assert.equal(out.trim(), `${target.ino} 4 644 regular file`);
    assert.equal(await runOk(`cat "$M/big/${names[7]}"`), '7');
  });

  it('serves 64-bit inode numbers and nanosecond times', async () => {
    const node = memfs.add(1n, 'wide', fsc.S_IFREG | 0o600, Buffer.from('w'));
    memfs.nodes.delete(node.ino);
    node.ino = (1n << 62n) + 12345n;
    memfs.nodes.set(node.ino, node);
    memfs.resolve('')!.children!.set('wide', node.ino);
    node.mtimeNs = 1_234_567_890_123_456_789n;
    const out = await runOk(`stat -c '%i %.9Y' "$M/wide"`);
    assert.equal(out.trim(), `${node.ino} 1234567890.123456789`);
  });

  it('creates, writes with 1 MiB requests and reads back 5 MB', async () => {
    const data = randomBytes(5 * 1024 * 1024);
    await writeFile(join(tmp, 'src.bin'), data);
    memfs.writeSizes.length = 0;
    await runOk('dd if="$T/src.bin" of="$M/five" bs=1M status=none');
    assert.equal(sha256(memfs.contents('five')!), sha256(data));
    assert.ok(memfs.writeSizes.length > 0);
    assert.ok(
      memfs.writeSizes.every((n) => n > 4096),
      `write sizes: ${memfs.writeSizes.slice(0, 20).join(',')}`,
    );
    assert.equal(Math.max(...memfs.writeSizes), 1 << 20);
    assert.equal((await runOk('stat -c %s "$M/five"')).trim(), String(data.length));

    // Content the kernel has never seen: every byte comes through read.
    const fresh = randomBytes(3 * 1024 * 1024 + 17);
    memfs.add(1n, 'fresh', fsc.S_IFREG | 0o644, fresh);
    assert.equal((await runOk('sha256sum < "$M/fresh"')).split(' ')[0], sha256(fresh));
    // Many readers at once: requests are answered out of order.
    const parallel = await runOk(
      'for i in 1 2 3 4 5 6 7 8; do sha256sum < "$M/fresh" & done; wait',
    );
    const sums = parallel.split('\n').filter(Boolean).map((l) => l.split(' ')[0]);
    assert.equal(sums.length, 8);
    for (const s of sums) assert.equal(s, sha256(fresh));
  });

  it('appends and overwrites in place', async () => {
    await runOk('echo hi > "$M/f"; echo there >> "$M/f"; printf XY | dd of="$M/f" bs=1 seek=1 conv=notrunc status=none');
    assert.equal(memfs.contents('f')!.toString(), 'hXYthere\n');
    assert.equal(await runOk('cat "$M/f"'), 'hXYthere\n');
  });

  it('renames files and directories, honouring RENAME_NOREPLACE', async () => {
    await runOk('echo one > "$M/r1"; echo two > "$M/r2"; mv "$M/r1" "$M/r3"');
    assert.equal(memfs.resolve('r1'), undefined);
    assert.equal(memfs.contents('r3')!.toString(), 'one\n');

    const renameat2 = [
      'import ctypes, os, sys',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'r = libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 1)',
      'sys.exit(0 if r == 0 else ctypes.get_errno())',
    ].join('\n');
    const noreplace = await run(`python3 -c '${renameat2}' "$M/r3" "$M/r2"`);
    assert.equal(noreplace.code, os.constants.errno.EEXIST);
    assert.equal(memfs.contents('r2')!.toString(), 'two\n');
    await runOk(`python3 -c '${renameat2}' "$M/r3" "$M/r4"`);
    assert.equal(memfs.contents('r4')!.toString(), 'one\n');

    // plain rename replaces
    await runOk('mv "$M/r4" "$M/r2"');
    assert.equal(memfs.contents('r2')!.toString(), 'one\n');

    await runOk('mkdir -p "$M/dA/sub" && echo deep > "$M/dA/sub/file" && mv "$M/dA" "$M/dB"');
    assert.equal(await runOk('cat "$M/dB/sub/file"'), 'deep\n');
    assert.equal((await run('ls "$M/dA"')).code !== 0, true);
  });

  it('unlinks, and refuses rmdir of a non-empty directory with ENOTEMPTY', async () => {
    await runOk('mkdir "$M/d" && touch "$M/d/x"');
    const r = await run('rmdir "$M/d"');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Directory not empty/);
    await runOk('rm "$M/d/x" && rmdir "$M/d"');
    assert.equal(memfs.resolve('d'), undefined);
    const rmDir = await run('rm "$M/dB"');
    assert.match(rmDir.stderr, /Is a directory/);
    await runOk('rm -r "$M/dB"');
    assert.equal(memfs.resolve('dB'), undefined);
  });

  it('truncates, extends and ftruncates', async () => {
    await runOk('printf 0123456789 > "$M/t" && truncate -s 5 "$M/t"');
    assert.equal(memfs.contents('t')!.toString(), '01234');
    await runOk('truncate -s 8 "$M/t"');
    assert.deepEqual(memfs.contents('t'), Buffer.from('01234\0\0\0'));
    await runOk(`python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDWR); os.ftruncate(fd, 2); os.close(fd)' "$M/t"`);
    assert.equal(memfs.contents('t')!.toString(), '01');
    assert.equal((await runOk('stat -c %s "$M/t"')).trim(), '2');
  });

  it('sets times with nanoseconds (utimens), mode and ownership', async () => {
    await runOk('touch "$M/u" && touch -m -d "2001-02-03 04:05:06.123456789 UTC" "$M/u"');
    assert.equal(memfs.resolve('u')!.mtimeNs, 981173106_123456789n);
    assert.equal((await runOk('stat -c %.9Y "$M/u"')).trim(), '981173106.123456789');
    await runOk('touch -a -d "@1000000000.5" "$M/u"');
    assert.equal(memfs.resolve('u')!.atimeNs, 1_000_000_000_500_000_000n);
    await runOk('chmod 640 "$M/u" && chown 1234:5678 "$M/u"');
    const node = memfs.resolve('u')!;
    assert.equal(node.mode & 0o7777, 0o640);
    assert.equal(node.uid, 1234);
    assert.equal(node.gid, 5678);
  });

  it('reports statfs (df)', async () => {
    const out = await runOk('stat -f -c "%S %b %f %a %c %d" "$M"');
    assert.equal(out.trim(), '4096 1000000 750000 700000 1000000 999000');
    const df = (await runOk(`df -P "$M"`)).split("\n")[1] ?? "";
    assert.match(df, /^memfs\s+4000000\s+1000000\s+2800000/);
  });

  it('maps errors to errno: ENOENT, EEXIST, EIO, EPERM, EILSEQ', async () => {
    const enoent = await run('cat "$M/no-such-file"');
    assert.match(enoent.stderr, /No such file or directory/);
    await runOk('mkdir "$M/exists"');
    const eexist = await run('mkdir "$M/exists"');
    assert.match(eexist.stderr, /File exists/);

    unexpected.length = 0;
    const eio = await run(`cat "$M/${memfs.failingName}"`);
    assert.match(eio.stderr, /Input\/output error/);
    assert.equal(unexpected.length, 1);
    assert.equal(unexpected[0]!.op, 'lookup');
    assert.match(String(unexpected[0]!.err), /simulated backend failure/);

    // Operations MemFs lacks are answered without a trip to JS: mknod by the
    // binding itself with EPERM (what mknod(2) answers for a node type the file
    // system does not support); link by libfuse with ENOSYS, which the kernel
    // reports as EPERM.
    const mknod = await run('mkfifo "$M/fifo"');
    assert.match(mknod.stderr, /Operation not permitted/);
    const eperm = await run('echo x > "$M/l1" && ln "$M/l1" "$M/l2"');
    assert.match(eperm.stderr, /Operation not permitted/);

    // Names reach JS as strings: a non-UTF-8 name cannot be created.
    const eilseq = await run(`python3 -c 'import sys; open(sys.argv[1].encode() + b"/bad\\xff", "w")' "$M"`);
    assert.notEqual(eilseq.code, 0);
    assert.match(eilseq.stderr, /Invalid or incomplete multibyte/);
    assert.equal(unexpected.length, 1);
  });

  it('handles unicode names and symlinks', async () => {
    const name = 'ünïcødé ✓ 日本語';
    await runOk(`echo u > "$M/${name}" && ln -s "${name}" "$M/link"`);
    assert.equal(memfs.contents(name)!.toString(), 'u\n');
    assert.equal(await runOk('cat "$M/link"'), 'u\n');
    assert.equal((await runOk('readlink "$M/link"')).trim(), name);
  });

  it('carries git, sqlite3 (rollback journal and WAL) and tar', async () => {
    unexpected.length = 0;
    const inserts = Array.from({ length: 300 }, (_, i) => `insert into t(b) values('row${i}');`).join(' ');
    const out = await runOk(`set -e; cd "$M"; git init -q repo; cd repo
      git config user.email t@example.invalid; git config user.name t
      for i in 1 2 3 4 5; do echo $i > f$i; git add f$i; git commit -q -m c$i; done
      git fsck --full --strict; git log --oneline | wc -l; git gc -q; git fsck --full; cd ..
      sqlite3 db.sqlite "create table t(a integer primary key, b text); begin; ${inserts} commit; pragma integrity_check; select count(*) from t;"
      sqlite3 db.sqlite "pragma journal_mode=wal; insert into t(b) values('x'); pragma integrity_check; select count(*) from t;"
      tar -C /usr/include -cf "$T/inc.tar" fuse3; mkdir x; tar -C x -xf "$T/inc.tar"; diff -r /usr/include/fuse3 x/fuse3 && echo same
      rm -r repo x db.sqlite`);
    assert.equal(out, '5\nok\n300\nwal\nok\n301\nsame\n');
    assert.equal(unexpected.length, 0, unexpected.map((u) => `${u.op}: ${String(u.err)}`).join('\n'));
  });

  it('unmounts: the mount point is a plain directory again', async () => {
    await session.unmount();
    await session.closed;
    assert.equal(session.ended, true);
    assert.equal(session.endError, undefined);
    assert.equal(await isMountpoint(mnt), false);
    const [inner, outer] = await Promise.all([stat(mnt), stat(tmp)]);
    assert.ok(inner.isDirectory());
    assert.equal(inner.dev, outer.dev);
    await session.unmount(); // idempotent
  });
});

describe('mount failures and stale mounts', { skip }, () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(join(os.tmpdir(), 'cryptfs-fuse-'));
  });
  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('rejects a missing mount point and unknown options', async () => {
    const logged: string[] = [];
    const onLog = (_level: number, message: string) => void logged.push(message);
    await assert.rejects(FuseSession.mount(join(tmp, 'missing'), new MemFs(), { onLog }), (err: unknown) => {
      assert.ok(err instanceof FuseSessionError);
      assert.equal(err.errno, 'ENOENT');
      assert.match(err.message, /missing/);
      return true;
    });
    assert.ok(logged.some((m) => /failed to access mountpoint/.test(m)), logged.join('\n'));
    await mkdir(join(tmp, 'm'));
    await assert.rejects(
      FuseSession.mount(join(tmp, 'm'), new MemFs(), { options: ['no_such_option_xyz'], onLog }),
      (err: unknown) => {
        assert.ok(err instanceof FuseSessionError);
        assert.match(err.message, /no_such_option_xyz/);
        return true;
      },
    );
    assert.equal(await isMountpoint(join(tmp, 'm')), false);
  });

  it('ends the session when someone else unmounts it', async () => {
    const mnt = join(tmp, 'ext');
    await mkdir(mnt);
    const session = await FuseSession.mount(mnt, new MemFs());
    await shOk('umount "$M"', { M: mnt });
    await session.closed;
    assert.equal(session.ended, true);
    assert.equal(await isMountpoint(mnt), false);
  });

  it('serves two sessions at once', async () => {
    const [m1, m2] = [join(tmp, 'two-a'), join(tmp, 'two-b')];
    await Promise.all([mkdir(m1), mkdir(m2)]);
    const [fs1, fs2] = [new MemFs(), new MemFs()];
    fs1.add(1n, 'which', fsc.S_IFREG | 0o644, Buffer.from('first'));
    fs2.add(1n, 'which', fsc.S_IFREG | 0o644, Buffer.from('second'));
    const [s1, s2] = await Promise.all([FuseSession.mount(m1, fs1), FuseSession.mount(m2, fs2)]);
    try {
      const out = await shOk('cat "$A/which"; echo; cat "$B/which"', { A: m1, B: m2 });
      assert.equal(out, 'first\nsecond');
    } finally {
      await Promise.all([s1.unmount(), s2.unmount()]);
    }
    assert.equal(await isMountpoint(m1), false);
    assert.equal(await isMountpoint(m2), false);
  });

  it('caches negative lookups for negativeTimeout, and answers EIO for malformed results', async () => {
    const mnt = join(tmp, 'neg');
    await mkdir(mnt);
    class MalformedAttrFs extends MemFs {
      // A time as a number instead of a bigint cannot be encoded: EIO.
      override getattr(ino: bigint) {
        const attr = super.getattr(ino);
        return ino === 1n ? attr : ({ ...attr, mtimeNs: 5 } as unknown as Attr);
      }
    }
    const memfs = new MalformedAttrFs();
    const problems: string[] = [];
    const session = await FuseSession.mount(mnt, memfs, {
      negativeTimeout: 60,
      attrTimeout: 0,
      onUnexpectedError: (err, op) => void problems.push(`${op}: ${errorMessage(err)}`),
    });
    try {
      assert.match((await sh('cat "$M/ghost"', { M: mnt })).stderr, /No such file/);
      memfs.add(1n, 'ghost', fsc.S_IFREG | 0o644, Buffer.from('boo'));
      // The kernel remembers "no such name" and does not ask again.
      assert.match((await sh('cat "$M/ghost"', { M: mnt })).stderr, /No such file/);
      assert.equal(memfs.resolve('ghost')!.size, 3);

      memfs.add(1n, 'bad', fsc.S_IFREG | 0o644, Buffer.from('x'));
      const r = await sh('stat "$M/bad"', { M: mnt });
      assert.match(r.stderr, /Input\/output error/);
      assert.ok(problems.some((p) => /^getattr: .*invalid attr/.test(p)), problems.join('\n'));
    } finally {
      await session.unmount();
    }
  });

  it('lists with readdirplus: ls -l of 2,000 entries needs (almost) no lookups, and forgets balance', async () => {
    const caps = loadNativeFuse().capabilities;
    // MemFs with readdirplus, counting the kernel's references per inode.
    class PlusFs extends MemFs {
      readonly refs = new Map<bigint, number>();
      lookups = 0;
      readdirplusCalls = 0;
      #ref(ino: bigint): void {
        this.refs.set(ino, (this.refs.get(ino) ?? 0) + 1);
      }
      override lookup(parent: bigint, name: string): Attr {
        const attr = super.lookup(parent, name);
        this.lookups++;
        this.#ref(attr.ino);
        return attr;
      }
      override forget(ino: bigint, nlookup: number): void {
        super.forget(ino, nlookup);
        const left = (this.refs.get(ino) ?? 0) - nlookup;
        assert.ok(left >= 0, `forget(${ino}, ${nlookup}) below zero`);
        if (left === 0) this.refs.delete(ino);
        else this.refs.set(ino, left);
      }
      readdirplus(ino: bigint, fh: bigint | undefined, offset: number): DirPlusEntry[] {
        this.readdirplusCalls++;
        return this.readdir(ino, fh, offset).map((e) => {
          if (e.name === '.' || e.name === '..') return e;
          this.#ref(e.ino);
          return { ...e, attr: this.getattr(e.ino) };
        });
      }
    }
    const mnt = join(tmp, 'plus');
    await mkdir(mnt);
    const plusfs = new PlusFs();
    const big = plusfs.add(1n, 'big', fsc.S_IFDIR | 0o755);
    for (let i = 0; i < 2000; i++) {
      plusfs.add(big.ino, `f${String(i).padStart(4, '0')}`, fsc.S_IFREG | 0o640, Buffer.alloc(i));
    }
    const session = await FuseSession.mount(mnt, plusfs, { attrTimeout: 60, entryTimeout: 60 });
    try {
      assert.ok(session.connection.want & caps.readdirplus, 'readdirplus offered');
      assert.ok(session.connection.want & caps.readdirplusAuto, 'the kernel chooses when');
      const lines = (await shOk('ls -l "$M/big"', { M: mnt })).split('\n').filter(Boolean);
      assert.equal(lines.length, 2001, lines.slice(0, 3).join('\n'));
      assert.match(lines[1]!, /^-rw-r----- 1 \S+ \S+ +0 .* f0000$/);
      assert.match(lines[2000]!, /^-rw-r----- 1 \S+ \S+ +1999 .* f1999$/);
      assert.ok(plusfs.readdirplusCalls > 2, `readdirplus calls: ${plusfs.readdirplusCalls}`);
      assert.ok(plusfs.lookups < 10, `lookups: ${plusfs.lookups}`);
      // Every entry the kernel took holds one reference (entries that did not
      // fit a reply were forgotten by the session already).
      const held = [...big.children!.values()].filter((ino) => plusfs.refs.get(ino) === 1).length;
      assert.equal(held, 2000);
      // Dropping the dentry cache makes the kernel forget each exactly as often.
      await shOk('sync; echo 2 > /proc/sys/vm/drop_caches');
      for (let i = 0; i < 50 && [...big.children!.values()].some((ino) => plusfs.refs.has(ino)); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal([...big.children!.values()].filter((ino) => plusfs.refs.has(ino)).length, 0);
    } finally {
      await session.unmount();
    }

    // Without the handler it is not offered, even when asked for by option.
    const plain = await FuseSession.mount(mnt, new MemFs(), { options: ['readdirplus=yes'] });
    try {
      assert.equal(plain.connection.want & caps.readdirplus, 0);
      assert.equal((await shOk('ls -la "$M"', { M: mnt })).split('\n').filter(Boolean).length, 3);
    } finally {
      await plain.unmount();
    }
  });

  it('leaves no mount behind when the daemon calls process.exit() while mounted', async () => {
    const mnt = join(tmp, 'exiting');
    await mkdir(mnt);
    const childScript = fileURLToPath(new URL('./mem-fs.js', import.meta.url));
    const r = await new Promise<ShResult>((resolve) =>
      execFile(process.execPath, [childScript, mnt, 'exit'], (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, stdout, stderr }),
      ),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'mounted\n');
    assert.equal(await isMountpoint(mnt), false);
    assert.equal((await stat(mnt)).dev, (await stat(tmp)).dev);
  });

  it('detects and clears the stale mount of a daemon killed with SIGKILL', async () => {
    const mnt = join(tmp, 'stale');
    await mkdir(mnt);
    const childScript = fileURLToPath(new URL('./mem-fs.js', import.meta.url));
    const child = spawn(process.execPath, [childScript, mnt], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('mounted')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`child exited (${code}) before mounting`)));
      });
      assert.equal((await shOk('cat "$M/hello.txt"', { M: mnt })), 'hello\n');
      assert.equal(await clearStaleMount(mnt), false, 'a live mount is not stale');
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    await assert.rejects(sh('ls "$M"', { M: mnt }).then((r) => {
      if (r.code !== 0) throw Object.assign(new Error(r.stderr), { code: /not connected/.test(r.stderr) ? 'ENOTCONN' : 'other' });
    }), { code: 'ENOTCONN' });
    assert.equal(await clearStaleMount(mnt), true);
    assert.equal(await isMountpoint(mnt), false);
    const [inner, outer] = await Promise.all([stat(mnt), stat(tmp)]);
    assert.equal(inner.dev, outer.dev);
    assert.equal(await clearStaleMount(mnt), false);
    assert.equal(await clearStaleMount(join(tmp, 'does-not-exist')), false);
  });
});
