// The march (both sides listed directory by directory and handed to a visitor) and the plain walk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { march, type MarchItem } from '../../../src/cli/march.js';
import { walk } from '../../../src/cli/walk.js';
import { Filter } from '../../../src/cli/filter.js';
import { TransferStats } from '../../../src/cli/stats.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import type { ListOptions, RemoteEntry } from '../../../src/remote/remote.js';

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
