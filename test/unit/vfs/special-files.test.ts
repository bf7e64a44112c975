// Special files (mknod: FIFOs, UNIX sockets, character and block devices): an empty object whose
// rclone metadata `mode` carries the file type and, for a device, `rdev` the device number. The
// formats (as rclone's local backend prints them), the local remote's xattrs for the type (its
// ciphertext file stays a regular file), and mknod through the FUSE operations and the VFS: type
// and rdev in lookup/getattr/readdir, chmod/chown/utimens/rename/unlink, open refused, nothing
// made on failure, the node after a remount and after a crash (journal).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errnoOf } from '../../../src/fuse/errno-map.js';
import { VfsFuseOps } from '../../../src/fuse/fuse-ops.js';
import {
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
  S_IFREG,
  S_IFSOCK,
  fileTypeOf,
  formatRdev,
  metadataOfPosix,
  posixAttrsOf,
  rdevOf,
} from '../../../src/remote/metadata.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import { LocalRemote } from '../../../src/remote/local.js';
import { readUserXattrs } from '../../../src/remote/local-xattr.js';
import { CryptRemote, type CryptRemoteOptions } from '../../../src/remote/crypt.js';
import { deriveKeys } from '../../../src/crypt/keys.js';
import { Vfs } from '../../../src/vfs/vfs.js';
import { bytesOf, listAll } from '../../helpers/remote-contract.js';
import { failOnFileHandlesClosedByGc } from '../../helpers/file-handle-gc.js';

failOnFileHandlesClosedByGc();

const keys = await deriveKeys('special-test-password', 'special-test-salt');
const cryptOptions: CryptRemoteOptions = { mode: 'standard', encoding: 'base32', directoryNameEncryption: true, noDataEncryption: false };
const opsOptions = { uid: 1234, gid: 5678, umask: 0o022, dirPerms: 0o777, filePerms: 0o666 };
const mountUser = { uid: 1234, gid: 5678 };
const errnoIs = (name: string) => (err: unknown) => {
  assert.equal(errnoOf(err), (os.constants.errno as Record<string, number>)[name], String(err));
  return true;
};
/** Linux's dev_t of (major, minor), as glibc's makedev makes it for small numbers. */
const makedev = (major: number, minor: number) => ((major << 8) | (minor & 0xff) | ((minor & 0xfff00) << 12)) >>> 0;

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cryptfs-special-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});
let n = 0;
const freshDir = () => join(tmp, `d${n++}`);

describe('special file metadata formats', () => {
  it('mode with the type bits as rclone prints st_mode, rdev as rclone\'s hex major<<32|minor', () => {
    assert.equal(metadataOfPosix({ mode: 0o644 }, S_IFIFO).mode, '10644');
    assert.equal(metadataOfPosix({ mode: 0o755 }, S_IFSOCK).mode, '140755');
    assert.equal(metadataOfPosix({ mode: 0o600 }, S_IFCHR).mode, '20600');
    assert.equal(metadataOfPosix({ mode: 0o660 }, S_IFBLK).mode, '60660');
    assert.equal(fileTypeOf({ mode: '10644' }), S_IFIFO);
    assert.equal(fileTypeOf({ mode: '010644' }), S_IFIFO, 'a leading zero as in rclone\'s documented example');
    assert.equal(fileTypeOf({ mode: '140755' }), S_IFSOCK);
    assert.equal(fileTypeOf({ mode: '100644' }), S_IFREG);
    assert.equal(fileTypeOf({ mode: '40755' }), S_IFREG, 'a file never becomes a directory by its metadata');
    assert.equal(fileTypeOf({ mode: '120777' }), S_IFREG, 'nor a symlink');
    assert.equal(fileTypeOf({ mode: 'fifo' }), S_IFREG);
    assert.equal(fileTypeOf(undefined), S_IFREG);
    assert.deepEqual(posixAttrsOf({ mode: '10640' }), { mode: 0o640 }, 'permission bits as for any file');
    // /dev/null is 1:3; rclone's statx branch prints "%x" of major<<32 | minor.
    assert.equal(formatRdev(makedev(1, 3)), '100000003');
    assert.equal(formatRdev(makedev(259, 0x12345)), '10300012345');
    assert.equal(formatRdev(0), undefined, 'rdev 0 is not stored (rclone sets it only when not 0)');
    assert.equal(rdevOf({ rdev: '100000003' }), makedev(1, 3));
    assert.equal(rdevOf({ rdev: '10300012345' }), makedev(259, 0x12345));
    assert.equal(rdevOf({ rdev: 'zz' }), 0);
    assert.equal(rdevOf({}), 0);
  });
});

describe('special files on the local remote', () => {
  it('the ciphertext file stays regular; the type and rdev live in xattrs and read back as mode and rdev', async () => {
    const dir = freshDir();
    const remote = new LocalRemote(dir);
    await remote.write('c', bytesOf(Buffer.alloc(0)), { metadata: { mode: '20640', rdev: '100000003' } });
    const st = await stat(join(dir, 'c'));
    assert.ok(st.isFile(), 'a regular file on disk');
    assert.equal(st.mode & 0o7777, 0o640);
    assert.deepEqual(readUserXattrs(join(dir, 'c')), { 'cryptfs-type': '20000', 'cryptfs-rdev': '100000003' });
    const md = (await remote.stat('c')).metadata!;
    assert.equal(md.mode, '20640');
    assert.equal(md.rdev, '100000003');
    assert.equal(md['cryptfs-type'], undefined, 'the xattr keys are not shown beside mode and rdev');
    await remote.setMetadata('c', { mode: '20600' });
    assert.equal((await stat(join(dir, 'c'))).mode & 0o7777, 0o600);
    const [listed] = await listAll(remote, '');
    assert.equal(listed!.metadata!.mode, '20600', 'listing: the type kept, the new permission bits');
    await remote.move('c', 'd');
    assert.equal((await remote.stat('d')).metadata!.mode, '20600', 'a move keeps it');
    await remote.copy('d', 'e');
    assert.equal((await remote.stat('e')).metadata!.rdev, '100000003', 'a copy keeps it');
    await remote.write('f', bytesOf(Buffer.from('x')), { metadata: { mode: '100644' } });
    assert.deepEqual(readUserXattrs(join(dir, 'f')), {}, 'a regular file gets no such key');
  });
});

describe('mknod through the FUSE operations', () => {
  for (const cacheMode of ['writes', 'off'] as const) {
    it(`--vfs-cache-mode ${cacheMode}: FIFO, socket, devices and a regular file; their type everywhere; chmod, rename, unlink; a remount`, async () => {
      const remote = new MemoryRemote();
      const vfs = await Vfs.create(remote, { cacheMode, cacheDir: freshDir(), writeBackMs: 60_000 });
      const ops = new VfsFuseOps(vfs, opsOptions);
      const fifo = await ops.mknod(1n, 'p', S_IFIFO | 0o644, 0, mountUser);
      assert.equal(fifo.mode, S_IFIFO | 0o644);
      assert.equal(fifo.size, 0);
      assert.equal(fifo.rdev, 0);
      const sock = await ops.mknod(1n, 's', S_IFSOCK | 0o755, 0, mountUser);
      assert.equal(sock.mode, S_IFSOCK | 0o755);
      const chr = await ops.mknod(1n, 'c', S_IFCHR | 0o600, makedev(1, 3), mountUser);
      assert.equal(chr.mode, S_IFCHR | 0o600);
      assert.equal(chr.rdev, makedev(1, 3));
      const blk = await ops.mknod(1n, 'b', S_IFBLK | 0o660, makedev(8, 17), mountUser);
      assert.equal(blk.rdev, makedev(8, 17));
      const reg = await ops.mknod(1n, 'r', S_IFREG | 0o640, 0, mountUser);
      assert.equal(reg.mode, S_IFREG | 0o640);
      const plain = await ops.mknod(1n, 'r0', 0o640, 0, mountUser);
      assert.equal(plain.mode, S_IFREG | 0o640, 'no type bits: a regular file');

      await assert.rejects(ops.mknod(1n, 'p', S_IFIFO | 0o644, 0, mountUser), errnoIs('EEXIST'));
      await assert.rejects(ops.mknod(1n, 'x', 0o070000 | 0o644, 0, mountUser), errnoIs('EINVAL'));
      await assert.rejects(ops.mknod(1n, 'x', fsc.S_IFDIR | 0o755, 0, mountUser), errnoIs('EINVAL'));
      await assert.rejects(ops.mknod(1n, 'nodir/x', S_IFIFO | 0o644, 0, mountUser), errnoIs('ENOENT'));
      assert.equal(await vfs.lookup('x'), undefined, 'nothing made on failure');

      assert.equal((await ops.getattr(fifo.ino, undefined)).mode, S_IFIFO | 0o644);
      assert.equal((await ops.getattr(chr.ino, undefined)).rdev, makedev(1, 3));
      await assert.rejects(ops.open(fifo.ino, fsc.O_RDONLY), errnoIs('ENXIO'), 'no data through the daemon');
      await assert.rejects(ops.open(sock.ino, fsc.O_RDWR), errnoIs('ENXIO'));

      const dir = await ops.opendir(1n, 0);
      const types = Object.fromEntries((await ops.readdir(1n, dir.fh, 0, 65536)).map((e) => [e.name, e.mode & fsc.S_IFMT]));
      assert.deepEqual(types, { '.': fsc.S_IFDIR, '..': fsc.S_IFDIR, p: S_IFIFO, s: S_IFSOCK, c: S_IFCHR, b: S_IFBLK, r: S_IFREG, r0: S_IFREG });
      const plus = await ops.readdirplus(1n, dir.fh, 0, 65536);
      assert.equal(plus.find((e) => e.name === 'c')!.attr!.rdev, makedev(1, 3));
      for (const e of plus) if (e.attr && e.name !== '.' && e.name !== '..') ops.forget(e.attr.ino, 1);
      ops.releasedir(1n, dir.fh);

      // chmod, chown, utimens keep the type.
      assert.equal((await ops.setattr(fifo.ino, { mode: 0o600 }, undefined)).mode, S_IFIFO | 0o600);
      assert.equal((await ops.setattr(chr.ino, { mtimeNs: 1_000_000_000_000_000_000n }, undefined)).mode, S_IFCHR | 0o600);
      if (process.geteuid?.() === 0) assert.equal((await ops.setattr(blk.ino, { uid: 42 }, undefined)).uid, 42);
      // rename, also over another node, and unlink.
      await ops.rename(1n, 'p', 1n, 'p2', 0);
      assert.equal((await ops.lookup(1n, 'p2')).mode, S_IFIFO | 0o600);
      await ops.rename(1n, 's', 1n, 'r', 0);
      assert.equal((await ops.lookup(1n, 'r')).mode, S_IFSOCK | 0o755, 'a socket renamed over a file');
      await ops.unlink(1n, 'b');
      await assert.rejects(ops.lookup(1n, 'b'), errnoIs('ENOENT'));

      assert.deepEqual(await vfs.close(), []);
      const objects = Object.fromEntries([...remote.objects].map(([k, o]) => [k, { size: o.data.length, mode: o.metadata?.mode, rdev: o.metadata?.rdev }]));
      assert.deepEqual(objects, {
        p2: { size: 0, mode: '10600', rdev: undefined },
        r: { size: 0, mode: '140755', rdev: undefined },
        c: { size: 0, mode: '20600', rdev: '100000003' },
        r0: { size: 0, mode: '100640', rdev: undefined },
      });

      const again = new VfsFuseOps(await Vfs.create(remote, { cacheMode: 'off' }), opsOptions);
      assert.equal((await again.lookup(1n, 'p2')).mode, S_IFIFO | 0o600, 'still a FIFO after a remount');
      const c = await again.lookup(1n, 'c');
      assert.deepEqual([c.mode, c.rdev], [S_IFCHR | 0o600, makedev(1, 3)]);
      await again.vfs.close();
    });
  }

  it('mount with --file-perms: the shown mode keeps the type', async () => {
    const remote = new MemoryRemote();
    const ops = new VfsFuseOps(await Vfs.create(remote, { cacheMode: 'off' }), { ...opsOptions, filePerms: 0o600, fixedModes: { file: true } });
    assert.equal((await ops.mknod(1n, 'p', S_IFIFO | 0o644, 0, mountUser)).mode, S_IFIFO | 0o600);
    await ops.vfs.close();
  });

  it('crypt over local: the ciphertext is an empty file\'s, regular on disk; a mknod journaled but not uploaded when the daemon is killed is a FIFO after restart', async () => {
    const remoteDir = freshDir();
    const cacheDir = freshDir();
    const script = join(tmp, 'crash-child.mjs');
    const dist = (rel: string) => new URL(`../../../src/${rel}`, import.meta.url).href;
    await writeFile(
      script,
      `
      import { Vfs } from ${JSON.stringify(dist('vfs/vfs.js'))};
      import { CryptRemote } from ${JSON.stringify(dist('remote/crypt.js'))};
      import { LocalRemote } from ${JSON.stringify(dist('remote/local.js'))};
      import { deriveKeys } from ${JSON.stringify(dist('crypt/keys.js'))};
      const keys = await deriveKeys('special-test-password', 'special-test-salt');
      const remote = new CryptRemote(new LocalRemote(process.argv[2]), keys, ${JSON.stringify(cryptOptions)});
      const vfs = await Vfs.create(remote, { cacheMode: 'writes', cacheDir: process.argv[3], writeBackMs: 600000 });
      await vfs.mknod('fifo', { mode: '10640' });
      await vfs.mknod('null', { mode: '20666', rdev: '100000003' });
      process.kill(process.pid, 'SIGKILL');
      `,
    );
    const signal = await new Promise<string | null>((resolve) => {
      spawn(process.execPath, [script, remoteDir, cacheDir], { stdio: ['ignore', 'inherit', 'inherit'] }).on('exit', (_c, s) => resolve(s));
    });
    assert.equal(signal, 'SIGKILL');
    const remote = new CryptRemote(new LocalRemote(remoteDir), keys, cryptOptions);
    await assert.rejects(remote.stat('fifo'), 'not uploaded before the kill');
    const vfs = await Vfs.create(remote, { cacheMode: 'writes', cacheDir });
    await vfs.waitIdle();
    assert.equal((await remote.stat('fifo')).metadata!.mode, '10640');
    const dev = (await remote.stat('null')).metadata!;
    assert.deepEqual([dev.mode, dev.rdev], ['20666', '100000003']);
    const ops = new VfsFuseOps(vfs, opsOptions);
    assert.equal((await ops.lookup(1n, 'fifo')).mode, S_IFIFO | 0o640);
    assert.deepEqual(await vfs.close(), []);
    const files = await readdir(remoteDir);
    assert.equal(files.length, 2);
    for (const f of files) {
      const st = await stat(join(remoteDir, f));
      assert.ok(st.isFile(), 'the ciphertext file is a regular file');
      assert.equal(st.size, 32, 'an empty plaintext: the crypt header only');
    }
  });
});
