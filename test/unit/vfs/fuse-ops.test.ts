// The FUSE operations over a VFS, called directly (no kernel): inode numbers
// across lookups and renames, readdir offsets with "." and "..", open flags,
// attributes with the mount's owner and permissions, errno of typed errors.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants as fsc } from 'node:fs';
import os from 'node:os';
import { VfsFuseOps, openFlagsFrom } from '../../../src/fuse/fuse-ops.js';
import { errnoOf } from '../../../src/fuse/errno-map.js';
import { Vfs } from '../../../src/vfs/vfs.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import { LocalRemote } from '../../../src/remote/local.js';
import { CryptRemote } from '../../../src/remote/crypt.js';
import { deriveKeys } from '../../../src/crypt/keys.js';
import { configureLog } from '../../../src/log.js';
import type { ReadRange } from '../../../src/remote/remote.js';
import { bytesOf } from '../../helpers/remote-contract.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

// Cache directories of the tests below, removed at the end (they were left in the temp directory).
const cacheDirs: string[] = [];
async function cacheDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-fuseops-'));
  cacheDirs.push(dir);
  return dir;
}
after(async () => {
  for (const dir of cacheDirs) await rm(dir, { recursive: true, force: true });
});
import { failOnFileHandlesClosedByGc } from '../../helpers/file-handle-gc.js';

failOnFileHandlesClosedByGc();

const caller = { uid: 0, gid: 0 };
const errnoIs = (name: string) => (err: unknown) => {
  assert.equal(errnoOf(err), (os.constants.errno as Record<string, number>)[name], String(err));
  return true;
};

describe('VfsFuseOps', () => {
  it('maps open(2) flags', () => {
    assert.deepEqual(openFlagsFrom(fsc.O_RDONLY), {
      read: true,
      write: false,
      truncate: false,
      append: false,
      create: false,
      exclusive: false,
    });
    const f = openFlagsFrom(fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL | fsc.O_TRUNC | fsc.O_APPEND);
    assert.deepEqual(f, { read: true, write: true, truncate: true, append: true, create: true, exclusive: true });
    assert.equal(openFlagsFrom(fsc.O_WRONLY).read, false);
  });

  it('fstat of an unlinked file still open (getattr without the handle) answers nlink 0, not ENOENT', async () => {
    const vfs = await Vfs.create(new MemoryRemote(), { cacheMode: 'writes', cacheDir: await cacheDir() });
    const ops = new VfsFuseOps(vfs, { uid: 1, gid: 2, umask: 0, dirPerms: 0o700, filePerms: 0o600 });
    const made = await ops.create(1n, 'gone.txt', 0o644, fsc.O_RDWR | fsc.O_CREAT, caller);
    await ops.write(made.attr.ino, made.fh, Buffer.from('still here'), 0);
    assert.equal((await ops.getattr(made.attr.ino, undefined)).nlink, 1);
    await ops.unlink(1n, 'gone.txt');
    const st = await ops.getattr(made.attr.ino, undefined);
    assert.equal(st.nlink, 0);
    assert.equal(st.size, 10);
    await ops.release(made.attr.ino, made.fh, 0);
    await assert.rejects(ops.getattr(made.attr.ino, undefined), errnoIs('ENOENT'));
    await vfs.close();
    // A clean file (already on the remote) opened read-only, as pjdfstest unlink/14.t does.
    const off = await Vfs.create(new MemoryRemote(), { cacheMode: 'off' });
    const offOps = new VfsFuseOps(off, { uid: 1, gid: 2, umask: 0, dirPerms: 0o700, filePerms: 0o600 });
    const kept = await offOps.create(1n, 'kept.txt', 0o644, fsc.O_WRONLY | fsc.O_CREAT, caller);
    await offOps.write(kept.attr.ino, kept.fh, Buffer.from('abc'), 0);
    await offOps.release(kept.attr.ino, kept.fh, 0);
    const reader = await offOps.open(kept.attr.ino, fsc.O_RDONLY);
    await offOps.unlink(1n, 'kept.txt');
    assert.equal((await offOps.getattr(kept.attr.ino, reader.fh)).nlink, 0, 'fstat with the handle');
    assert.equal((await offOps.getattr(kept.attr.ino, undefined)).nlink, 0, 'fstat without it');
    await offOps.release(kept.attr.ino, reader.fh, 0);
    await off.close();
    // pjdfstest unlink/14.t exactly: an empty file created and closed (not uploaded yet), opened read-only, unlinked.
    const cached = await Vfs.create(new MemoryRemote(), { cacheMode: 'writes', cacheDir: await cacheDir() });
    const cOps = new VfsFuseOps(cached, { uid: 1, gid: 2, umask: 0, dirPerms: 0o700, filePerms: 0o600 });
    const empty = await cOps.create(1n, 'empty', 0o644, fsc.O_WRONLY | fsc.O_CREAT, caller);
    await cOps.release(empty.attr.ino, empty.fh, 0);
    const r2 = await cOps.open(empty.attr.ino, fsc.O_RDONLY);
    await cOps.unlink(1n, 'empty');
    assert.equal((await cOps.getattr(empty.attr.ino, r2.fh)).nlink, 0, 'fstat with the handle (writes)');
    assert.equal((await cOps.getattr(empty.attr.ino, undefined)).nlink, 0, 'fstat without it (writes)');
    await cOps.release(empty.attr.ino, r2.fh, 0);
    await cached.close();
  });

  it('explicit --file-perms/--dir-perms are shown whatever is stored; without them stored modes show as they are', async () => {
    const remote = new MemoryRemote();
    const vfs = await Vfs.create(remote, { cacheMode: 'off' });
    const open = new VfsFuseOps(vfs, { uid: 1, gid: 2, umask: 0, dirPerms: 0o700, filePerms: 0o600 });
    const fixed = new VfsFuseOps(vfs, { uid: 1, gid: 2, umask: 0, dirPerms: 0o750, filePerms: 0o666, fixedModes: { file: true, dir: true } });
    const d = await open.mkdir(1n, 'd', 0o777, caller);
    const made = await open.create(d.ino, 'x', 0o755, fsc.O_WRONLY | fsc.O_CREAT, caller);
    await open.release(made.attr.ino, made.fh, 0);
    assert.equal((await open.lookup(d.ino, 'x')).mode, fsc.S_IFREG | 0o755, 'stored mode shown as stored');
    const cd = await fixed.lookup(1n, 'd');
    assert.equal(cd.mode, fsc.S_IFDIR | 0o750, 'directory shows --dir-perms');
    assert.equal((await fixed.lookup(cd.ino, 'x')).mode, fsc.S_IFREG | 0o666, 'file shows --file-perms');
    await vfs.close();
  });

  it('symlink, readlink, lookup and readdir(plus) of links: S_IFLNK 0777, size the target length', async () => {
    const remote = new MemoryRemote();
    const vfs = await Vfs.create(remote, { cacheMode: 'off', links: true });
    const ops = new VfsFuseOps(vfs, { uid: 1, gid: 2, umask: 0o022, dirPerms: 0o777, filePerms: 0o666 });
    const made = await ops.symlink('../some/target', 1n, 'link', caller);
    assert.equal(made.mode, fsc.S_IFLNK | 0o777);
    assert.equal(made.size, 14);
    assert.equal(await ops.readlink(made.ino), '../some/target');
    const looked = await ops.lookup(1n, 'link');
    assert.equal(looked.ino, made.ino);
    assert.equal(looked.mode, fsc.S_IFLNK | 0o777);
    const plain = await ops.readdir(1n, undefined, 0, 4096);
    assert.deepEqual(plain.slice(2).map((e) => [e.name, e.mode]), [['link', fsc.S_IFLNK]]);
    const plus = await ops.readdirplus(1n, undefined, 0, 65536);
    assert.equal(plus[2].attr?.mode, fsc.S_IFLNK | 0o777);
    await assert.rejects(ops.symlink('x', 1n, 'link', caller), errnoIs('EEXIST'));
    await assert.rejects(ops.readlink(1n), errnoIs('EINVAL'));
    await ops.unlink(1n, 'link');
    await assert.rejects(ops.lookup(1n, 'link'), errnoIs('ENOENT'));
    await vfs.close();
  });

  it('a link has its creator as owner and keeps an lchown, on the link object, across a fresh VFS', async () => {
    const remote = new MemoryRemote();
    const vfs = await Vfs.create(remote, { cacheMode: 'off', links: true });
    const ops = new VfsFuseOps(vfs, { uid: 1, gid: 2, umask: 0o022, dirPerms: 0o777, filePerms: 0o666 });
    const asRoot = process.geteuid?.() === 0;
    const made = await ops.symlink('target', 1n, 'link', { uid: 4242, gid: 4343 });
    // Only a mount run as root gives new entries their creator's owner (the others show --uid/--gid).
    assert.deepEqual([made.uid, made.gid], asRoot ? [4242, 4343] : [1, 2]);
    if (asRoot) {
      const changed = await ops.setattr(made.ino, { uid: 77, gid: 88 }, undefined);
      assert.deepEqual([changed.uid, changed.gid, changed.mode], [77, 88, fsc.S_IFLNK | 0o777]);
      assert.deepEqual([(await remote.stat('link.rclonelink')).metadata?.uid, (await remote.stat('link.rclonelink')).metadata?.gid], ['77', '88']);
    }
    await vfs.close();
    const again = await Vfs.create(remote, { cacheMode: 'off', links: true });
    const ops2 = new VfsFuseOps(again, { uid: 1, gid: 2, umask: 0o022, dirPerms: 0o777, filePerms: 0o666 });
    const looked = await ops2.lookup(1n, 'link');
    assert.deepEqual([looked.uid, looked.gid], asRoot ? [77, 88] : [1, 2]);
    assert.equal(await ops2.readlink(looked.ino), 'target');
    await again.close();
  });

  it("a directory's nlink is 2 + its subdirectories while its listing is cached, 1 (not counted) otherwise", async () => {
    const remote = new MemoryRemote();
    await remote.write('old/sub1/f', bytesOf(Buffer.from('x')));
    await remote.write('old/sub2/f', bytesOf(Buffer.from('x')));
    await remote.write('old/file', bytesOf(Buffer.from('x')));
    const vfs = await Vfs.create(remote, { cacheMode: 'off' });
    const ops = new VfsFuseOps(vfs, { uid: 1, gid: 2, umask: 0, dirPerms: 0o700, filePerms: 0o600 });
    const old = await ops.lookup(1n, 'old');
    assert.equal(old.nlink, 1, 'its listing was never read');
    await ops.readdir(old.ino, undefined, 0, 65536);
    assert.equal((await ops.getattr(old.ino, undefined)).nlink, 4, 'two subdirectories (a file does not count)');
    const a = await ops.mkdir(1n, 'a', 0o755, caller);
    const b = await ops.mkdir(1n, 'b', 0o755, caller);
    assert.equal((await ops.getattr(a.ino, undefined)).nlink, 2, 'a new directory');
    await ops.mkdir(a.ino, 'child', 0o755, caller);
    assert.equal((await ops.getattr(a.ino, undefined)).nlink, 3);
    await ops.rename(a.ino, 'child', b.ino, 'moved', 0);
    assert.deepEqual([(await ops.getattr(a.ino, undefined)).nlink, (await ops.getattr(b.ino, undefined)).nlink], [2, 3], 'rename moves the count');
    await ops.rmdir(b.ino, 'moved');
    assert.equal((await ops.getattr(b.ino, undefined)).nlink, 2);
    await vfs.close();
  });

  it('serves lookups, readdir with offsets, create/write/read, rename and unlink', async () => {
    const remote = new MemoryRemote();
    await remote.write('dir/a.txt', bytesOf(Buffer.from('hello')));
    const vfs = await Vfs.create(remote, { cacheMode: 'off' });
    const ops = new VfsFuseOps(vfs, { uid: 1234, gid: 5678, umask: 0o022, dirPerms: 0o777, filePerms: 0o666 });

    const dir = await ops.lookup(1n, 'dir');
    assert.equal(dir.mode, fsc.S_IFDIR | 0o755);
    assert.equal(dir.uid, 1234);
    assert.equal(dir.gid, 5678);
    const a = await ops.lookup(dir.ino, 'a.txt');
    assert.equal(a.mode, fsc.S_IFREG | 0o644);
    assert.equal(a.size, 5);
    assert.equal((await ops.lookup(dir.ino, 'a.txt')).ino, a.ino, 'same number on every lookup');
    await assert.rejects(ops.lookup(dir.ino, 'none'), errnoIs('ENOENT'));
    // A miss, the common answer of a lookup, is its errno number: no Error object (stack trace) made.
    await assert.rejects(ops.lookup(dir.ino, 'none'), (err: unknown) => err === os.constants.errno.ENOENT);

    const dh = await ops.opendir(dir.ino, 0);
    const first = await ops.readdir(dir.ino, dh.fh, 0, 4096);
    assert.deepEqual(
      first.map((e) => [e.name, e.offset]),
      [
        ['.', 1],
        ['..', 2],
        ['a.txt', 3],
      ],
    );
    assert.equal(first[2].ino, a.ino);
    assert.equal(first[1].ino, 1n);
    assert.deepEqual(await ops.readdir(dir.ino, dh.fh, 3, 4096), []);
    assert.deepEqual((await ops.readdir(dir.ino, dh.fh, 2, 4096)).map((e) => e.name), ['a.txt'], 'resume at an offset');
    ops.releasedir(dir.ino, dh.fh);

    const created = await ops.create(dir.ino, 'b.bin', 0o644, fsc.O_WRONLY | fsc.O_CREAT, caller);
    assert.equal(await ops.write(created.attr.ino, created.fh, Buffer.from('abc'), 0), 3);
    assert.equal((await ops.getattr(created.attr.ino, created.fh)).size, 3);
    await ops.flush(created.attr.ino, created.fh);
    await ops.release(created.attr.ino, created.fh, 0);
    const opened = await ops.open(created.attr.ino, fsc.O_RDONLY);
    assert.equal(Buffer.from(await ops.read(created.attr.ino, opened.fh, 1, 10)).toString(), 'bc');
    await ops.release(created.attr.ino, opened.fh, 0);
    await assert.rejects(ops.create(dir.ino, 'b.bin', 0o644, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, caller), errnoIs('EEXIST'));

    await ops.rename(dir.ino, 'b.bin', 1n, 'moved.bin', 0);
    assert.equal((await ops.getattr(created.attr.ino, undefined)).size, 3, 'the inode follows the rename');
    assert.equal((await ops.lookup(1n, 'moved.bin')).ino, created.attr.ino);
    await assert.rejects(ops.rename(1n, 'moved.bin', dir.ino, 'a.txt', 1 /* RENAME_NOREPLACE */), errnoIs('EEXIST'));
    await assert.rejects(ops.rename(1n, 'moved.bin', dir.ino, 'a.txt', 2 /* RENAME_EXCHANGE */), errnoIs('EINVAL'));
    await ops.unlink(1n, 'moved.bin');
    await assert.rejects(ops.getattr(created.attr.ino, undefined), errnoIs('ENOENT'));
    await assert.rejects(ops.rmdir(1n, 'dir'), errnoIs('ENOTEMPTY'));

    const sub = await ops.mkdir(1n, 'sub', 0o755, caller);
    assert.equal(sub.mode, fsc.S_IFDIR | 0o755);
    await ops.rename(1n, 'dir', sub.ino, 'inner', 0);
    const inner = await ops.lookup(sub.ino, 'inner');
    assert.equal(inner.ino, dir.ino, 'a renamed directory keeps its number');
    assert.equal((await ops.getattr(a.ino, undefined)).size, 5, 'and so do the files below it');

    // setattr: truncate by name in mode off is refused unless to 0; mtime and mode go through.
    const t = new Date('2003-04-05T06:07:08.009Z');
    const after = await ops.setattr(a.ino, { mtimeNs: BigInt(t.getTime()) * 1_000_000n, mode: 0o600 }, undefined);
    assert.equal(after.mtimeNs, BigInt(t.getTime()) * 1_000_000n);
    assert.equal(after.mode, fsc.S_IFREG | 0o600, 'chmod is stored as the object\'s metadata');
    await assert.rejects(ops.setattr(a.ino, { size: 2 }, undefined), errnoIs('EPERM'));

    const st = await ops.statfs(1n);
    assert.ok(Number(st.blocks) > 0 && st.namemax === 255);
    await vfs.close();
  });

  it('readdirplus gives lookup attributes and takes one inode reference per entry', async () => {
    const remote = new MemoryRemote();
    await remote.write('d/one.txt', bytesOf(Buffer.from('12345')));
    await remote.write('d/sub/x', bytesOf(Buffer.from('x')));
    const vfs = await Vfs.create(remote, { cacheMode: 'off' });
    const ops = new VfsFuseOps(vfs, { uid: 7, gid: 8, umask: 0o022, dirPerms: 0o777, filePerms: 0o666 });
    const d = await ops.lookup(1n, 'd');
    // A file being written and not uploaded yet is listed too (after the remote's
    // names), with its size so far.
    const fresh = await ops.create(d.ino, 'fresh', 0o644, fsc.O_WRONLY | fsc.O_CREAT, caller);
    await ops.write(fresh.attr.ino, fresh.fh, Buffer.from('abc'), 0);
    ops.forget(fresh.attr.ino, 1); // drop create's reference: only the listing's remains below
    const one = await ops.lookup(d.ino, 'one.txt');

    const dh = await ops.opendir(d.ino, 0);
    const listed = await ops.readdirplus(d.ino, dh.fh, 0, 65536);
    assert.deepEqual(
      listed.map((e) => [e.name, e.offset, e.attr !== undefined]),
      [
        ['.', 1, false],
        ['..', 2, false],
        ['one.txt', 3, true],
        ['sub', 4, true],
        ['fresh', 5, true],
      ],
    );
    const byName = new Map(listed.map((e) => [e.name, e]));
    assert.deepEqual(byName.get('one.txt')!.attr, one, 'the same attributes as lookup');
    assert.equal(byName.get('one.txt')!.ino, one.ino);
    assert.equal(byName.get('fresh')!.attr!.size, 3);
    assert.equal(byName.get('fresh')!.attr!.ino, fresh.attr.ino);
    const sub = byName.get('sub')!.attr!;
    assert.equal(sub.mode, fsc.S_IFDIR | 0o755);
    assert.equal(sub.uid, 7);
    // The same but for nlink: reading `d` to its end starts listing `sub` ahead, after which `sub` is counted (2, not 1).
    const subNow = await ops.lookup(d.ino, 'sub');
    assert.deepEqual({ ...subNow, nlink: sub.nlink }, sub);
    // Resuming at an offset lists (and references) only the rest.
    assert.deepEqual((await ops.readdirplus(d.ino, dh.fh, 4, 65536)).map((e) => e.name), ['fresh']);
    // A small buffer gets fewer entries.
    assert.deepEqual((await ops.readdirplus(d.ino, dh.fh, 2, 200)).map((e) => e.name), ['one.txt']);
    await ops.release(fresh.attr.ino, fresh.fh, 0);
    ops.releasedir(d.ino, dh.fh);

    // References: one.txt has a lookup and two listings (offsets 0 and 2); sub
    // has a lookup and one listing; fresh two listings (offsets 0 and 4).
    ops.forget(one.ino, 2);
    assert.equal(ops.inodes.path(one.ino), 'd/one.txt', 'still referenced by a listing');
    ops.forget(one.ino, 1);
    assert.equal(ops.inodes.path(one.ino), undefined, 'dropped after the last forget');
    ops.forget(sub.ino, 1);
    assert.equal(ops.inodes.path(sub.ino), 'd/sub');
    ops.forget(sub.ino, 1);
    assert.equal(ops.inodes.path(sub.ino), undefined);
    ops.forget(fresh.attr.ino, 1);
    assert.equal(ops.inodes.path(fresh.attr.ino), 'd/fresh');
    ops.forget(fresh.attr.ino, 1);
    assert.equal(ops.inodes.path(fresh.attr.ino), undefined);
    await vfs.close();
  });

  it('a name too long for the crypt format answers ENAMETOOLONG in every path operation, not ENOENT', async () => {
    const dir = await mkdtemp(join(os.tmpdir(), 'cryptfs-fuse-ops-'));
    try {
      const keys = await deriveKeys('fuse-ops-password', 'fuse-ops-salt');
      const remote = new CryptRemote(new LocalRemote(dir), keys, {
        mode: 'standard',
        encoding: 'base32',
        directoryNameEncryption: true,
        noDataEncryption: false,
      });
      await remote.write('short.txt', bytesOf(Buffer.from('x')));
      await remote.mkdir('d');
      const vfs = await Vfs.create(remote, { cacheMode: 'off' });
      const ops = new VfsFuseOps(vfs);
      const long = 'n'.repeat(200); // crypt over local holds at most 143 plain bytes
      const d = await ops.lookup(1n, 'd');
      const short = await ops.lookup(1n, 'short.txt');
      await assert.rejects(ops.lookup(1n, long), errnoIs('ENAMETOOLONG'));
      await assert.rejects(ops.lookup(d.ino, long), errnoIs('ENAMETOOLONG'));
      await assert.rejects(ops.unlink(1n, long), errnoIs('ENAMETOOLONG'));
      await assert.rejects(ops.rmdir(1n, long), errnoIs('ENAMETOOLONG'));
      await assert.rejects(ops.rename(1n, long, 1n, 'other', 0), errnoIs('ENAMETOOLONG'), 'rename source');
      await assert.rejects(ops.rename(1n, 'short.txt', 1n, long, 0), errnoIs('ENAMETOOLONG'), 'rename target');
      await assert.rejects(ops.create(1n, long, 0o644, fsc.O_WRONLY | fsc.O_CREAT, caller), errnoIs('ENAMETOOLONG'));
      await assert.rejects(ops.mkdir(1n, long, 0o755, caller), errnoIs('ENAMETOOLONG'));
      await assert.rejects(vfs.open(long, { read: true, write: false }), errnoIs('ENAMETOOLONG'), 'open by name');
      // A short name that is not there is still ENOENT.
      await assert.rejects(ops.lookup(1n, 'missing'), errnoIs('ENOENT'));
      await assert.rejects(ops.unlink(1n, 'missing'), errnoIs('ENOENT'));
      assert.equal((await ops.getattr(short.ino, undefined)).size, 1);
      await vfs.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('every EIO is logged at ERROR with the path and the cause; an unexpected error answers EIO for that operation only', async () => {
    const dir = await mkdtemp(join(os.tmpdir(), 'cryptfs-fuse-ops-log-'));
    const logFile = join(dir, 'log');
    configureLog({ file: logFile, level: 'notice' });
    try {
      class BrokenReads extends MemoryRemote {
        override async openRead(path: string, range?: ReadRange) {
          if (path === 'bad.bin') throw new TypeError('something nobody expected');
          return super.openRead(path, range);
        }
      }
      const remote = new BrokenReads();
      await remote.write('bad.bin', bytesOf(Buffer.from('payload')));
      await remote.write('good.bin', bytesOf(Buffer.from('fine')));
      const vfs = await Vfs.create(remote, { cacheMode: 'off' });
      const ops = new VfsFuseOps(vfs);
      const bad = await ops.lookup(1n, 'bad.bin');
      const fh = (await ops.open(bad.ino, fsc.O_RDONLY)).fh;
      const failed = await ops.read(bad.ino, fh, 0, 4096).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(failed, 'the read failed');
      errnoIs('EIO')(failed);
      assert.equal((failed as { errno?: string }).errno, 'EIO', 'typed, so that the session does not report it again');
      const good = await ops.lookup(1n, 'good.bin');
      const gh = (await ops.open(good.ino, fsc.O_RDONLY)).fh;
      assert.equal(Buffer.from(await ops.read(good.ino, gh, 0, 4096)).toString(), 'fine', 'other operations go on');
      await ops.release(bad.ino, fh, 0);
      await ops.release(good.ino, gh, 0);
      // A typed EIO (the VFS is closed) is logged too.
      await vfs.close();
      await assert.rejects(ops.lookup(1n, 'good.bin'), errnoIs('EIO'));
      const text = await readFile(logFile, 'utf8');
      assert.match(text, /ERROR : bad\.bin: read: something nobody expected\n/);
      assert.match(text, /ERROR : good\.bin: lookup: the VFS is closed\n/);
    } finally {
      configureLog({ file: undefined });
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers EROFS on a read-only VFS', async () => {
    const vfs = await Vfs.create(new MemoryRemote(), { cacheMode: 'off', readOnly: true });
    const ops = new VfsFuseOps(vfs);
    await assert.rejects(ops.mkdir(1n, 'x', 0o755, caller), errnoIs('EROFS'));
    await assert.rejects(ops.create(1n, 'x', 0o644, fsc.O_WRONLY | fsc.O_CREAT, caller), errnoIs('EROFS'));
    await vfs.close();
  });
});
