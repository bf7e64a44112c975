// The VFS without FUSE: over the in-memory remote, over crypt(memory) and
// over crypt(local) — every cache mode, renames with uploads pending or in
// flight, recovery after a crash (a real child process killed with SIGKILL),
// and the ciphertext-only cache.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile as fsWriteFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Vfs, type FileHandle } from '../../../src/vfs/vfs.js';
import type { VfsOptions } from '../../../src/vfs/options.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import { LocalRemote } from '../../../src/remote/local.js';
import { CryptRemote, type CryptRemoteOptions } from '../../../src/remote/crypt.js';
import { deriveKeys } from '../../../src/crypt/keys.js';
import type { ByteSource, ReadRange, ReadWithInfo, Remote, WriteOptions } from '../../../src/remote/remote.js';
import { bytesOf, listAll, readAll } from '../../helpers/remote-contract.js';
import { errnoOf } from '../../../src/fuse/errno-map.js';
import { constants as osConstants } from 'node:os';
import { failOnFileHandlesClosedByGc } from '../../helpers/file-handle-gc.js';
import { ManualClock } from '../../helpers/manual-clock.js';
import { pollUntil } from '../../helpers/poll.js';

failOnFileHandlesClosedByGc();

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const keys = await deriveKeys('vfs-test-password', 'vfs-test-salt');
const cryptOptions: CryptRemoteOptions = {
  mode: 'standard',
  encoding: 'base32',
  directoryNameEncryption: true,
  noDataEncryption: false,
};

/** Holds the first write after reading all its bytes, until release(): an upload about to finish. */
class HeldRemote extends MemoryRemote {
  private open!: () => void;
  private readonly gate = new Promise<void>((r) => (this.open = r));
  private sawBytes!: () => void;
  readonly consumed = new Promise<void>((r) => (this.sawBytes = r));
  private held = false;

  override async write(path: string, source: ByteSource, options?: WriteOptions) {
    if (this.held) return super.write(path, source, options);
    this.held = true;
    const data = await readAll(source);
    this.sawBytes();
    await this.gate;
    return super.write(path, bytesOf(data), options);
  }

  release(): void {
    this.open();
  }
}

/** The memory remote with counters and a gate that holds uploads (to catch them in flight). */
class ProbeRemote extends MemoryRemote {
  reads = 0;
  writes = 0;
  gate: Promise<void> | undefined;
  writesStarted = 0;

  // Every read of the memory remote goes through openReadWithInfo (crypt's header read calls it directly).
  override async openReadWithInfo(path: string, range?: ReadRange): Promise<ReadWithInfo> {
    this.reads++;
    return super.openReadWithInfo(path, range);
  }

  override async write(path: string, source: ByteSource, options?: WriteOptions) {
    this.writesStarted++;
    if (this.gate) await this.gate;
    this.writes++;
    return super.write(path, source, options);
  }
}

/** The error answers errno `code` at the FUSE edge. */
const errno = (code: string) => (err: unknown) => {
  assert.equal(errnoOf(err), (osConstants.errno as Record<string, number>)[code], `expected ${code}, got ${String(err)}`);
  return true;
};

async function writeAll(h: FileHandle, data: Buffer, piece = 100_000, offset = 0): Promise<void> {
  for (let i = 0; i < data.length; i += piece) {
    const part = data.subarray(i, i + piece);
    assert.equal(await h.write(Buffer.from(part), offset + i), part.length);
  }
}

async function putFile(vfs: Vfs, path: string, data: Buffer): Promise<void> {
  const h = await vfs.open(path, { read: false, write: true, create: true, truncate: true });
  await writeAll(h, data);
  await h.flush();
  await h.release();
}

async function getFile(vfs: Vfs, path: string): Promise<Buffer> {
  const h = await vfs.open(path, { read: true, write: false });
  const parts: Buffer[] = [];
  for (let off = 0; ; ) {
    const b = await h.read(off, 131072);
    if (b.length === 0) break;
    parts.push(Buffer.from(b));
    off += b.length;
  }
  await h.flush();
  await h.release();
  return Buffer.concat(parts);
}

async function remoteBytes(remote: Remote, path: string): Promise<Buffer> {
  return readAll(await remote.openRead(path));
}

async function names(vfs: Vfs, dir: string): Promise<string[]> {
  return (await vfs.readDir(dir)).map((e) => e.name + (e.isDir ? '/' : '')).sort();
}

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cryptfs-vfs-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

let cacheCount = 0;
const newCacheDir = () => join(tmp, `cache-${cacheCount++}`);

async function makeVfs(remote: Remote, options: Partial<VfsOptions>): Promise<Vfs> {
  return Vfs.create(remote, { cacheDir: options.cacheMode === 'off' ? undefined : newCacheDir(), ...options });
}

describe('vfs, --vfs-cache-mode off, over memory', () => {
  it('streams sequential writes to the remote, which has the object when close returns', async () => {
    const remote = new ProbeRemote();
    const vfs = await makeVfs(remote, { cacheMode: 'off' });
    await vfs.mkdir('dir');
    const data = randomBytes(1_234_567);
    const h = await vfs.open('dir/a.bin', { read: false, write: true, create: true });
    await h.flush(); // dd and shells close a dup of the descriptor before writing: ignored
    assert.deepEqual(await names(vfs, 'dir'), ['a.bin'], 'visible while being written');
    await writeAll(h, data);
    assert.equal((await vfs.stat('dir/a.bin')).size, data.length);
    await h.flush();
    assert.equal(sha(await remoteBytes(remote, 'dir/a.bin')), sha(data), 'on the remote when close returns');
    await h.release();
    assert.equal(sha(await getFile(vfs, 'dir/a.bin')), sha(data));
    assert.equal((await vfs.stat('dir/a.bin')).size, data.length);
    assert.deepEqual(await vfs.close(), []);
  });

  it('accepts writes the kernel reordered; refuses reads with EBADF', async () => {
    const remote = new ProbeRemote();
    const clock = new ManualClock();
    const vfs = await makeVfs(remote, { cacheMode: 'off', writeWaitMs: 200, clock });
    const h = await vfs.open('f', { read: true, write: true, create: true });
    const a = randomBytes(4096);
    const b = randomBytes(4096);
    const late = h.write(b, 4096); // arrives first
    assert.equal(clock.nextDue(), 200, 'parked for --vfs-write-wait');
    clock.advance(199);
    await h.write(a, 0);
    await late;
    assert.equal(clock.pending, 0, 'the wait ends when the gap is filled');
    await assert.rejects(h.read(0, 10), errno('EBADF'));
    await h.flush();
    await h.release();
    assert.deepEqual(await remoteBytes(remote, 'f'), Buffer.concat([a, b]));
    await vfs.close();
  });

  it('a refused write (ESPIPE, or a gap never filled) abandons the upload: the remote keeps the previous version', async () => {
    const remote = new ProbeRemote();
    await remote.write('f', bytesOf(Buffer.from('previous')));
    await remote.write('g', bytesOf(Buffer.from('previous g')));
    const clock = new ManualClock();
    const vfs = await makeVfs(remote, { cacheMode: 'off', writeWaitMs: 100, clock });
    const h = await vfs.open('f', { read: false, write: true, truncate: true });
    await h.write(randomBytes(4096), 0);
    await assert.rejects(h.write(randomBytes(10), 100), errno('ESPIPE'));
    await assert.rejects(h.write(randomBytes(10), 4096), errno('ESPIPE'), 'nothing is accepted after a refusal');
    await assert.rejects(h.flush(), errno('EIO'));
    await h.release();
    assert.equal((await remoteBytes(remote, 'f')).toString(), 'previous');
    const g = await vfs.open('g', { read: false, write: true, truncate: true });
    await g.write(randomBytes(10), 0);
    const gap = g.write(randomBytes(10), 100_000);
    assert.equal(clock.nextDue(), 100, 'waits --vfs-write-wait for the gap');
    clock.advance(99);
    assert.equal(clock.pending, 1);
    clock.advance(1);
    await assert.rejects(gap, errno('ESPIPE'), 'gap never filled');
    await assert.rejects(g.flush(), errno('EIO'));
    await g.release();
    assert.equal((await remoteBytes(remote, 'g')).toString(), 'previous g');
    assert.equal((await vfs.stat('g')).size, 'previous g'.length, 'the listing shows the previous version');
    await vfs.close();
  });

  it('an open for writing without O_TRUNC of an existing file fails with EPERM and leaves it as it was', async () => {
    const remote = new ProbeRemote();
    await remote.write('keep', bytesOf(Buffer.from('contents')));
    const vfs = await makeVfs(remote, { cacheMode: 'off' });
    await assert.rejects(vfs.open('keep', { read: false, write: true, create: true }), errno('EPERM'));
    await assert.rejects(vfs.open('keep', { read: false, write: true, append: true }), errno('EPERM'));
    await assert.rejects(vfs.open('keep', { read: true, write: true }), errno('EPERM'));
    assert.equal((await remoteBytes(remote, 'keep')).toString(), 'contents');
    await vfs.truncate('keep', 0);
    assert.equal((await remoteBytes(remote, 'keep')).length, 0);
    await assert.rejects(vfs.truncate('keep', 10), errno('EPERM'));
    await vfs.close();
  });

  it('mkdir, rmdir (ENOTEMPTY), unlink, O_EXCL, EISDIR/ENOTDIR, read-only', async () => {
    const remote = new ProbeRemote();
    const vfs = await makeVfs(remote, { cacheMode: 'off' });
    await vfs.mkdir('d');
    await assert.rejects(vfs.mkdir('d'), errno('EEXIST'));
    await assert.rejects(vfs.mkdir('nope/sub'), errno('ENOENT'));
    await putFile(vfs, 'd/x', Buffer.from('x'));
    await assert.rejects(vfs.rmdir('d'), errno('ENOTEMPTY'));
    await assert.rejects(vfs.rmdir('d/x'), errno('ENOTDIR'));
    await assert.rejects(vfs.unlink('d'), errno('EISDIR'));
    await assert.rejects(vfs.open('d/x', { read: false, write: true, create: true, exclusive: true }), errno('EEXIST'));
    await assert.rejects(vfs.open('d/none', { read: true, write: false }), errno('ENOENT'));
    await vfs.unlink('d/x');
    await assert.rejects(vfs.stat('d/x'), errno('ENOENT'));
    assert.equal(remote.objects.size, 0);
    await vfs.rmdir('d');
    await assert.rejects(vfs.stat('d'), errno('ENOENT'));
    await vfs.close();

    const ro = await makeVfs(remote, { cacheMode: 'off', readOnly: true });
    await assert.rejects(ro.mkdir('e'), errno('EROFS'));
    await assert.rejects(ro.open('new', { read: false, write: true, create: true }), errno('EROFS'));
    await ro.close();
  });

  it('renames files (over existing ones, not with noReplace) and whole directories', async () => {
    const remote = new ProbeRemote();
    const vfs = await makeVfs(remote, { cacheMode: 'off' });
    await vfs.mkdir('a');
    await vfs.mkdir('a/empty');
    await vfs.mkdir('a/b');
    const files: Record<string, Buffer> = {};
    for (const p of ['a/1', 'a/b/2', 'a/b/3', 'top']) {
      files[p] = randomBytes(1000 + p.length);
      await putFile(vfs, p, files[p]);
    }
    await vfs.rename('top', 'a/b/2-new');
    await putFile(vfs, 'top', Buffer.from('second'));
    await assert.rejects(vfs.rename('top', 'a/b/2-new', { noReplace: true }), errno('EEXIST'));
    await vfs.rename('top', 'a/b/2-new');
    assert.equal((await getFile(vfs, 'a/b/2-new')).toString(), 'second');
    await assert.rejects(vfs.stat('top'), errno('ENOENT'));
    await assert.rejects(vfs.rename('a', 'a/b/inside'), errno('EINVAL'));
    await vfs.rename('a', 'z');
    assert.deepEqual(await names(vfs, ''), ['z/']);
    assert.deepEqual(await names(vfs, 'z'), ['1', 'b/', 'empty/']);
    assert.deepEqual(await names(vfs, 'z/b'), ['2', '2-new', '3']);
    assert.deepEqual(await getFile(vfs, 'z/b/3'), files['a/b/3']);
    assert.deepEqual([...remote.objects.keys()].sort(), ['z/1', 'z/b/2', 'z/b/2-new', 'z/b/3']);
    await vfs.mkdir('y');
    await putFile(vfs, 'y/f', Buffer.from('f'));
    await assert.rejects(vfs.rename('z', 'y'), errno('ENOTEMPTY'));
    await assert.rejects(vfs.rename('z', 'y/f'), errno('ENOTDIR'));
    await assert.rejects(vfs.rename('y/f', 'z'), errno('EISDIR'));
    const st = await vfs.statfs();
    assert.ok(st.blocks > 0 && st.blocksFree > 0 && st.nameMax > 0);
    await vfs.close();
  });

  it('streams large directory listings', async () => {
    const remote = new ProbeRemote();
    for (let i = 0; i < 3000; i++) await remote.write(`big/f${i}`, bytesOf(Buffer.from(String(i))));
    const vfs = await makeVfs(remote, { cacheMode: 'off' });
    const reader = await vfs.openDir('big');
    const first = await reader.read(0, 100);
    assert.ok(first.length > 0 && first.length <= 100);
    const all = await reader.all();
    assert.equal(all.length, 3000);
    assert.equal((await vfs.stat('big/f2999')).size, 4);
    await vfs.close();
  });
});

describe('vfs, --vfs-cache-mode writes, over crypt(memory)', () => {
  it('random writes and truncates into an existing file fetch only the blocks they touch', async () => {
    const base = new ProbeRemote();
    const remote = new CryptRemote(base, keys, cryptOptions);
    let model = randomBytes(3_000_000);
    await remote.write('big.bin', bytesOf(model));
    const vfs = await makeVfs(remote, { cacheMode: 'writes', writeBackMs: 60_000 });
    const h = await vfs.open('big.bin', { read: true, write: true });
    base.reads = 0;
    for (const [off, len] of [
      [10, 100],
      [1_500_000, 70_000],
      [2_999_990, 50],
    ]) {
      const buf = randomBytes(len);
      await h.write(buf, off);
      const next = Buffer.alloc(Math.max(model.length, off + len));
      model.copy(next);
      buf.copy(next, off);
      model = next;
    }
    assert.ok(base.reads <= 8, `ranged reads only (${base.reads})`);
    assert.deepEqual(await h.read(1_499_990, 100), model.subarray(1_499_990, 1_500_090));
    await h.truncate(2_000_000);
    model = model.subarray(0, 2_000_000);
    assert.equal((await vfs.stat('big.bin')).size, 2_000_000);
    // Read-while-write from another open.
    const r = await vfs.open('big.bin', { read: true, write: false });
    assert.deepEqual(await r.read(0, 200), model.subarray(0, 200));
    await r.release();
    await h.fsync();
    assert.equal(sha(await remoteBytes(remote, 'big.bin')), sha(model), 'fsync returns once the remote has it');
    await h.release();
    await vfs.truncate('big.bin', 10);
    assert.equal((await vfs.stat('big.bin')).size, 10);
    await vfs.waitIdle();
    assert.deepEqual(await remoteBytes(remote, 'big.bin'), model.subarray(0, 10));
    assert.deepEqual(await vfs.close(), []);
  });

  it('O_APPEND writes land at the end, also when they race', async () => {
    const remote = new CryptRemote(new ProbeRemote(), keys, cryptOptions);
    const vfs = await makeVfs(remote, { cacheMode: 'writes', writeBackMs: 60_000 });
    await putFile(vfs, 'log', Buffer.from('start\n'));
    const a = await vfs.open('log', { read: false, write: true, append: true });
    const b = await vfs.open('log', { read: false, write: true, append: true });
    await Promise.all([a.write(Buffer.from('one\n'), 0), b.write(Buffer.from('two\n'), 0), a.write(Buffer.from('three\n'), 0)]);
    await a.release();
    await b.release();
    const text = (await getFile(vfs, 'log')).toString();
    assert.equal(text.length, 'start\none\ntwo\nthree\n'.length);
    assert.ok(text.startsWith('start\n') && ['one', 'two', 'three'].every((w) => text.includes(`${w}\n`)), text);
    await vfs.close();
    assert.equal((await remoteBytes(remote, 'log')).toString(), text);
  });

  it('uploads after the write-back delay, once', async () => {
    const base = new ProbeRemote();
    const remote = new CryptRemote(base, keys, cryptOptions);
    const clock = new ManualClock();
    const vfs = await makeVfs(remote, { cacheMode: 'writes', writeBackMs: 150, clock });
    const h = await vfs.open('f', { read: true, write: true, create: true });
    await writeAll(h, Buffer.from('first'));
    await h.release();
    assert.equal(clock.nextDue(), 150, 'the close armed the write-back timer');
    clock.advance(100);
    const h2 = await vfs.open('f', { read: true, write: true });
    assert.equal(clock.pending, 0, 'reopening cancels it');
    await h2.write(Buffer.from('FIRST and more'), 0);
    await h2.release();
    assert.equal((await getFile(vfs, 'f')).toString(), 'FIRST and more', 'readable from the cache meanwhile');
    assert.equal(clock.nextDue(), 150, 'the last close starts the delay again');
    clock.advance(149);
    assert.equal(clock.pending, 1, 'not before the delay');
    assert.equal(base.writesStarted, 0);
    assert.deepEqual(vfs.dirtyPaths(), ['f']);
    assert.equal(clock.advance(1), 1, 'the upload starts when the delay is over');
    await pollUntil('the upload to finish', () => base.writes === 1 && vfs.dirtyPaths().length === 0);
    assert.equal((await remoteBytes(remote, 'f')).toString(), 'FIRST and more');
    assert.equal(clock.pending, 0, 'nothing more is scheduled');
    clock.advance(3_600_000);
    assert.equal(base.writesStarted, 1, 'once');
    await vfs.close();
  });

  it('a failed upload is retried after a back-off, on the VFS clock', async () => {
    const base = new ProbeRemote();
    const clock = new ManualClock();
    const vfs = await makeVfs(base, { cacheMode: 'writes', writeBackMs: 0, clock });
    let fail = true;
    const write = base.write.bind(base);
    base.write = async (path, source, options) => {
      if (fail) throw new Error('injected upload failure');
      return write(path, source, options);
    };
    await putFile(vfs, 'f', Buffer.from('retried'));
    await pollUntil('the failed upload to be rescheduled', () => clock.pending === 1);
    assert.equal(clock.nextDue(), 2000, 'the first retry waits 2 s');
    fail = false;
    clock.advance(1999);
    assert.deepEqual(vfs.dirtyPaths(), ['f'], 'not retried early');
    clock.advance(1);
    await pollUntil('the retry to upload', () => vfs.dirtyPaths().length === 0);
    assert.equal((await remoteBytes(base, 'f')).toString(), 'retried');
    await vfs.close();
  });

  it('listings are trusted for --dir-cache-time on the VFS clock, then read again', async () => {
    const remote = new ProbeRemote();
    const clock = new ManualClock();
    const vfs = await makeVfs(remote, { cacheMode: 'off', dirCacheTimeMs: 60_000, clock });
    assert.deepEqual(await names(vfs, ''), []);
    await remote.write('behind-its-back', bytesOf(Buffer.from('x')));
    clock.advance(59_999);
    assert.deepEqual(await names(vfs, ''), [], 'the cached listing, until the time is up');
    clock.advance(1);
    assert.deepEqual(await names(vfs, ''), ['behind-its-back'], 'listed again');
    await vfs.close();
  });

  it('a directory renamed while its files wait for upload keeps every file, through the VFS and on the remote', async () => {
    const base = new ProbeRemote();
    const remote = new CryptRemote(base, keys, cryptOptions);
    const vfs = await makeVfs(remote, { cacheMode: 'writes', writeBackMs: 60_000 });
    await vfs.mkdir('src');
    await vfs.mkdir('src/sub');
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 20; i++) {
      const p = i % 2 ? `src/sub/f${i}` : `src/f${i}`;
      files.set(p, randomBytes(10_000 + i * 1000));
      await putFile(vfs, p, files.get(p)!);
    }
    // One file already uploaded before, and changed again since.
    await vfs.waitIdle();
    await putFile(vfs, 'src/f0', Buffer.from('changed'));
    files.set('src/f0', Buffer.from('changed'));
    assert.ok(vfs.dirtyPaths().length === 1);
    await vfs.rename('src', 'dst');
    for (const [p, data] of files) {
      assert.deepEqual(await getFile(vfs, p.replace(/^src/, 'dst')), data, p);
      await assert.rejects(vfs.stat(p), errno('ENOENT'));
    }
    assert.deepEqual(await names(vfs, 'dst/sub'), ['f1', 'f11', 'f13', 'f15', 'f17', 'f19', 'f3', 'f5', 'f7', 'f9']);
    await vfs.waitIdle();
    for (const [p, data] of files) assert.deepEqual(await remoteBytes(remote, p.replace(/^src/, 'dst')), data, p);
    assert.equal((await listAll(remote, '')).map((e) => e.path).join(), 'dst');
    await vfs.close();
  });

  it('a write that starts while the previous upload finishes is uploaded too (git appends, CI flake)', async () => {
    // The upload of the old contents has consumed its bytes and waits for the remote; a write
    // marks the file dirty and then changes it. The upload ending in between must not mark it clean.
    for (let round = 0; round < 5; round++) {
      const base = new HeldRemote();
      const vfs = await makeVfs(base, { cacheMode: 'writes', writeBackMs: 0 });
      await putFile(vfs, 'f.txt', Buffer.from('line 1\n'));
      await base.consumed;
      const h = await vfs.open('f.txt', { read: false, write: true, append: true });
      const wrote = h.write(Buffer.from('line 2\n'), 0);
      base.release();
      await wrote;
      await h.release();
      await vfs.waitIdle();
      assert.equal((await remoteBytes(base, 'f.txt')).toString(), 'line 1\nline 2\n', `round ${round}`);
      await vfs.close();
    }
  });

  it('a directory renamed while uploads are in flight waits for them and moves their objects', async () => {
    const base = new ProbeRemote();
    const remote = new CryptRemote(base, keys, cryptOptions);
    const vfs = await makeVfs(remote, { cacheMode: 'writes', writeBackMs: 0, transfers: 2 });
    let open!: () => void;
    base.gate = new Promise((r) => (open = r));
    await vfs.mkdir('d');
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 6; i++) {
      files.set(`d/f${i}`, randomBytes(5000 + i));
      await putFile(vfs, `d/f${i}`, files.get(`d/f${i}`)!);
    }
    await pollUntil('two uploads in flight', () => base.writesStarted >= 2);
    let renamed = false;
    const rename = vfs.rename('d', 'e').then(() => (renamed = true));
    // Kept a real pause: a window in which a rename that did not wait would finish. That it
    // does not happen can't be polled for; the gate holds the uploads however long this is.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(renamed, false, 'waits for the uploads in flight');
    base.gate = undefined;
    open();
    await rename;
    for (const [p, data] of files) assert.deepEqual(await getFile(vfs, p.replace(/^d/, 'e')), data);
    await vfs.waitIdle();
    for (const [p, data] of files) assert.deepEqual(await remoteBytes(remote, p.replace(/^d/, 'e')), data, p);
    assert.deepEqual((await listAll(remote, '')).map((e) => e.path), ['e']);
    await vfs.close();
  });

  it('utimens reaches the remote: on a dirty file with its upload, on a clean open file (touch) at once', async () => {
    const base = new ProbeRemote();
    const remote = new CryptRemote(base, keys, cryptOptions);
    await remote.write('clean', bytesOf(Buffer.from('c')));
    const vfs = await makeVfs(remote, { cacheMode: 'writes', writeBackMs: 60_000 });
    const t1 = new Date('2001-02-03T04:05:06.123Z');
    const t2 = new Date('2002-02-03T04:05:06.456Z');
    await putFile(vfs, 'dirty', Buffer.from('d'));
    await vfs.setMtime('dirty', t1);
    assert.equal((await vfs.stat('dirty')).mtime.getTime(), t1.getTime());
    const h = await vfs.open('clean', { read: false, write: true, create: true });
    await vfs.setMtime('clean', t2);
    await h.flush();
    await h.release();
    assert.equal((await remote.stat('clean')).mtime.getTime(), t2.getTime());
    assert.deepEqual(vfs.dirtyPaths(), ['dirty'], 'touch does not make a file dirty');
    await vfs.waitIdle();
    assert.equal((await remote.stat('dirty')).mtime.getTime(), t1.getTime());
    await vfs.close();
  });

  it('unlink and rename over files whose upload is pending', async () => {
    const base = new ProbeRemote();
    const remote = new CryptRemote(base, keys, cryptOptions);
    const vfs = await makeVfs(remote, { cacheMode: 'writes', writeBackMs: 60_000 });
    await putFile(vfs, 'gone', Buffer.from('gone'));
    await vfs.unlink('gone');
    await putFile(vfs, 'a', Buffer.from('A'));
    await putFile(vfs, 'b', Buffer.from('B'));
    await vfs.rename('a', 'b');
    assert.deepEqual(await names(vfs, ''), ['b']);
    assert.equal((await getFile(vfs, 'b')).toString(), 'A');
    assert.deepEqual(await vfs.close(), []);
    assert.deepEqual((await listAll(remote, '')).map((e) => e.path), ['b']);
    assert.equal((await remoteBytes(remote, 'b')).toString(), 'A');
  });
});

describe('vfs, --vfs-cache-mode full, over crypt(memory)', () => {
  it('evicts clean cached files beyond --vfs-cache-max-size and --vfs-cache-max-age, never dirty ones', async () => {
    const base = new ProbeRemote();
    const remote = new CryptRemote(base, keys, cryptOptions);
    for (let i = 0; i < 4; i++) await remote.write(`f${i}`, bytesOf(randomBytes(600_000)));
    const cacheDir = newCacheDir();
    const clock = new ManualClock();
    const vfs = await Vfs.create(remote, {
      cacheMode: 'full',
      cacheDir,
      cacheMaxSizeBytes: 1_500_000,
      cachePollIntervalMs: 0,
      writeBackMs: 60_000,
      clock,
    });
    // Least recently used first: f1, f2, f3, then f0 (read again last).
    for (const name of ['f0', 'f1', 'f2', 'f3', 'f0']) {
      await getFile(vfs, name);
      clock.advance(1000);
    }
    await putFile(vfs, 'dirty', randomBytes(700_000));
    const diskBytes = async () => {
      let n = 0;
      for (const f of await readdir(join(cacheDir, 'data'))) n += (await stat(join(cacheDir, 'data', f))).size;
      return n;
    };
    assert.ok((await diskBytes()) > 3_000_000);
    await vfs.evict();
    assert.equal((await readdir(join(cacheDir, 'data'))).length, 2, 'the most recently used clean file and the dirty one');
    const reads = base.reads;
    await getFile(vfs, 'f0');
    assert.equal(base.reads, reads, 'the most recently used stayed cached');
    await getFile(vfs, 'f3');
    assert.ok(base.reads > reads, 'the others were evicted');
    assert.deepEqual(vfs.dirtyPaths(), ['dirty']);
    await vfs.close();

    // --vfs-cache-max-age (1 h), checked every --vfs-cache-poll-interval (1 min) on the VFS clock.
    const aged = await Vfs.create(remote, { cacheMode: 'full', cacheDir, cacheMaxAgeMs: 3_600_000, cachePollIntervalMs: 60_000, clock });
    await getFile(aged, 'f1');
    assert.equal(clock.advance(3_600_000), 60, 'the poll ran every minute');
    const kept = base.reads;
    await getFile(aged, 'f1');
    assert.equal(base.reads, kept, 'not evicted at exactly the maximum age');
    assert.equal((await readdir(join(cacheDir, 'data'))).length, 1);
    clock.advance(3_600_000 + 60_000);
    await pollUntil('the aged copy to leave the cache', async () => (await readdir(join(cacheDir, 'data'))).length === 0);
    await aged.close();
    assert.equal(clock.pending, 0, 'close stops the poll');
  });

  it('a damaged object reads as EIO (authentication failure)', async () => {
    const base = new ProbeRemote();
    const remote = new CryptRemote(base, keys, cryptOptions);
    await remote.write('bad', bytesOf(randomBytes(200_000)));
    const [enc] = [...base.objects.keys()];
    base.objects.get(enc)!.data[100_000] ^= 1;
    for (const cacheMode of ['off', 'full'] as const) {
      const vfs = await makeVfs(remote, { cacheMode });
      const h = await vfs.open('bad', { read: true, write: false });
      assert.equal((await h.read(0, 1000)).length, 1000, 'chunks before the damage read fine');
      await assert.rejects(h.read(65536, 131072), errno('EIO'));
      await h.release();
      await vfs.close();
    }
  });
});

describe('vfs over crypt(local)', () => {
  let remoteDir: string;
  let remote: CryptRemote;
  before(async () => {
    remoteDir = await mkdtemp(join(tmp, 'remote-'));
    remote = new CryptRemote(new LocalRemote(remoteDir), keys, cryptOptions);
  });

  it('names the crypt format cannot hold fail with ENAMETOOLONG', async () => {
    const vfs = await makeVfs(remote, { cacheMode: 'writes' });
    await assert.rejects(vfs.open('n'.repeat(200), { read: false, write: true, create: true }), errno('ENAMETOOLONG'));
    await assert.rejects(vfs.mkdir('d'.repeat(200)), errno('ENAMETOOLONG'));
    const max = (await vfs.statfs()).nameMax;
    assert.ok(max > 100 && max < 200, `nameMax ${max}`);
    await putFile(vfs, 'n'.repeat(max), Buffer.from('fits'));
    await vfs.close();
  });

  it('--vfs-cache-mode full: no plaintext byte in the cache; cached reads are reused until the remote changes', async () => {
    const cacheDir = newCacheDir();
    const vfs = await Vfs.create(remote, { cacheMode: 'full', cacheDir, writeBackMs: 60_000 });
    const marker = `UNIQUE-MARKER-${randomBytes(12).toString('hex')}`;
    const body = Buffer.from(`${marker}\n`.repeat(20_000));
    await putFile(vfs, 'marked-file-name.txt', body);
    const h = await vfs.open('marked-file-name.txt', { read: true, write: true });
    await h.write(Buffer.from(marker), 77_777);
    body.write(marker, 77_777);
    await h.fsync();
    await h.release();
    assert.deepEqual(await getFile(vfs, 'marked-file-name.txt'), body);
    const scan = async (dir: string): Promise<string[]> => {
      const hits: string[] = [];
      for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
        if (!e.isFile()) continue;
        const p = join(e.parentPath ?? e.path, e.name);
        const content = await readFile(p);
        if (content.includes(marker) || content.includes('marked-file-name')) hits.push(p);
      }
      return hits;
    };
    assert.ok((await readdir(join(cacheDir, 'data'))).length > 0, 'the cache holds the file');
    assert.deepEqual(await scan(cacheDir), []);
    assert.deepEqual(await scan(remoteDir), []);
    await vfs.close();

    // Reads are cached, and re-fetched after the object changed behind our back.
    const base = new ProbeRemote();
    const cr = new CryptRemote(base, keys, cryptOptions);
    await cr.write('r', bytesOf(randomBytes(500_000)));
    const full = await Vfs.create(cr, { cacheMode: 'full', cacheDir: newCacheDir(), dirCacheTimeMs: 0 });
    const first = await getFile(full, 'r');
    const readsAfterFirst = base.reads;
    assert.deepEqual(await getFile(full, 'r'), first);
    assert.equal(base.reads, readsAfterFirst, 'second read served from the cache');
    const changed = randomBytes(400_000);
    await cr.write('r', bytesOf(changed));
    assert.deepEqual(await getFile(full, 'r'), changed);
    await full.close();
  });

  it('a daemon killed right after a write returned: the next VFS uploads closed files, keeps open ones aside', async () => {
    const cacheDir = newCacheDir();
    const existing = randomBytes(300_000);
    await remote.write('existing.bin', bytesOf(existing));
    const stillOpen = randomBytes(200_000);
    await remote.write('open.bin', bytesOf(stillOpen));
    const script = join(tmp, 'crash-child.mjs');
    const dist = (rel: string) => new URL(`../../../src/${rel}`, import.meta.url).href;
    await fsWriteFile(
      script,
      `
      import { Vfs } from ${JSON.stringify(dist('vfs/vfs.js'))};
      import { CryptRemote } from ${JSON.stringify(dist('remote/crypt.js'))};
      import { LocalRemote } from ${JSON.stringify(dist('remote/local.js'))};
      import { deriveKeys } from ${JSON.stringify(dist('crypt/keys.js'))};
      const keys = await deriveKeys('vfs-test-password', 'vfs-test-salt');
      const remote = new CryptRemote(new LocalRemote(process.argv[2]), keys, ${JSON.stringify(cryptOptions)});
      const vfs = await Vfs.create(remote, { cacheMode: 'writes', cacheDir: process.argv[3], writeBackMs: 600000 });
      const h = await vfs.open('new/crash.bin', { read: false, write: true, create: true }).catch(async () => {
        await vfs.mkdir('new');
        return vfs.open('new/crash.bin', { read: false, write: true, create: true });
      });
      const data = Buffer.alloc(200000, 7);
      await h.write(data, 0);
      await h.write(Buffer.from('tail'), 200000);
      const e = await vfs.open('existing.bin', { read: true, write: true });
      await e.write(Buffer.from('PATCHED'), 100000);
      await e.truncate(250000);
      await h.release();
      await e.release();
      await vfs.rename('new/crash.bin', 'new/renamed.bin');
      // Never closed nor fsynced when the daemon dies: half-written as far as anyone knows.
      const o = await vfs.open('open.bin', { read: true, write: true });
      await o.write(Buffer.from('HALF-WRITTEN'), 5000);
      process.kill(process.pid, 'SIGKILL');
      `,
    );
    const code = await new Promise<string | null>((resolve) => {
      const child = spawn(process.execPath, [script, remoteDir, cacheDir], { stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('exit', (_c, signal) => resolve(signal));
    });
    assert.equal(code, 'SIGKILL');
    await assert.rejects(remote.stat('new/renamed.bin'), 'not uploaded before the kill');
    const vfs = await Vfs.create(remote, { cacheMode: 'writes', cacheDir });
    await vfs.waitIdle();
    const expectNew = Buffer.concat([Buffer.alloc(200000, 7), Buffer.from('tail')]);
    assert.deepEqual(await remoteBytes(remote, 'new/renamed.bin'), expectNew);
    const expectExisting = Buffer.from(existing.subarray(0, 250000));
    expectExisting.write('PATCHED', 100000);
    assert.deepEqual(await remoteBytes(remote, 'existing.bin'), expectExisting);
    // The open file keeps its saved version; its unsaved bytes are beside it.
    assert.deepEqual(await remoteBytes(remote, 'open.bin'), stillOpen);
    const names: string[] = [];
    for await (const entry of remote.list('')) names.push(entry.path);
    const side = names.filter((n) => /^open\.bin\.cryptfs-recovered-\d{8}T\d{6}$/.test(n));
    assert.equal(side.length, 1, `one side file: ${names.join(', ')}`);
    const expectSide = Buffer.from(stillOpen);
    expectSide.write('HALF-WRITTEN', 5000);
    assert.deepEqual(await remoteBytes(remote, side[0]), expectSide);
    assert.deepEqual(await vfs.close(), []);
    assert.equal((await stat(join(cacheDir, 'journal'))).size, 0, 'journal empty after a clean stop');
    assert.deepEqual(await readdir(join(cacheDir, 'data')), []);
  });
});

void fileURLToPath;
