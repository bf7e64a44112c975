// The smaller POSIX pieces over a VFS on the memory remote, through the FUSE
// operations called directly: fallocate (mode 0, KEEP_SIZE, the rest refused,
// the cache budget), utimensat with UTIME_OMIT and nanoseconds, ctime, atime,
// directory mtimes kept while mounted, and link refused without a trace.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { VfsFuseOps } from '../../../src/fuse/fuse-ops.js';
import { errnoOf } from '../../../src/fuse/errno-map.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import { Vfs } from '../../../src/vfs/vfs.js';
import { CacheFullError, SLOT_SIZE } from '../../../src/vfs/block-file.js';
import { CacheStore } from '../../../src/vfs/write-cache.js';
import { NodeTimes } from '../../../src/vfs/node-times.js';
import { readAll } from '../../helpers/remote-contract.js';
import { failOnFileHandlesClosedByGc } from '../../helpers/file-handle-gc.js';
import { pollUntil } from '../../helpers/poll.js';

failOnFileHandlesClosedByGc();

const caller = { uid: 0, gid: 0 };
const KEEP_SIZE = 0x01;
const PUNCH_HOLE = 0x02;
const ZERO_RANGE = 0x10;
const errnoIs = (name: string) => (err: unknown) => {
  assert.equal(errnoOf(err), (os.constants.errno as Record<string, number>)[name], String(err));
  return true;
};
const ns = (iso: string, extraNs = 0n) => BigInt(Date.parse(iso)) * 1_000_000n + extraNs;
/**
 * File times are wall-clock (not the VFS clock): waits until the wall clock is past `ns`,
 * so that a time taken next is later. Polls; no fixed sleep.
 */
const wallClockPast = (ns: bigint) => pollUntil('the wall clock to move on', () => BigInt(Date.now()) * 1_000_000n > ns);

describe('POSIX operations over the VFS', () => {
  const dirs: string[] = [];
  const cacheDir = async () => {
    const d = await mkdtemp(join(os.tmpdir(), 'cryptfs-posix-ops-'));
    dirs.push(d);
    return d;
  };
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  const mount = async (cacheMode: 'off' | 'writes' | 'full') => {
    const remote = new MemoryRemote();
    const vfs = await Vfs.create(remote, {
      cacheMode,
      cacheDir: cacheMode === 'off' ? undefined : await cacheDir(),
      writeBackMs: 0,
    });
    return { remote, vfs, ops: new VfsFuseOps(vfs) };
  };

  for (const cacheMode of ['writes', 'full'] as const) {
    it(`fallocate in cache mode ${cacheMode}: mode 0 grows with zeros that are uploaded, KEEP_SIZE keeps the size, other modes EOPNOTSUPP`, async () => {
      const { remote, vfs, ops } = await mount(cacheMode);
      const f = await ops.create(1n, 'db', 0o644, fsc.O_RDWR | fsc.O_CREAT, caller);
      await ops.write(f.attr.ino, f.fh, Buffer.from('abc'), 0);
      await ops.fallocate(f.attr.ino, f.fh, 0, 100_000, 100_000);
      assert.equal((await ops.getattr(f.attr.ino, f.fh)).size, 200_000);
      const tail = Buffer.from(await ops.read(f.attr.ino, f.fh, 0, 200_000));
      assert.equal(tail.subarray(0, 3).toString(), 'abc');
      assert.ok(tail.subarray(3).every((b) => b === 0), 'the new bytes are zeros');

      await ops.fallocate(f.attr.ino, f.fh, KEEP_SIZE, 0, 10_000_000);
      assert.equal((await ops.getattr(f.attr.ino, f.fh)).size, 200_000, 'KEEP_SIZE does not change st_size');
      await ops.fallocate(f.attr.ino, f.fh, 0, 0, 1000);
      assert.equal((await ops.getattr(f.attr.ino, f.fh)).size, 200_000, 'a range inside the file changes nothing');
      for (const mode of [PUNCH_HOLE | KEEP_SIZE, ZERO_RANGE, 0x08 /* COLLAPSE_RANGE */, 0x20 /* INSERT_RANGE */]) {
        await assert.rejects(ops.fallocate(f.attr.ino, f.fh, mode, 0, 10), errnoIs('EOPNOTSUPP'));
      }
      await ops.release(f.attr.ino, f.fh, 0);
      await vfs.waitIdle();
      const uploaded = await readAll(await remote.openRead('db'));
      assert.equal(uploaded.length, 200_000, 'the upload carries the allocated bytes');
      assert.equal(uploaded.subarray(0, 3).toString(), 'abc');

      // A clean file: KEEP_SIZE and an inner range leave it clean (no upload).
      const ro = await ops.open(f.attr.ino, fsc.O_RDWR);
      await ops.fallocate(f.attr.ino, ro.fh, KEEP_SIZE, 0, 1_000_000);
      await ops.fallocate(f.attr.ino, ro.fh, 0, 0, 200_000);
      assert.deepEqual(vfs.dirtyPaths(), []);
      await ops.release(f.attr.ino, ro.fh, 0);
      await vfs.close();
    });
  }

  it('fallocate in cache mode off appends zeros to the upload stream; KEEP_SIZE does nothing', async () => {
    const { remote, vfs, ops } = await mount('off');
    const f = await ops.create(1n, 'dl', 0o644, fsc.O_WRONLY | fsc.O_CREAT, caller);
    await ops.fallocate(f.attr.ino, f.fh, KEEP_SIZE, 0, 5_000_000);
    assert.equal((await ops.getattr(f.attr.ino, f.fh)).size, 0);
    await ops.write(f.attr.ino, f.fh, Buffer.from('head'), 0);
    await ops.fallocate(f.attr.ino, f.fh, 0, 0, 3_000_000);
    assert.equal((await ops.getattr(f.attr.ino, f.fh)).size, 3_000_000);
    await ops.write(f.attr.ino, f.fh, Buffer.from('tail'), 3_000_000);
    await ops.flush(f.attr.ino, f.fh);
    await ops.release(f.attr.ino, f.fh, 0);
    const uploaded = await readAll(await remote.openRead('dl'));
    assert.equal(uploaded.length, 3_000_004);
    assert.equal(uploaded.subarray(0, 4).toString(), 'head');
    assert.equal(uploaded.subarray(3_000_000).toString(), 'tail');
    assert.ok(uploaded.subarray(4, 3_000_000).every((b) => b === 0));
    await vfs.close();
  });

  it('fallocate fails with ENOSPC when the cache cannot hold the range, and changes nothing', async () => {
    const limit = 4 * SLOT_SIZE;
    const { store } = await CacheStore.open(await cacheDir(), randomBytes(32), {
      space: {
        reserve: async (bytes) => {
          if (bytes > limit) throw new CacheFullError(`needs ${bytes} bytes`);
        },
      },
    });
    const item = await store.create({ path: 'f', size: 0, sourceSize: 0, mtime: new Date() });
    assert.equal(await item.allocate(0, 4 * 65536, false), true);
    assert.equal(item.size, 4 * 65536);
    await assert.rejects(item.allocate(0, 5 * 65536, false), (err) => errnoOf(err) === os.constants.errno.ENOSPC);
    await assert.rejects(item.allocate(0, 5 * 65536, true), CacheFullError);
    assert.equal(item.size, 4 * 65536, 'unchanged by the refused allocations');
    await store.remove(item);
    await store.close();
  });

  it('utimensat: UTIME_OMIT leaves a time alone, nanoseconds stay, ctime moves on every setattr', async () => {
    const { vfs, ops } = await mount('writes');
    const f = await ops.create(1n, 'f', 0o644, fsc.O_WRONLY | fsc.O_CREAT, caller);
    await ops.release(f.attr.ino, f.fh, 0);
    const before = await ops.getattr(f.attr.ino, undefined);
    await wallClockPast(before.ctimeNs > before.mtimeNs ? before.ctimeNs : before.mtimeNs);

    const atime = ns('2030-03-17T17:46:40Z', 123_456_789n);
    let a = await ops.setattr(f.attr.ino, { atimeNs: atime }, undefined);
    assert.equal(a.atimeNs, atime);
    assert.equal(a.mtimeNs, before.mtimeNs, 'mtime omitted: unchanged');
    assert.ok(a.ctimeNs > before.ctimeNs, 'ctime moves');

    const mtime = ns('1976-05-03T19:33:20Z', 200_000_001n);
    a = await ops.setattr(f.attr.ino, { mtimeNs: mtime }, undefined);
    assert.equal(a.atimeNs, atime, 'atime omitted: unchanged');
    assert.equal(a.mtimeNs, mtime, 'with its nanoseconds');
    assert.ok(a.ctimeNs >= before.ctimeNs && a.ctimeNs !== mtime, 'ctime is the time of the change, not the mtime set');
    a = await ops.getattr(f.attr.ino, undefined);
    assert.deepEqual([a.atimeNs, a.mtimeNs], [atime, mtime], 'and lookups see them');

    // A write later moves mtime and ctime to now; the atime set stays.
    const w = await ops.open(f.attr.ino, fsc.O_WRONLY);
    await ops.write(f.attr.ino, w.fh, Buffer.from('x'), 0);
    a = await ops.getattr(f.attr.ino, w.fh);
    assert.ok(a.mtimeNs > before.mtimeNs && a.ctimeNs >= a.mtimeNs);
    assert.equal(a.atimeNs, atime);
    await ops.release(f.attr.ino, w.fh, 0);

    // chmod (accepted, ignored) is a change too.
    const c0 = (await ops.getattr(f.attr.ino, undefined)).ctimeNs;
    await wallClockPast(c0);
    assert.ok((await ops.setattr(f.attr.ino, { mode: 0o600 }, undefined)).ctimeNs > c0);
    await vfs.close();
  });

  it('directory times: create, unlink, rename and mkdir update the parent; utimensat on a directory sticks', async () => {
    const { vfs, ops } = await mount('writes');
    const d = await ops.mkdir(1n, 'd', 0o755, caller);
    const set = ns('2031-10-17T10:40:00Z', 5n);
    let a = await ops.setattr(d.ino, { atimeNs: set, mtimeNs: set }, undefined);
    assert.deepEqual([a.atimeNs, a.mtimeNs], [set, set]);
    assert.deepEqual([(await ops.lookup(1n, 'd')).mtimeNs, (await ops.getattr(d.ino, undefined)).atimeNs], [set, set]);

    const past = ns('2001-01-01T00:00:00Z');
    const check = async (what: string, op: () => Promise<unknown>) => {
      await ops.setattr(d.ino, { mtimeNs: past }, undefined);
      const t0 = BigInt(Date.now()) * 1_000_000n;
      await op();
      const now = await ops.getattr(d.ino, undefined);
      assert.ok(now.mtimeNs >= t0 && now.ctimeNs >= t0, `${what} updates the directory's mtime and ctime`);
    };
    let created: Awaited<ReturnType<typeof ops.create>> | undefined;
    await check('create', async () => {
      created = await ops.create(d.ino, 'x', 0o644, fsc.O_WRONLY | fsc.O_CREAT, caller);
      await ops.release(created.attr.ino, created.fh, 0);
    });
    await check('mkdir', () => ops.mkdir(d.ino, 'sub', 0o755, caller));
    await check('rename within', () => ops.rename(d.ino, 'x', d.ino, 'y', 0));
    await check('rename out', () => ops.rename(d.ino, 'y', 1n, 'y', 0));
    await check('rename in', () => ops.rename(1n, 'y', d.ino, 'y', 0));
    await check('unlink', () => ops.unlink(d.ino, 'y'));
    await check('rmdir', () => ops.rmdir(d.ino, 'sub'));

    // A renamed directory keeps the times set on it (and on what is below it).
    const inner = await ops.mkdir(d.ino, 'inner', 0o755, caller);
    await ops.setattr(inner.ino, { mtimeNs: set }, undefined);
    await ops.setattr(d.ino, { mtimeNs: past, atimeNs: past }, undefined);
    await ops.rename(1n, 'd', 1n, 'e', 0);
    const e = await ops.lookup(1n, 'e');
    assert.equal(e.mtimeNs, past);
    assert.equal((await ops.lookup(e.ino, 'inner')).mtimeNs, set);
    await vfs.close();
  });

  it('link answers EPERM and makes nothing', async () => {
    const { remote, vfs, ops } = await mount('writes');
    const f = await ops.create(1n, 'a', 0o644, fsc.O_WRONLY | fsc.O_CREAT, caller);
    await ops.release(f.attr.ino, f.fh, 0);
    await assert.rejects(ops.link(f.attr.ino, 1n, 'b'), errnoIs('EPERM'));
    await assert.rejects(ops.lookup(1n, 'b'), errnoIs('ENOENT'));
    await vfs.waitIdle();
    assert.deepEqual((await vfs.readDir('')).map((x) => x.name), ['a']);
    await assert.rejects(remote.stat('b'));
    await vfs.close();
  });

  it('NodeTimes: a file rename moves only its own entry; unlink drops it', () => {
    const t = new NodeTimes();
    t.set('d/f', { atimeNs: 5n });
    t.set('d/g', { atimeNs: 6n });
    t.renamed('d/f', 'd/h', false);
    assert.equal(t.resolve('d/h', false, new Date(0)).atimeNs, 5n);
    assert.equal(t.resolve('d/f', false, new Date(0)).atimeNs, 0n);
    t.removed('d/h');
    assert.equal(t.resolve('d/h', false, new Date(0)).atimeNs, 0n);
    t.renamed('d', 'e', true);
    assert.equal(t.resolve('e/g', false, new Date(0)).atimeNs, 6n);
  });
});
