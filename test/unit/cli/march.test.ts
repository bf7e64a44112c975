// The march (both sides listed directory by directory and handed to a visitor) and the plain walk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { march, type MarchItem } from '../../../src/cli/march.js';
import { walk } from '../../../src/cli/walk.js';
import { Filter } from '../../../src/cli/filter.js';
import { TransferStats } from '../../../src/cli/stats.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import type { ListOptions, Remote, RemoteEntry } from '../../../src/remote/remote.js';

async function* oneChunk(bytes: Buffer): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** A source of `dirs` directories of `files` files each, counting the directories it has listed. */
async function treeOf(dirs: number, files: number): Promise<MemoryRemote & { listed: string[] }> {
  const remote = Object.assign(new MemoryRemote(), { listed: [] as string[] });
  for (let d = 0; d < dirs; d++) {
    for (let f = 0; f < files; f++) await remote.write(`d${d}/f${f}`, oneChunk(Buffer.from('x')));
  }
  const list = remote.list.bind(remote);
  remote.list = (dir: string, options?: ListOptions): AsyncIterable<RemoteEntry> => {
    remote.listed.push(dir);
    return list(dir, options);
  };
  return remote;
}

// A visitor slower than the listings (a full backlog) must not let the walk list, and hold, the
// whole tree ahead of it: at most --checkers directories are listed and not yet visited.
test('march: a slow visitor holds back the listings (at most --checkers directories ahead)', async () => {
  const src = await treeOf(20, 5);
  const visited = new Set<string>();
  let mostAhead = 0;
  await march(src, undefined, { filter: new Filter(), checkers: 3, maxDepth: -1, stats: new TransferStats() }, async (item: MarchItem) => {
    if (item.src?.isDir) return true;
    visited.add(item.rel.split('/')[0]);
    // Directories listed (the root aside) whose files have not all been visited yet.
    const ahead = src.listed.filter((d) => d !== '' && !visited.has(d)).length;
    mostAhead = Math.max(mostAhead, ahead);
    await new Promise((r) => setImmediate(r));
    return false;
  });
  assert.equal(visited.size, 20);
  assert.equal(src.listed.length, 21);
  assert.ok(mostAhead <= 3, `${mostAhead} directories listed ahead of the visitor`);
});

// The same for the plain walk (ls, hashsum): a slow consumer holds back the listings.
test('walk: a slow consumer holds back the listings (at most `concurrency` directories ahead)', async () => {
  const src = await treeOf(20, 5);
  const consumed = new Set<string>();
  let mostAhead = 0;
  let files = 0;
  for await (const e of walk(src, '', { concurrency: 3 })) {
    if (e.isDir) continue;
    files++;
    consumed.add(e.path.split('/')[0]);
    const ahead = src.listed.filter((d) => d !== '' && !consumed.has(d)).length;
    mostAhead = Math.max(mostAhead, ahead);
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(files, 100);
  assert.equal(src.listed.length, 21);
  assert.ok(mostAhead <= 3, `${mostAhead} directories listed ahead of the consumer`);
});

/** treeOf's remote that also lists whole trees at once (as S3 and Swift do), counting those listings. */
async function treeListingAtOnce(dirs: number, files: number): Promise<MemoryRemote & { listed: string[]; atOnce: string[] }> {
  const remote = Object.assign(await treeOf(dirs, files), { atOnce: [] as string[] });
  (remote as Remote).listRecursive = async function* (dir: string, options?: ListOptions) {
    remote.atOnce.push(dir);
    const pending = [dir];
    while (pending.length) {
      for await (const e of MemoryRemote.prototype.list.call(remote, pending.shift()!, options)) {
        yield e;
        if (e.isDir) pending.push(e.path);
      }
    }
  };
  return remote;
}

// rclone's walk.ListR: one recursive listing (a request per ~1,000 keys, not one per directory)
// unless the depth is bounded or a rule can leave directories out.
test('walk: one recursive listing where the remote has one and nothing prunes the tree', async () => {
  const src = await treeListingAtOnce(5, 3);
  const all: string[] = [];
  for await (const e of walk(src, '')) all.push(e.path);
  assert.equal(all.length, 5 + 15);
  assert.deepEqual(src.atOnce, ['']);
  assert.deepEqual(src.listed, [], 'no listing by directories');

  // A file rule filters the entries of the recursive listing.
  const filter = new Filter();
  filter.add(false, '*1');
  const files: string[] = [];
  for await (const e of walk(src, '', { filter })) if (!e.isDir) files.push(e.path);
  assert.deepEqual(files.sort(), ['d0/f0', 'd0/f2', 'd1/f0', 'd1/f2', 'd2/f0', 'd2/f2', 'd3/f0', 'd3/f2', 'd4/f0', 'd4/f2']);
  assert.equal(src.atOnce.length, 2);

  // Bounded depth, a directory rule or a descend callback: directory by directory.
  const dirRule = new Filter();
  dirRule.add(false, '/d1/**');
  for (const options of [{ maxDepth: 1 }, { filter: dirRule }, { descend: () => true }]) {
    src.listed.length = 0;
    for await (const _ of walk(src, '', options)) void _;
    assert.ok(src.listed.length > 0, `${JSON.stringify(Object.keys(options))}: listed by directories`);
  }
  assert.equal(src.atOnce.length, 2);
});

// --fast-list: each side listed whole once (a request per ~1,000 keys on S3 and Swift), the same
// items handed to the visitor in the same order as directory by directory.
test('march --fast-list: one recursive listing per side, the same items as by directories', async () => {
  const items = async (fastList: boolean) => {
    const src = await treeListingAtOnce(4, 3);
    const dst = await treeListingAtOnce(3, 2);
    const seen: string[] = [];
    await march(src, dst, { filter: new Filter(), checkers: 2, maxDepth: -1, stats: new TransferStats(), fastList }, (item: MarchItem) => {
      seen.push(`${item.rel} ${item.src ? 's' : '-'}${item.dst ? 'd' : '-'}`);
      return true;
    });
    return { seen, src, dst };
  };
  const byDirs = await items(false);
  const fast = await items(true);
  assert.deepEqual(fast.seen, byDirs.seen);
  assert.deepEqual([fast.src.atOnce, fast.dst.atOnce], [[''], ['']]);
  assert.deepEqual([fast.src.listed, fast.dst.listed], [[], []]);
  assert.deepEqual(byDirs.src.atOnce, []);
  assert.ok(byDirs.seen.includes('d3/f2 s-') && byDirs.seen.includes('d0/f1 sd'), byDirs.seen.join(', '));
});
