// delete and purge's deleting (cli/delete-files.ts): files deleted while the walk goes on, a bounded
// backlog, a fixed number of deletions at a time, failures counted without stopping the others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deleteWalkedFiles, purgeByDeleting, type DeleteOptions } from '../../../src/cli/delete-files.js';
import { Filter } from '../../../src/cli/filter.js';
import { TransferStats } from '../../../src/cli/stats.js';
import { walk } from '../../../src/cli/walk.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import type { ListOptions, RemoteEntry } from '../../../src/remote/remote.js';

async function* oneChunk(bytes: Buffer): AsyncGenerator<Uint8Array> {
  yield bytes;
}

interface Watched {
  /** Directories listed so far, in order. */
  listed: string[];
  /** Each delete() call: the path, and how many directories had been listed when it started. */
  deletes: { path: string; listedBefore: number }[];
  /** Most delete() calls running at once. */
  mostAtOnce: number;
  /** ListOptions.modTimes of each listing. */
  modTimes: (boolean | undefined)[];
}

/** `dirs` directories of `files` files; listings and deletions are watched, each deletion waits a turn. */
async function treeOf(dirs: number, files: number, failing = new Set<string>()): Promise<MemoryRemote & Watched> {
  const remote = Object.assign(new MemoryRemote(), { listed: [], deletes: [], mostAtOnce: 0, modTimes: [] } as Watched);
  for (let d = 0; d < dirs; d++) {
    for (let f = 0; f < files; f++) await remote.write(`d${d}/f${f}`, oneChunk(Buffer.from('x')));
  }
  const list = remote.list.bind(remote);
  remote.list = (dir: string, options?: ListOptions): AsyncIterable<RemoteEntry> => {
    remote.listed.push(dir);
    remote.modTimes.push(options?.modTimes);
    return list(dir, options);
  };
  const del = remote.delete.bind(remote);
  let running = 0;
  remote.delete = async (path: string) => {
    remote.deletes.push({ path, listedBefore: remote.listed.length });
    running++;
    remote.mostAtOnce = Math.max(remote.mostAtOnce, running);
    try {
      await new Promise((r) => setTimeout(r, 1));
      if (failing.has(path)) throw new Error(`refused: ${path}`);
      await del(path);
    } finally {
      running--;
    }
  };
  return remote;
}

const options = (more: Partial<DeleteOptions> = {}): DeleteOptions => ({ checkers: 4, maxBacklog: 10_000, dryRun: false, ...more });

test('deletes every file, --checkers at a time, and returns the directories', async () => {
  const remote = await treeOf(6, 10);
  const stats = new TransferStats();
  const dirs = await deleteWalkedFiles(remote, stats, options({ checkers: 3 }));
  assert.deepEqual(dirs.sort(), ['d0', 'd1', 'd2', 'd3', 'd4', 'd5']);
  assert.equal(stats.deletes, 60);
  assert.equal(remote.deletes.length, 60);
  assert.equal(remote.mostAtOnce, 3, 'three deletions at a time, all the time');
  // No listing asked for modification times (an object store reads each object's metadata for one).
  assert.ok(remote.modTimes.every((m) => m === false), `modTimes: ${remote.modTimes}`);
  for await (const e of walk(remote, '')) assert.ok(e.isDir, `${e.path} left`);
});

// Before, the whole tree was listed and held before the first deletion.
test('deletions start with the first listings, and the walk stays at most --max-backlog files ahead', async () => {
  const remote = await treeOf(30, 1);
  const stats = new TransferStats();
  await deleteWalkedFiles(remote, stats, options({ checkers: 1, maxBacklog: 2 }));
  assert.equal(stats.deletes, 30);
  // The k-th deletion (one file per directory) starts with at most the root, k directories before
  // it, the 2 of the backlog and the listings in flight (--checkers) listed.
  remote.deletes.forEach(({ path, listedBefore }, k) => {
    assert.ok(listedBefore <= 1 + k + 2 + 1 + 1, `deletion ${k} (${path}) started after ${listedBefore} listings`);
  });
  assert.ok(remote.deletes[0].listedBefore < 31, 'the first deletion waited for the whole walk');
});

test('a deletion that fails is counted and logged; the others go on', async () => {
  const remote = await treeOf(3, 4, new Set(['d1/f2']));
  const stats = new TransferStats();
  await deleteWalkedFiles(remote, stats, options());
  assert.equal(stats.errors, 1);
  assert.match(String((stats.lastError as Error).message), /refused: d1\/f2/);
  assert.equal(stats.deletes, 11);
  assert.equal(remote.deletes.length, 12);
});

test('the filter chooses the files; --dry-run deletes nothing', async () => {
  const remote = await treeOf(2, 3);
  const filter = new Filter();
  filter.add(false, '/d0/**'); // exclude d0
  let stats = new TransferStats();
  await deleteWalkedFiles(remote, stats, options({ filter }));
  assert.deepEqual(remote.deletes.map((d) => d.path).sort(), ['d1/f0', 'd1/f1', 'd1/f2']);
  const before = remote.deletes.length;
  stats = new TransferStats();
  await deleteWalkedFiles(remote, stats, options({ dryRun: true }));
  assert.equal(remote.deletes.length, before);
  assert.equal(stats.deletes, 0);
});

test('one named file: only that one, no walk', async () => {
  const remote = await treeOf(2, 2);
  const stats = new TransferStats();
  const dirs = await deleteWalkedFiles(remote, stats, options({ file: 'd1/f1' }));
  assert.deepEqual(dirs, []);
  assert.deepEqual(remote.deletes.map((d) => d.path), ['d1/f1']);
  assert.deepEqual(remote.listed, []);
});

test('purge without a purge of its own: files, then directories; a failed deletion leaves the directories', async () => {
  const remote = await treeOf(3, 2);
  await remote.mkdir('empty/deeper');
  let stats = new TransferStats();
  await purgeByDeleting(remote, stats, options());
  assert.equal(stats.errors, 0);
  const left: string[] = [];
  for await (const e of remote.list('')) left.push(e.path);
  assert.deepEqual(left, []);

  const failing = await treeOf(2, 2, new Set(['d0/f0']));
  await failing.mkdir('empty');
  const removed: string[] = [];
  const rmdir = failing.rmdir.bind(failing);
  failing.rmdir = (dir: string) => (removed.push(dir), rmdir(dir));
  stats = new TransferStats();
  await purgeByDeleting(failing, stats, options());
  assert.equal(stats.errors, 1);
  assert.equal(stats.deletes, 3, 'the other files are deleted');
  assert.deepEqual(removed, [], 'no directory is removed when a file could not be deleted');
  const kept: string[] = [];
  for await (const e of failing.list('')) kept.push(e.path);
  assert.deepEqual(kept.sort(), ['d0', 'empty']);
});
