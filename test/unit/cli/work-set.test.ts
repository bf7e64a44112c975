// WorkSet: the transfer code's background jobs and the directory walk's backpressure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JobQueue, Limiter, WorkSet } from '../../../src/cli/concurrency.js';
import { TransferStats } from '../../../src/cli/stats.js';
import { syncTree } from '../../../src/cli/sync-tree.js';
import { defaultTransferOptions } from '../../../src/cli/transfer-flags.js';
import { MemoryRemote } from '../../../src/remote/memory.js';

test('WorkSet.below waits until fewer than n jobs run; drain waits for all of them', async () => {
  const work = new WorkSet();
  const ends: (() => void)[] = [];
  for (let i = 0; i < 3; i++) work.spawn(() => new Promise<void>((r) => ends.push(r)));
  let passed = false;
  const waiting = work.below(3).then(() => { passed = true; });
  await new Promise((r) => setImmediate(r));
  assert.equal(passed, false, 'three running: below(3) waits');
  ends.shift()!();
  await waiting;
  assert.equal(work.size, 2);
  await work.below(3); // already below: returns at once
  let drained = false;
  const draining = work.drain().then(() => { drained = true; });
  ends.shift()!();
  await new Promise((r) => setImmediate(r));
  assert.equal(drained, false);
  ends.shift()!();
  await draining;
  assert.equal(work.size, 0);
});

test('JobQueue: jobs run in order, at most `concurrency` at once, each counted in its WorkSet until it ends', async () => {
  const work = new WorkSet();
  let active = 0;
  let peak = 0;
  const order: number[] = [];
  const queue = new JobQueue<number>(work, 2, async (n) => {
    active++;
    peak = Math.max(peak, active);
    order.push(n);
    await new Promise((r) => setImmediate(r));
    active--;
  });
  for (let i = 0; i < 7; i++) queue.push(i);
  assert.equal(work.size, 7);
  await work.drain();
  assert.equal(work.size, 0);
  assert.equal(peak, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6]);
  // Reused after it emptied.
  queue.push(7);
  await work.drain();
  assert.deepEqual(order.at(-1), 7);
});

test('WorkSet.drain throws the first error a job let escape, once; the other jobs still run', async () => {
  const work = new WorkSet();
  const ran: number[] = [];
  const queue = new JobQueue<number>(work, 1, async (n) => {
    ran.push(n);
    if (n === 1) throw new Error('job 1 failed');
    if (n === 2) throw new Error('job 2 failed');
  });
  for (let i = 0; i < 4; i++) queue.push(i);
  work.spawn(() => Promise.reject(new Error('spawned failed')));
  await assert.rejects(work.drain(), /job 1 failed|spawned failed/);
  assert.deepEqual(ran, [0, 1, 2, 3]);
  await work.drain(); // reported once
});

// A copy's walk lists far faster than its transfers run, so once the backlog is full it waits in
// below() after nearly every job that ends. Waiting by racing the running jobs left a reaction on
// each of them per wait: memory grew with backlog × files (a 30,000-file copy ran out of heap).
test('WorkSet: a walk far ahead of its jobs (20,000 files, backlog 5,000) keeps memory flat', async () => {
  const work = new WorkSet();
  const transfers = new Limiter(4);
  const heapAtStart = process.memoryUsage().heapUsed;
  let peakGrowth = 0;
  const started = Date.now();
  for (let i = 0; i < 20_000; i++) {
    await work.below(5_000);
    work.spawn(() => transfers.run(() => new Promise<void>((r) => setImmediate(r))));
    if (i % 500 === 0) peakGrowth = Math.max(peakGrowth, process.memoryUsage().heapUsed - heapAtStart);
    assert.ok(Date.now() - started < 20_000, `still at file ${i} after 20 s`);
  }
  await work.drain();
  assert.ok(peakGrowth < 64 * 1024 * 1024, `heap grew by ${(peakGrowth / 1048576).toFixed(0)} MiB`);
});

// --max-backlog: the walk waits while that many checks/transfers are decided but not finished.
async function* oneChunk(bytes: Buffer): AsyncGenerator<Uint8Array> {
  yield bytes;
}

class QueuePeak extends TransferStats {
  peak = 0;
  override queueTransfer(size: number): void {
    super.queueTransfer(size);
    this.peak = Math.max(this.peak, this.transferQueue);
  }
}

async function copyPeak(maxBacklog?: number): Promise<QueuePeak> {
  const src = new MemoryRemote();
  for (let i = 0; i < 30; i++) await src.write(`f${String(i).padStart(2, '0')}.txt`, oneChunk(Buffer.from(`file ${i}`)));
  const dst = new MemoryRemote();
  // Each write takes a few turns of the event loop, while listing the source takes none.
  const write = dst.write.bind(dst);
  dst.write = async (...args) => {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    return write(...args);
  };
  const stats = new QueuePeak();
  const opts = { ...defaultTransferOptions(), stats, transfers: 1, ...(maxBacklog === undefined ? {} : { maxBacklog }) };
  await syncTree(src, dst, opts, 'copy');
  assert.equal(stats.transfers, 30);
  assert.equal(stats.errors, 0);
  return stats;
}

test('copy: --max-backlog bounds the transfers queued ahead of the walk', async () => {
  assert.ok((await copyPeak()).peak > 20, 'by default the walk runs ahead of a slow destination');
  const bounded = await copyPeak(3);
  assert.ok(bounded.peak <= 3, `peak queue ${bounded.peak}`);
});

test('WorkSet.below: one ending job lets one waiter on; a waiter that starts nothing does not strand the others', async () => {
  const work = new WorkSet();
  const ends: (() => void)[] = [];
  const job = () => new Promise<void>((r) => ends.push(r));
  work.spawn(job);
  work.spawn(job);
  const woken: string[] = [];
  // Three walks wait for room below 2; the first two woken start nothing.
  const a = work.below(2).then(() => woken.push('a'));
  const b = work.below(2).then(() => woken.push('b'));
  const c = work.below(2).then(() => { woken.push('c'); work.spawn(job); });
  await new Promise((r) => setImmediate(r));
  ends.shift()!(); // one slot: one walk
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(woken, ['a']);
  ends.shift()!(); // nothing left running: all that wait check again
  await Promise.all([a, b, c]);
  assert.deepEqual(woken, ['a', 'b', 'c']);
  assert.equal(work.size, 1);
  ends.shift()!();
  await work.drain();
});
