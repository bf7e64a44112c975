// The one bounded-concurrency implementation (src/concurrency.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fifo, Limiter, mapLimit } from '../../src/concurrency.js';

// Kept real timers: simulated work of different lengths, so that calls overlap and finish out of
// order. Nothing waits on them for a result; the assertions hold for any durations.
const tick = (ms = 1) => new Promise((r) => setTimeout(r, ms));

test('mapLimit: never more than `limit` in flight, results in input order', async () => {
  let active = 0;
  let peak = 0;
  const out = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (n, i) => {
    active++;
    peak = Math.max(peak, active);
    await tick(n);
    active--;
    return `${i}:${n}`;
  });
  assert.equal(peak, 3);
  assert.deepEqual(out, ['0:5', '1:1', '2:4', '3:2', '4:3', '5:0', '6:6']);
  assert.deepEqual(await mapLimit([], 4, async () => 1), []);
});

test('mapLimit: the first error, after every started call settled; no new calls start unless continueOnError', async () => {
  const started: number[] = [];
  let settled = 0;
  const fn = async (n: number) => {
    started.push(n);
    await tick(n === 2 ? 1 : 5);
    settled++;
    if (n === 2 || n === 4) throw new Error(`fail ${n}`);
    return n;
  };
  await assert.rejects(mapLimit([1, 2, 3, 4, 5, 6], 2, fn), /fail 2/);
  assert.equal(settled, started.length, 'nothing still running when it rejected');
  assert.ok(!started.includes(6), `stopped starting new calls: ${started}`);
  started.length = 0;
  settled = 0;
  await assert.rejects(mapLimit([1, 2, 3, 4, 5, 6], 2, fn, { continueOnError: true }), /fail 2/);
  assert.deepEqual([...started].sort(), [1, 2, 3, 4, 5, 6]);
  assert.equal(settled, 6);
});

test('Limiter: a counting semaphore, queued in order; a bad limit is refused', async () => {
  const l = new Limiter(2);
  let active = 0;
  let peak = 0;
  const order: number[] = [];
  await Promise.all(
    [0, 1, 2, 3, 4].map((i) =>
      l.run(async () => {
        active++;
        peak = Math.max(peak, active);
        order.push(i);
        await tick(2);
        active--;
      }),
    ),
  );
  assert.equal(peak, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  assert.throws(() => new Limiter(0), RangeError);
});

test('Limiter: a call made as a slot frees waits behind the calls already queued, within the limit', async () => {
  const l = new Limiter(1);
  let active = 0;
  let peak = 0;
  const order: string[] = [];
  const job = (name: string) => async () => {
    order.push(name);
    active++;
    peak = Math.max(peak, active);
    await tick(1);
    active--;
  };
  const first = l.run(job('first'));
  const queued = l.run(job('queued'));
  const late = first.then(() => l.run(job('late')));
  await Promise.all([first, queued, late]);
  assert.equal(peak, 1);
  assert.deepEqual(order, ['first', 'queued', 'late']);
});

test('Limiter: a function that throws at once, or rejects, rejects its call and frees its slot', async () => {
  const l = new Limiter(1);
  await assert.rejects(l.run(() => { throw new Error('sync'); }), /sync/);
  await assert.rejects(l.run(async () => { throw new Error('async'); }), /async/);
  assert.equal(await l.run(async () => 7), 7);
});

test('Limiter: 20,000 queued calls run in order and leave nothing queued', async () => {
  const l = new Limiter(3);
  const order: number[] = [];
  await Promise.all(Array.from({ length: 20_000 }, (_, i) => l.run(async () => {
    order.push(i);
    await Promise.resolve();
  })));
  assert.deepEqual(order, Array.from({ length: 20_000 }, (_, i) => i));
  assert.equal((l as unknown as { queue: Fifo<unknown> }).queue.length, 0);
});

test('Fifo: first in, first out across compactions; taken items are not held', () => {
  const q = new Fifo<{ n: number }>();
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 3000; i++) q.push({ n: next++ });
    for (let i = 0; i < 2500; i++) assert.equal(q.shift()!.n, expected++);
  }
  assert.equal(q.length, next - expected);
  while (q.length > 0) assert.equal(q.shift()!.n, expected++);
  assert.equal(q.shift(), undefined);
  const held = (q as unknown as { items: unknown[] }).items;
  assert.equal(held.length, 0);
});
