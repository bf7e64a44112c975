// Symlinks on the VFS (links on): NAME.rclonelink objects on the remote are
// the links NAME, in every cache mode, over memory and crypt(memory); the
// regular file wins when the remote holds both NAME and NAME.rclonelink.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vfs } from '../../../src/vfs/vfs.js';
import type { CacheMode } from '../../../src/vfs/options.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import { CryptRemote } from '../../../src/remote/crypt.js';
import { deriveKeys } from '../../../src/crypt/keys.js';
import type { Remote } from '../../../src/remote/remote.js';
import { listAll, readAll } from '../../helpers/remote-contract.js';
import { errnoOf } from '../../../src/fuse/errno-map.js';
import { constants as osConstants } from 'node:os';
import { failOnFileHandlesClosedByGc } from '../../helpers/file-handle-gc.js';

failOnFileHandlesClosedByGc();

const keys = await deriveKeys('links-test-password', 'links-test-salt');

/** The error answers errno `code` at the FUSE edge. */
const errno = (code: string) => (err: unknown) => {
  assert.equal(errnoOf(err), (osConstants.errno as Record<string, number>)[code], `expected ${code}, got ${String(err)}`);
  return true;
};

async function withVfs(remote: Remote, mode: CacheMode, fn: (vfs: Vfs) => Promise<void>, links = true): Promise<void> {
  const cacheDir = await mkdtemp(join(tmpdir(), 'cryptfs-links-test-'));
  const vfs = await Vfs.create(remote, { cacheMode: mode, cacheDir, links, writeBackMs: 0 });
  try {
    await fn(vfs);
  } finally {
    await vfs.close();
    await rm(cacheDir, { recursive: true, force: true });
  }
}

async function writeFile(vfs: Vfs, path: string, text: string): Promise<void> {
  const h = await vfs.open(path, { read: false, write: true, create: true, truncate: true });
  await h.write(Buffer.from(text), 0);
  await h.flush();
  await h.release();
  await vfs.waitIdle();
}

const remoteNames = async (remote: Remote, dir = '') => (await listAll(remote, dir)).map((e) => e.path).sort();

for (const mode of ['off', 'writes', 'full'] as const) {
  for (const [label, make] of [
    ['memory', () => new MemoryRemote()],
    ['crypt(memory)', () => new CryptRemote(new MemoryRemote(), keys, { mode: 'standard', encoding: 'base32', directoryNameEncryption: true, noDataEncryption: false })],
  ] as const) {
    describe(`vfs symlinks, --vfs-cache-mode ${mode}, over ${label}`, () => {
      it('symlink writes NAME.rclonelink holding the target; lookup, readdir and readlink show the link', async () => {
        const remote: Remote = make();
        await withVfs(remote, mode, async (vfs) => {
          await vfs.mkdir('d');
          const a = await vfs.symlink('d/link', '../target file');
          assert.deepEqual({ isLink: a.isLink, size: a.size }, { isLink: true, size: 14 });
          assert.deepEqual(await remoteNames(remote, 'd'), ['d/link.rclonelink']);
          assert.equal((await readAll(await remote.openRead('d/link.rclonelink'))).toString(), '../target file');
          const st = await vfs.stat('d/link');
          assert.equal(st.isLink, true);
          assert.equal(st.size, 14);
          assert.deepEqual(await vfs.readDir('d'), [{ name: 'link', isDir: false, isLink: true }]);
          assert.equal(await vfs.readlink('d/link'), '../target file');
          // The object's own name is not a name on the mount.
          assert.equal(await vfs.lookup('d/link.rclonelink'), undefined);
          await assert.rejects(vfs.symlink('d/link', 'other'), errno('EEXIST'));
          await assert.rejects(vfs.mkdir('d/link'), errno('EEXIST'));
          await assert.rejects(vfs.open('d/link', { read: true, write: false }), errno('ELOOP'));
          await assert.rejects(vfs.open('d/x.rclonelink', { read: false, write: true, create: true }), errno('EINVAL'));
          await assert.rejects(vfs.readlink('d'), errno('EINVAL'));
          await assert.rejects(vfs.rmdir('d'), errno('ENOTEMPTY'));
        });
      });

      it('a link made by another writer (rclone copy -l) is read from the remote, in a fresh VFS too', async () => {
        const remote: Remote = make();
        await remote.write('made.rclonelink', (async function* () {
          yield Buffer.from('/abs/target');
        })());
        await withVfs(remote, mode, async (vfs) => {
          assert.deepEqual(await vfs.readDir(''), [{ name: 'made', isDir: false, isLink: true }]);
          assert.equal(await vfs.readlink('made'), '/abs/target');
        });
        // links off: the object is a plain file of its own name.
        await withVfs(remote, mode, async (vfs) => {
          assert.deepEqual(await vfs.readDir(''), [{ name: 'made.rclonelink', isDir: false }]);
          await assert.rejects(vfs.symlink('l', 't'), errno('EPERM'));
        }, false);
      });

      it('unlink and rename of links; rename replaces a file with a link and a link with a file (ln -sf)', async () => {
        const remote: Remote = make();
        await withVfs(remote, mode, async (vfs) => {
          await vfs.symlink('a', 'target-a');
          await vfs.rename('a', 'b');
          assert.deepEqual(await remoteNames(remote), ['b.rclonelink']);
          assert.equal(await vfs.readlink('b'), 'target-a');
          assert.equal(await vfs.lookup('a'), undefined);

          // ln -sf over a link: a new link under a temporary name renamed over the old one.
          await vfs.symlink('tmp', 'target-new');
          await vfs.rename('tmp', 'b');
          assert.equal(await vfs.readlink('b'), 'target-new');
          assert.deepEqual(await remoteNames(remote), ['b.rclonelink']);

          // A link renamed over a regular file replaces it.
          await writeFile(vfs, 'file', 'contents');
          await vfs.rename('b', 'file');
          assert.deepEqual(await remoteNames(remote), ['file.rclonelink']);
          assert.equal((await vfs.stat('file')).isLink, true);

          // A regular file renamed over a link replaces it.
          await writeFile(vfs, 'other', 'hello');
          await vfs.rename('other', 'file');
          assert.deepEqual(await remoteNames(remote), ['file']);
          assert.equal((await vfs.stat('file')).isLink, undefined);
          assert.equal((await vfs.stat('file')).size, 5);

          await vfs.symlink('l2', 'x');
          await assert.rejects(vfs.rename('l2', 'file', { noReplace: true }), errno('EEXIST'));
          await vfs.mkdir('dir');
          await assert.rejects(vfs.rename('l2', 'dir'), errno('EISDIR'));
          await assert.rejects(vfs.rename('dir', 'l2'), errno('ENOTDIR'));
          await vfs.unlink('l2');
          assert.deepEqual((await remoteNames(remote)).filter((n) => n !== 'dir'), ['file']);
          assert.equal(await vfs.lookup('l2'), undefined);
        });
      });

      it('links move with their directory; touch -h sets a link time', async () => {
        const remote: Remote = make();
        await withVfs(remote, mode, async (vfs) => {
          await vfs.mkdir('d');
          await vfs.symlink('d/l', 'somewhere');
          await vfs.rename('d', 'e');
          assert.equal(await vfs.readlink('e/l'), 'somewhere');
          const t = new Date('2020-02-02T02:02:02Z');
          assert.equal((await vfs.setMtime('e/l', t)).mtime.getTime(), t.getTime());
          assert.equal((await remote.stat('e/l.rclonelink')).mtime.getTime(), t.getTime());
        });
      });
    });
  }
}

describe('vfs symlinks: a directory reader', () => {
  it('shows a link made after its listing completed (ls while ln -s runs)', async () => {
    const remote = new MemoryRemote();
    await withVfs(remote, 'writes', async (vfs) => {
      await vfs.symlink('first', 't1');
      const reader = await vfs.openDir('');
      assert.deepEqual(await reader.read(0, 10), [{ name: 'first', isDir: false, isLink: true }]);
      await vfs.symlink('second', 't2');
      assert.deepEqual(await reader.read(1, 10), [{ name: 'second', isDir: false, isLink: true }]);
      const fresh = await vfs.openDir('');
      assert.deepEqual((await fresh.all()).map((e) => e.name).sort(), ['first', 'second']);
    });
  });
});

describe('vfs symlinks: the remote holds both NAME and NAME.rclonelink', () => {
  it('the regular file (or directory) wins and the link stays hidden', async () => {
    const remote = new MemoryRemote();
    const put = (path: string, text: string) =>
      remote.write(path, (async function* () {
        yield Buffer.from(text);
      })());
    await put('x', 'regular');
    await put('x.rclonelink', 'target');
    await remote.mkdir('y');
    await put('y/inner', '1');
    await put('y.rclonelink', 'target');
    await withVfs(remote, 'writes', async (vfs) => {
      const names = (await vfs.readDir('')).sort((a, b) => a.name.localeCompare(b.name));
      assert.deepEqual(names, [
        { name: 'x', isDir: false },
        { name: 'y', isDir: true },
      ]);
      assert.equal((await vfs.stat('x')).isLink, undefined);
      assert.equal((await vfs.stat('x')).size, 7);
      await assert.rejects(vfs.readlink('x'), errno('EINVAL'));
      // Once the file goes, the link shows.
      await vfs.unlink('x');
      assert.equal(await vfs.readlink('x'), 'target');
    });
  });
});
