// The clock the VFS's timers run on (src/vfs/clock.ts) and the manual one tests drive.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../../src/vfs/clock.js';
import { ManualClock } from '../../helpers/manual-clock.js';

describe('ManualClock', () => {
  it('runs timers only from advance(), in due order, with now() at their due time', () => {
    const c = new ManualClock(1000);
    const seen: Array<[string, number]> = [];
    c.setTimeout(() => seen.push(['b', c.now()]), 20);
    c.setTimeout(() => seen.push(['a', c.now()]), 10);
    c.setTimeout(() => seen.push(['a2', c.now()]), 10);
    assert.equal(c.pending, 3);
    assert.equal(c.nextDue(), 10);
    assert.equal(c.advance(9), 0);
    assert.deepEqual(seen, []);
    assert.equal(c.advance(11), 3);
    assert.deepEqual(seen, [['a', 1010], ['a2', 1010], ['b', 1020]]);
    assert.equal(c.now(), 1020);
    assert.equal(c.pending, 0);
  });

  it('a timer set by a callback runs in the same advance when it falls due within it; clear cancels', () => {
    const c = new ManualClock(0);
    const seen: number[] = [];
    c.setTimeout(() => c.setTimeout(() => seen.push(c.now()), 5), 5);
    const never = c.setTimeout(() => seen.push(-1), 7);
    c.clear(never);
    c.clear(undefined);
    assert.equal(c.advance(10), 2);
    assert.deepEqual(seen, [10]);
  });

  it('intervals repeat until cleared, also from their own callback', () => {
    const c = new ManualClock(0);
    let n = 0;
    const t = c.setInterval(() => {
      if (++n === 3) c.clear(t);
    }, 100);
    assert.equal(t.unref(), t);
    assert.equal(c.advance(250), 2);
    assert.equal(c.advance(1000), 1);
    assert.equal(n, 3);
    assert.equal(c.pending, 0);
    assert.throws(() => c.advance(-1), RangeError);
  });
});

describe('systemClock', () => {
  it('is Date.now and Node timers (unref kept)', async () => {
    const t0 = Date.now();
    assert.ok(systemClock.now() >= t0);
    let fired = false;
    const cleared = systemClock.setTimeout(() => (fired = true), 0).unref();
    systemClock.clear(cleared);
    const iv = systemClock.setInterval(() => undefined, 1000).unref();
    assert.ok(!(iv as NodeJS.Timeout).hasRef(), 'unref() is the Node timer\'s');
    systemClock.clear(iv);
    await new Promise<void>((r) => systemClock.setTimeout(r, 1));
    assert.equal(fired, false, 'a cleared timer does not run');
  });
});
