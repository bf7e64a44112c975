// The cache directory is private or refused, and belongs to one remote definition.
import { describe, it, after } from 'node:test';
import { spawn } from 'node:child_process';
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
import { failOnFileHandlesClosedByGc } from '../../helpers/file-handle-gc.js';

failOnFileHandlesClosedByGc();

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
    const { readdir, rm: rmDir, writeFile } = await import('node:fs/promises');
    const dir = await mkdtemp(join(tmpdir(), 'cryptfs-journal-'));
    try {
      // A daemon with key A leaves a dirty file and dies (killed, no close): its
      // lock file names a dead pid, its descriptors close with the process.
      const script = join(dir, 'crash-child.mjs');
      const writeCache = new URL('../../../src/vfs/write-cache.js', import.meta.url).href;
      await writeFile(
        script,
        `
        import { CacheStore } from ${JSON.stringify(writeCache)};
        const a = await CacheStore.open(process.argv[2], Buffer.from(process.argv[3], 'hex'));
        const item = await a.store.create({ path: 'dirty.bin', size: 0, sourceSize: 0, mtime: new Date() });
        await item.write(0, Buffer.from('unsaved changes'));
        await a.store.markDirty(item);
        await item.close();
        process.stdout.write(item.id);
        process.kill(process.pid, 'SIGKILL');
        `,
      );
      let itemId = '';
      const signal = await new Promise<string | null>((resolve) => {
        const child = spawn(process.execPath, [script, join(dir, 'cache'), randomBytes(32).toString('hex')], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        child.stdout.on('data', (d: Buffer) => (itemId += d.toString()));
        child.on('exit', (_code, sig) => resolve(sig));
      });
      assert.equal(signal, 'SIGKILL');
      assert.ok(itemId !== '', 'the child created its dirty file');
      const cache = join(dir, 'cache');
      const b = await CacheStore.open(cache, randomBytes(32));
      assert.deepEqual(b.dirty, [], 'the other key reads nothing');
      assert.deepEqual(await readdir(join(cache, 'data')), []);
      const aside = (await readdir(cache)).filter((n) => n.startsWith('unreadable-'));
      assert.equal(aside.length, 1);
      assert.deepEqual(await readdir(join(cache, aside[0], 'data')), [itemId]);
      assert.ok((await readdir(join(cache, aside[0]))).includes('journal'));
      await b.store.close();
    } finally {
      await rmDir(dir, { recursive: true, force: true });
    }
  });
});
