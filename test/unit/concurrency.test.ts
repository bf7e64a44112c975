// The one bounded-concurrency implementation (src/concurrency.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Limiter, mapLimit } from '../../src/concurrency.js';

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
