import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ObjectChangedError, ReadInterruptedError, resumableBody, type OpenedBody } from '../../../src/remote/resumable-read.js';

const policy = { attempts: 4, baseDelayMs: 1, maxDelayMs: 2 };
const data = Buffer.from('abcdefghijklmnopqrstuvwxyz');

function reset(): Error {
  return Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
}

/** Bytes of `data` from `from`, in pieces of `piece`, breaking after `breakAfter` bytes (if given). */
function body(from: number, piece: number, breakAfter?: number, etag = 'v1'): OpenedBody {
  return {
    etag,
    body: (async function* () {
      let sent = 0;
      for (let i = from; i < data.length; i += piece) {
        if (breakAfter !== undefined && sent >= breakAfter) throw reset();
        const chunk = data.subarray(i, Math.min(i + piece, data.length));
        sent += chunk.length;
        yield chunk;
      }
    })(),
  };
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of source) parts.push(c);
  return Buffer.concat(parts);
}

test('a body that breaks is resumed from the byte delivered, with the version asked for', async () => {
  const asked: Array<[number, string | undefined]> = [];
  const resumed: number[] = [];
  const out = await collect(
    resumableBody(body(2, 3, 6), {
      target: 't',
      offset: 2,
      policy,
      reopen: async (position, etag) => {
        asked.push([position, etag]);
        return body(position, 4, asked.length < 3 ? 5 : undefined);
      },
      onResume: (_err, _attempt, _delay, position) => resumed.push(position),
    }),
  );
  assert.equal(out.toString(), data.subarray(2).toString());
  assert.deepEqual(asked, [
    [8, 'v1'],
    [16, 'v1'],
    [24, 'v1'],
  ]);
  assert.deepEqual(resumed, [8, 16, 24]);
});

test('failures in a row without progress end the read with a typed error naming the position', async () => {
  let reopened = 0;
  const read = collect(
    resumableBody(body(0, 5, 10), {
      target: 's3: read "x"',
      offset: 0,
      policy,
      reopen: async (position) => {
        reopened++;
        return body(position, 5, 0);
      },
    }),
  );
  await assert.rejects(read, (err: unknown) => {
    assert.ok(err instanceof ReadInterruptedError);
    assert.equal(err.position, 10);
    assert.equal(err.retryable, true);
    assert.match(err.message, /at byte 10 after 4 attempts/);
    return true;
  });
  assert.equal(reopened, policy.attempts - 1);
});

test('a changed object is an ObjectChangedError, not bytes of two versions', async () => {
  const read = collect(
    resumableBody(body(0, 5, 10), { target: 't', offset: 0, policy, reopen: async (position) => body(position, 5, undefined, 'v2') }),
  );
  await assert.rejects(read, ObjectChangedError);
});

test('errors that are not worth resuming pass through; a bounded read that got everything ends cleanly', async () => {
  const broken: OpenedBody = {
    body: (async function* () {
      yield data.subarray(0, 3);
      throw new TypeError('bug');
    })(),
  };
  await assert.rejects(collect(resumableBody(broken, { target: 't', offset: 0, policy, reopen: async () => undefined })), TypeError);
  const out = await collect(
    resumableBody(body(0, 5, 10), { target: 't', offset: 0, end: 10, policy, reopen: async () => assert.fail('no reopen needed') }),
  );
  assert.equal(out.toString(), 'abcdefghij');
});
