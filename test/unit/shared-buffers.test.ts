import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedBuffers } from '../../src/shared-buffers.js';

test('SharedBuffers: the size asked for until one comes back, then the full capacity; a buffer given back serves any size it holds', () => {
  const pool = new SharedBuffers(1000, 2);
  const a = pool.take(10);
  assert.equal(a.length, 10, 'nothing given back yet: just the size asked for');
  pool.give(a);
  const big = pool.take(20);
  assert.equal(big.length, 1000, 'a is too small for 20; once one has come back, new ones are of full capacity');
  assert.equal(pool.take(5), a, 'the one given back serves a smaller size');
  const big2 = pool.take(1);
  assert.equal(big2.length, 1000);
  pool.give(a);
  pool.give(big);
  pool.give(big2); // full (2 kept): takes the place of the smallest, a
  const taken = new Set([pool.take(500), pool.take(500)]);
  assert.deepEqual(taken, new Set([big, big2]));
  const fresh = pool.take(5);
  assert.notEqual(fresh, a, 'a was dropped for a larger one');
  assert.equal(fresh.length, 1000);
});
