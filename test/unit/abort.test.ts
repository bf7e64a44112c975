// Cancellation helpers (src/abort.ts) and the error's mapping at the FUSE and CLI edges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { abortable, raceAbort, sharedAbortController } from '../../src/abort.js';
import { AbortedError, RemoteIOError } from '../../src/errors.js';
import { errnoOf } from '../../src/fuse/errno-map.js';
import { ExitCode, exitCodeOf } from '../../src/cli/exit-codes.js';
import { withRetry } from '../../src/remote/retry.js';
import { resumableBody } from '../../src/remote/resumable-read.js';

/** A source whose next() never settles (a stalled connection); tells when it was closed. */
function stalledSource(): AsyncIterable<Uint8Array> & { closed: boolean } {
  const s = {
    closed: false,
    [Symbol.asyncIterator]() {
      return {
        next: () => new Promise<IteratorResult<Uint8Array>>(() => undefined),
        return: async () => {
          s.closed = true;
          return { done: true as const, value: undefined };
        },
      };
    },
  };
  return s;
}

test('abortable: a pending next() rejects with AbortedError at once and the source is closed', async () => {
  const src = stalledSource();
  const ac = new AbortController();
  const it = abortable(src, ac.signal)[Symbol.asyncIterator]();
  const pending = it.next();
  setTimeout(() => ac.abort(), 20);
  const t0 = Date.now();
  await assert.rejects(pending, AbortedError);
  assert.ok(Date.now() - t0 < 1000);
  await new Promise((r) => setImmediate(r));
  assert.equal(src.closed, true);
});

test('abortable: the signal reason is the cause', async () => {
  const ac = new AbortController();
  const reason = new Error('unmounted');
  ac.abort(reason);
  const err = await raceAbort(new Promise(() => undefined), ac.signal).catch((e: unknown) => e);
  assert.ok(err instanceof AbortedError);
  assert.equal(err.cause, reason);
});

test('AbortedError answers EINTR on the mount and exit code 130 in the CLI', () => {
  assert.equal(errnoOf(new AbortedError()), os.constants.errno.EINTR);
  assert.equal(exitCodeOf(new AbortedError()), ExitCode.interrupted);
  assert.equal(ExitCode.interrupted, 130);
});

test('withRetry: no backoff is waited out and no attempt starts after abort', async () => {
  const ac = new AbortController();
  let attempts = 0;
  const run = withRetry(
    async () => {
      attempts++;
      throw new RemoteIOError('503', { retryable: true });
    },
    { policy: { attempts: 10, baseDelayMs: 60_000, maxDelayMs: 60_000 }, signal: ac.signal },
  );
  setTimeout(() => ac.abort(), 20);
  const t0 = Date.now();
  const err = await run.catch((e: unknown) => e);
  assert.ok(err instanceof AbortedError, String(err));
  assert.ok(Date.now() - t0 < 2000);
  // The backoff (up to a minute) would otherwise have started a second attempt.
  assert.ok(attempts <= 2);
  await new Promise((r) => setTimeout(r, 50));
  const seen = attempts;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(attempts, seen);
});

test('resumableBody: a body broken after abort is not resumed', async () => {
  const ac = new AbortController();
  let reopened = 0;
  const body = (async function* () {
    yield new Uint8Array(10);
    ac.abort();
    throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  })();
  const read = resumableBody(
    { body },
    {
      target: 'test',
      offset: 0,
      policy: { attempts: 5, baseDelayMs: 1, maxDelayMs: 1 },
      signal: ac.signal,
      reopen: async () => {
        reopened++;
        return undefined;
      },
    },
  );
  const err = await (async () => {
    for await (const _ of read) void _;
  })().catch((e: unknown) => e);
  assert.ok(err instanceof AbortedError, String(err));
  assert.equal(reopened, 0);
});

test('a shared signal takes many waiting operations without a listener-leak warning', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  try {
    const shared = sharedAbortController();
    const plain = new AbortController();
    const waits = Array.from({ length: 20 }, () => raceAbort(new Promise<void>(() => {}), shared.signal).catch((e: unknown) => e));
    for (let i = 0; i < 11; i++) plain.signal.addEventListener('abort', () => {});
    await new Promise((r) => setImmediate(r));
    // The plain controller shows the warning is observable here; the shared one gives none.
    assert.deepEqual(warnings, ['MaxListenersExceededWarning']);
    shared.abort();
    for (const e of await Promise.all(waits)) assert.ok(e instanceof AbortedError);
  } finally {
    process.off('warning', onWarning);
  }
});
