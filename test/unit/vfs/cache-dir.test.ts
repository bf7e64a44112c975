// The cache directory is private or refused, and belongs to one remote definition.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vfs } from '../../../src/vfs/vfs.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import { checkCacheDirSafe, remoteCacheDir } from '../../../src/vfs/cache-key.js';
import { CryptRemote } from '../../../src/remote/crypt.js';
import { deriveKeys } from '../../../src/crypt/keys.js';
import type { Remote } from '../../../src/remote/remote.js';

describe('VFS cache directory', () => {
  const dirs: string[] = [];
  const fresh = async () => {
    const d = await mkdtemp(join(tmpdir(), 'cryptfs-cachedir-'));
    dirs.push(d);
    return d;
  };
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('is refused when another user owns it, when group or others may write it, or when it is a symlink', async () => {
    const root = await fresh();
    const other = join(root, 'other');
    await mkdir(other, { mode: 0o700 });
    if (process.getuid?.() === 0) {
      await chown(other, 65534, 65534);
      await assert.rejects(Vfs.create(new MemoryRemote(), { cacheMode: 'writes', cacheDir: other }), /owned by uid 65534/);
    }
    const shared = join(root, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o770);
    await assert.rejects(Vfs.create(new MemoryRemote(), { cacheMode: 'writes', cacheDir: shared }), /writable by its group/);
    await chmod(shared, 0o703);
    await assert.rejects(checkCacheDirSafe(shared), /writable by other users/);
    const link = join(root, 'link');
    const target = join(root, 'target');
    await mkdir(target, { mode: 0o700 });
    await symlink(target, link);
    await assert.rejects(checkCacheDirSafe(link), /symbolic link/);
    // A private directory is taken.
    const ok = join(root, 'ok');
    const vfs = await Vfs.create(new MemoryRemote(), { cacheMode: 'writes', cacheDir: ok });
    await vfs.close();
  });

  it('is one per remote definition: the same name with other keys or another remote gets another directory', async () => {
    const root = await fresh();
    const base = new MemoryRemote();
    const opts = { mode: 'standard' as const, encoding: 'base32' as const, directoryNameEncryption: true, noDataEncryption: false };
    const a: Remote = new CryptRemote(base, await deriveKeys('a'), opts, 'secret:');
    const b: Remote = new CryptRemote(base, await deriveKeys('b'), opts, 'secret:');
    a.definitionId = b.definitionId = 'same definition digest';
    const dirA = await remoteCacheDir(root, a);
    const dirB = await remoteCacheDir(root, b);
    assert.notEqual(dirA, dirB, 'other passwords, other cache');
    assert.equal(await remoteCacheDir(root, a), dirA, 'stable');
    b.definitionId = 'another definition';
    const b2: Remote = new CryptRemote(base, await deriveKeys('a'), opts, 'secret:');
    b2.definitionId = 'another definition';
    assert.notEqual(await remoteCacheDir(root, b2), dirA, 'same keys over another remote, other cache');
  });
});

describe('VFS cache store: an unreadable journal', () => {
  it('never causes block files to be deleted: they are moved aside with the journal', async () => {
    const { CacheStore } = await import('../../../src/vfs/write-cache.js');
    const { randomBytes } = await import('node:crypto');
    const { readdir, rm: rmDir } = await import('node:fs/promises');
    const dir = await mkdtemp(join(tmpdir(), 'cryptfs-journal-'));
    try {
      const keyA = randomBytes(32);
      const a = await CacheStore.open(dir, keyA);
      const item = await a.store.create({ path: 'dirty.bin', size: 0, sourceSize: 0, mtime: new Date() });
      await item.write(0, Buffer.from('unsaved changes'));
      await a.store.markDirty(item);
      await item.close();
      // The daemon dies here: no close, the lock file stays behind (its pid is ours, so it counts as stale).
      await rmDir(join(dir, 'lock'));
      const b = await CacheStore.open(dir, randomBytes(32));
      assert.deepEqual(b.dirty, [], 'the other key reads nothing');
      assert.deepEqual(await readdir(join(dir, 'data')), []);
      const aside = (await readdir(dir)).filter((n) => n.startsWith('unreadable-'));
      assert.equal(aside.length, 1);
      assert.deepEqual(await readdir(join(dir, aside[0], 'data')), [item.id]);
      assert.ok((await readdir(join(dir, aside[0]))).includes('journal'));
      await b.store.close();
    } finally {
      await rmDir(dir, { recursive: true, force: true });
    }
  });
});
