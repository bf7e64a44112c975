// Modes, owner and times as rclone metadata: the formats (as rclone 1.60's
// local backend prints them), the local and memory remotes, crypt passing it
// through, and chmod/chown/create(mode) through the FUSE operations and the
// VFS — clean files, files dirty in the cache, and a crash with a chmod
// journaled but not uploaded (a real child process killed with SIGKILL).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errnoOf } from '../../../src/fuse/errno-map.js';
import { VfsFuseOps } from '../../../src/fuse/fuse-ops.js';
import {
  carriedMetadata,
  formatMetadataTime,
  metadataOfPosix,
  parseMetadataTime,
  posixAttrsOf,
} from '../../../src/remote/metadata.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import { LocalRemote } from '../../../src/remote/local.js';
import { CryptRemote, type CryptRemoteOptions } from '../../../src/remote/crypt.js';
import { deriveKeys } from '../../../src/crypt/keys.js';
import { Vfs } from '../../../src/vfs/vfs.js';
import { bytesOf, listAll } from '../../helpers/remote-contract.js';
import { failOnFileHandlesClosedByGc } from '../../helpers/file-handle-gc.js';

failOnFileHandlesClosedByGc();

const keys = await deriveKeys('metadata-test-password', 'metadata-test-salt');
const cryptOptions: CryptRemoteOptions = { mode: 'standard', encoding: 'base32', directoryNameEncryption: true, noDataEncryption: false };
const isRoot = process.geteuid?.() === 0;
const opsOptions = { uid: 1234, gid: 5678, umask: 0o022, dirPerms: 0o777, filePerms: 0o666 };
const mountUser = { uid: 1234, gid: 5678 };

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cryptfs-metadata-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});
let n = 0;
const freshDir = () => join(tmp, `d${n++}`);

describe('rclone metadata formats', () => {
  it('mode in octal with the type bits, times as Go RFC3339Nano', () => {
    assert.deepEqual(metadataOfPosix({ mode: 0o751, uid: 0, gid: 10 }, false), { mode: '100751', uid: '0', gid: '10' });
    assert.equal(metadataOfPosix({ mode: 0o755 }, true).mode, '40755');
    assert.deepEqual(posixAttrsOf({ mode: '100751', uid: '500', gid: '20' }), { mode: 0o751, uid: 500, gid: 20 });
    assert.deepEqual(posixAttrsOf({ mode: '0100664' }), { mode: 0o664 }, 'the leading zero of rclone\'s documented example');
    assert.deepEqual(posixAttrsOf({ mode: 'rwx', uid: '-1', gid: 'x' }), {}, 'malformed values are ignored, as rclone does');
    // The value `rclone lsjson -M` printed for this time.
    const ns = 1577934245123456789n;
    assert.equal(formatMetadataTime(ns), '2020-01-02T03:04:05.123456789Z');
    assert.equal(formatMetadataTime(1577934245000000000n), '2020-01-02T03:04:05Z');
    assert.equal(formatMetadataTime(1577934245120000000n), '2020-01-02T03:04:05.12Z');
    assert.equal(parseMetadataTime('2020-01-02T03:04:05.123456789Z'), ns);
    assert.equal(parseMetadataTime('2020-01-02T04:04:05.5+01:00'), 1577934245500000000n);
    assert.equal(parseMetadataTime('yesterday'), undefined);
    assert.deepEqual(carriedMetadata({ mode: '100644', atime: 'a', mtime: 'm', btime: 'b', 'x-user': 'v' }), { mode: '100644', 'x-user': 'v' });
  });
});

describe('local remote metadata', () => {
  it('lists the file attributes, writes and changes them, refuses giving files away unless root', async () => {
    const dir = freshDir();
    const remote = new LocalRemote(dir);
    await remote.write('a/x', bytesOf(Buffer.from('x')), { metadata: { mode: '100751', atime: 'ignored' } });
    assert.equal((await stat(join(dir, 'a/x'))).mode & 0o7777, 0o751);
    const listed = (await remote.stat('a/x')).metadata!;
    assert.equal(listed.mode, '100751');
    assert.equal(listed.uid, String(process.getuid!()));
    assert.match(listed.atime!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    await remote.setMetadata('a/x', { mode: '100600' });
    assert.equal((await stat(join(dir, 'a/x'))).mode & 0o7777, 0o600);
    await remote.setMetadata('a', { mode: '40700' }, { isDir: true });
    assert.equal((await stat(join(dir, 'a'))).mode & 0o7777, 0o700);
    const entries = [];
    for await (const e of remote.list('')) entries.push(e);
    assert.equal(entries[0]!.metadata!.mode, '40700', 'directories carry theirs too');
    if (isRoot) {
      await remote.setMetadata('a/x', { uid: '4321', gid: '8765' });
      const st = await stat(join(dir, 'a/x'));
      assert.deepEqual([st.uid, st.gid], [4321, 8765]);
    } else {
      await assert.rejects(remote.setMetadata('a/x', { uid: '0' }), (err) => errnoOf(err) === os.constants.errno.EPERM);
    }
  });

  it('crypt passes metadata through to the ciphertext file', async () => {
    const dir = freshDir();
    const crypt = new CryptRemote(new LocalRemote(dir), keys, cryptOptions);
    await crypt.write('p/file', bytesOf(Buffer.from('hello')), { metadata: { mode: '100740' } });
    assert.equal((await crypt.stat('p/file')).metadata!.mode, '100740');
    await crypt.setMetadata!('p/file', { mode: '100711' });
    await crypt.setMetadata!('p', { mode: '40750' }, { isDir: true });
    const under = new LocalRemote(dir);
    const [encDir] = await listAll(under, '');
    const [encFile] = await listAll(under, encDir!.path);
    assert.equal((await stat(join(dir, encFile!.path))).mode & 0o7777, 0o711);
    assert.equal((await stat(join(dir, encDir!.path))).mode & 0o7777, 0o750);
  });
});

describe('chmod, chown, create(mode) through the FUSE operations', () => {
  it('persist as object metadata over memory, for clean and dirty files, across a new VFS', async () => {
    const remote = new MemoryRemote();
    await remote.write('old.txt', bytesOf(Buffer.from('old')));
    const vfs = await Vfs.create(remote, { cacheMode: 'writes', cacheDir: freshDir(), writeBackMs: 60_000 });
    const ops = new VfsFuseOps(vfs, opsOptions);
    const old = await ops.lookup(1n, 'old.txt');
    assert.equal(old.mode, fsc.S_IFREG | 0o644, 'no metadata: --file-perms less the umask');
    assert.deepEqual([old.uid, old.gid], [1234, 5678]);

    assert.equal((await ops.setattr(old.ino, { mode: 0o755 }, undefined)).mode, fsc.S_IFREG | 0o755);
    assert.equal(remote.objects.get('old.txt')!.metadata!.mode, '100755', 'a clean file: straight to the object');
    const writes = remote.objects.get('old.txt')!.data;
    await ops.setattr(old.ino, { mode: 0o755, uid: 1234 }, undefined);
    assert.equal(remote.objects.get('old.txt')!.data, writes);

    // A new file: create's mode; chmod while it is dirty rides on the upload.
    const made = await ops.create(1n, 'run.sh', 0o644, fsc.O_WRONLY | fsc.O_CREAT, mountUser);
    assert.equal(made.attr.mode, fsc.S_IFREG | 0o644);
    await ops.write(made.attr.ino, made.fh, Buffer.from('#!/bin/sh\n'), 0);
    const chmodded = await ops.setattr(made.attr.ino, { mode: 0o750 }, made.fh);
    assert.equal(chmodded.mode, fsc.S_IFREG | 0o750);
    assert.equal(remote.objects.has('run.sh'), false, 'not uploaded yet');
    await ops.release(made.attr.ino, made.fh, 0);
    await vfs.close();
    assert.equal(remote.objects.get('run.sh')!.metadata!.mode, '100750');

    const again = new VfsFuseOps(await Vfs.create(remote, { cacheMode: 'off' }), opsOptions);
    assert.equal((await again.lookup(1n, 'run.sh')).mode, fsc.S_IFREG | 0o750, 'the mode survives a remount');
    assert.equal((await again.lookup(1n, 'old.txt')).mode, fsc.S_IFREG | 0o755);

    // Rewriting a file keeps its mode (the new object carries it).
    const h = await again.open((await again.lookup(1n, 'old.txt')).ino, fsc.O_WRONLY | fsc.O_TRUNC);
    await again.write(0n, h.fh, Buffer.from('new'), 0);
    await again.release(0n, h.fh, 0);
    assert.equal(remote.objects.get('old.txt')!.metadata!.mode, '100755');
    assert.equal(remote.objects.get('old.txt')!.data.toString(), 'new');

    const other = await again.lookup(1n, 'run.sh');
    if (isRoot) {
      const owned = await again.setattr(other.ino, { uid: 42, gid: 43 }, undefined);
      assert.deepEqual([owned.uid, owned.gid], [42, 43]);
      assert.equal(remote.objects.get('run.sh')!.metadata!.uid, '42');
    } else {
      await assert.rejects(again.setattr(other.ino, { uid: 42 }, undefined), (err) => errnoOf(err) === os.constants.errno.EPERM);
    }
    await again.vfs.close();
  });

  it('directories: real modes on local, not stored on an object store (--dir-perms)', async () => {
    const local = new VfsFuseOps(await Vfs.create(new CryptRemote(new LocalRemote(freshDir()), keys, cryptOptions), { cacheMode: 'off' }), opsOptions);
    const d = await local.mkdir(1n, 'd', 0o750, mountUser);
    assert.equal(d.mode, fsc.S_IFDIR | 0o750);
    assert.equal((await local.setattr(d.ino, { mode: 0o711 }, undefined)).mode, fsc.S_IFDIR | 0o711);
    const f = await local.create(d.ino, 'f', 0o640, fsc.O_WRONLY | fsc.O_CREAT, mountUser);
    await local.release(f.attr.ino, f.fh, 0);
    const touched = await local.setattr(f.attr.ino, { mtimeNs: 1_000_000_000_000_000_000n }, undefined);
    assert.equal(touched.mode, fsc.S_IFREG | 0o640, 'utimens keeps the mode');
    await local.rename(1n, 'd', 1n, 'renamed', 0);
    assert.equal((await local.lookup(1n, 'renamed')).mode, fsc.S_IFDIR | 0o711, 'a renamed directory keeps its mode');
    await local.vfs.close();
    const remounted = new VfsFuseOps(await Vfs.create(local.vfs.remote, { cacheMode: 'off' }), opsOptions);
    const r = await remounted.lookup(1n, 'renamed');
    assert.equal(r.mode, fsc.S_IFDIR | 0o711);
    assert.equal((await remounted.lookup(r.ino, 'f')).mode, fsc.S_IFREG | 0o640);
    await remounted.vfs.close();
    const mem = new VfsFuseOps(await Vfs.create(new MemoryRemote(), { cacheMode: 'off' }), opsOptions);
    const m = await mem.mkdir(1n, 'd', 0o750, mountUser);
    assert.equal(m.mode, fsc.S_IFDIR | 0o755, 'a prefix has no mode of its own');
    await mem.vfs.close();
  });

  it('a chmod journaled but not uploaded when the daemon is killed reaches the object after restart', async () => {
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
      const keys = await deriveKeys('metadata-test-password', 'metadata-test-salt');
      const remote = new CryptRemote(new LocalRemote(process.argv[2]), keys, ${JSON.stringify(cryptOptions)});
      const vfs = await Vfs.create(remote, { cacheMode: 'writes', cacheDir: process.argv[3], writeBackMs: 600000 });
      const h = await vfs.open('tool', { read: false, write: true, create: true, metadata: { mode: '100644' } });
      await h.write(Buffer.from('#!/bin/sh\\necho ok\\n'), 0);
      await h.release();
      await vfs.setOwnerAndMode('tool', { mode: 0o755 });
      process.kill(process.pid, 'SIGKILL');
      `,
    );
    const signal = await new Promise<string | null>((resolve) => {
      spawn(process.execPath, [script, remoteDir, cacheDir], { stdio: ['ignore', 'inherit', 'inherit'] }).on('exit', (_c, s) => resolve(s));
    });
    assert.equal(signal, 'SIGKILL');
    const remote = new CryptRemote(new LocalRemote(remoteDir), keys, cryptOptions);
    await assert.rejects(remote.stat('tool'), 'not uploaded before the kill');
    const vfs = await Vfs.create(remote, { cacheMode: 'writes', cacheDir });
    await vfs.waitIdle();
    assert.equal((await remote.stat('tool')).metadata!.mode, '100755');
    assert.deepEqual(await vfs.close(), []);
  });
});
