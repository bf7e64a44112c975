// pollUntil (test/helpers/poll.ts): returns as soon as the condition holds, and fails with what it
// waited for when it never does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil, PollTimeoutError } from '../helpers/poll.js';

test('pollUntil: the first truthy value; errors count as not yet', async () => {
  let n = 0;
  const v = await pollUntil(
    'n to reach 3',
    () => {
      n++;
      if (n === 1) throw new Error('not there yet');
      return n >= 3 ? { n } : undefined;
    },
    { intervalMs: 1 },
  );
  assert.deepEqual(v, { n: 3 });
});

test('pollUntil: times out naming the condition and the last state seen', async () => {
  await assert.rejects(
    pollUntil('the impossible', () => false, { timeoutMs: 30, intervalMs: 5 }),
    (err: unknown) => err instanceof PollTimeoutError && /timed out after 30 ms waiting for the impossible \(last value: false\)/.test(String(err)),
  );
  await assert.rejects(
    pollUntil('the thing', async () => Promise.reject(new Error('boom')), { timeoutMs: 20, intervalMs: 5, detail: () => 'missing: [x]' }),
    /waiting for the thing \(missing: \[x\]\)/,
  );
});
