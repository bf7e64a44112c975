// parallel-read.ts over an in-memory object: the bytes come out whole and in order for any range,
// the parts in flight stay within the window and the memory bound, the part being read streams, a reader that stops early
// leaves nothing held, a short part is an error, and every part asks for the first part's version.
import { randomBytes } from 'node:crypto';
import { AbortedError } from '../../../src/errors.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  openParallelRead,
  parallelReadHeldBytes,
  ShortPartError,
  type OpenedPart,
  type ParallelReadSettings,
} from '../../../src/remote/parallel-read.js';
import { pollUntil } from '../../helpers/poll.js';

interface FakeObject {
  data: Buffer;
  etag: string;
  /** Ranges asked for, in order. */
  calls: Array<{ offset: number; end: number; etag?: string }>;
  inFlight: number;
  maxInFlight: number;
  /** Serve this part short (offset of the part). */
  shortAt?: number;
  /** Bodies closed before their end (a real connection would be torn down, not reused). */
  closedEarly: number;
}

function fakeObject(size: number): FakeObject {
  return { data: randomBytes(size), etag: '"v1"', calls: [], inFlight: 0, maxInFlight: 0, closedEarly: 0 };
}

/** A PartOpener over `obj`, answering each part in small pieces after a tick, as a socket would. */
function opener(obj: FakeObject) {
  return async (offset: number, end: number, etag: string | undefined): Promise<OpenedPart | undefined> => {
    obj.calls.push({ offset, end, etag });
    if (offset >= obj.data.length) return undefined;
    obj.inFlight++;
    obj.maxInFlight = Math.max(obj.maxInFlight, obj.inFlight);
    const stop = Math.min(end, obj.data.length, obj.shortAt === offset ? offset + 10 : Infinity);
    const bytes = obj.data.subarray(offset, stop);
    async function* body(): AsyncGenerator<Uint8Array> {
      let ended = false;
      try {
        for (let at = 0; at < bytes.length; at += 1000) {
          await new Promise((r) => setImmediate(r));
          yield bytes.subarray(at, at + 1000);
        }
        ended = true;
      } finally {
        obj.inFlight--;
        if (!ended) obj.closedEarly++;
      }
    }
    return { body: body(), etag: obj.etag, totalSize: obj.data.length };
  };
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of source) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

const settings = (over: Partial<ParallelReadSettings> = {}): ParallelReadSettings => ({
  streams: 4,
  chunkSize: 64 * 1024,
  maxMemory: 64 * 1024 * 1024,
  ...over,
});

describe('parallel ranged reads', () => {
  it('yields exactly the bytes of any range, in order', async () => {
    const obj = fakeObject(1_000_000);
    const cases: Array<[number, number | undefined]> = [
      [0, undefined],
      [0, 65536],
      [0, 65537],
      [12345, undefined],
      [12345, 400_000],
      [999_999, undefined],
      [500_000, 10_000_000],
    ];
    for (const [offset, end] of cases) {
      const source = await openParallelRead(opener(obj), offset, end, 'fake', settings());
      assert.ok(source);
      const got = await collect(source);
      assert.ok(got.equals(obj.data.subarray(offset, end)), `range ${offset}..${end}`);
    }
    assert.equal(parallelReadHeldBytes(), 0);
  });

  it('an object of one part is one GET; a range past the end is nothing', async () => {
    const obj = fakeObject(50_000);
    const source = await openParallelRead(opener(obj), 0, undefined, 'fake', settings());
    assert.ok((await collect(source!)).equals(obj.data));
    assert.equal(obj.calls.length, 1);
    assert.equal(await openParallelRead(opener(obj), 50_000, undefined, 'fake', settings()), undefined);
  });

  it('keeps at most --multi-thread-streams parts in flight, and asks each for the first version', async () => {
    const obj = fakeObject(2_000_000);
    const source = await openParallelRead(opener(obj), 0, undefined, 'fake', settings({ streams: 3 }));
    assert.ok((await collect(source!)).equals(obj.data));
    // The part being read and those ahead of it: `streams` in all.
    assert.ok(obj.maxInFlight <= 3, `max in flight ${obj.maxInFlight}`);
    assert.ok(obj.maxInFlight >= 3, `parallel at all (max in flight ${obj.maxInFlight})`);
    assert.deepEqual(
      obj.calls.slice(1).map((c) => c.etag),
      obj.calls.slice(1).map(() => '"v1"'),
    );
    // Every body was read to its end, so a real connection goes back to the pool.
    assert.equal(obj.closedEarly, 0);
  });

  it('stays within the memory bound, yet always makes progress', async () => {
    // A reader slower than the parts ahead: they fill the bound, then wait for it.
    const obj = fakeObject(6_000_000);
    const maxMemory = 2_000_000;
    let peak = 0;
    const source = await openParallelRead(opener(obj), 0, undefined, 'fake', settings({ streams: 8, chunkSize: 512 * 1024, maxMemory }));
    const parts: Buffer[] = [];
    for await (const c of source!) {
      peak = Math.max(peak, parallelReadHeldBytes());
      parts.push(Buffer.from(c));
      for (let i = 0; i < 4; i++) await new Promise((r) => setImmediate(r));
    }
    assert.ok(Buffer.concat(parts).equals(obj.data));
    // The bound, plus the 1 MiB the part being read may run ahead, plus one piece per part in flight.
    assert.ok(peak <= maxMemory + 1024 * 1024 + 8 * 1000, `peak held ${peak}`);
    assert.ok(peak >= maxMemory / 2, `the parts ahead were held at all (peak ${peak})`);
    assert.equal(parallelReadHeldBytes(), 0);
  });

  it('the part being read streams: its first bytes reach the reader before the rest has arrived', { timeout: 20_000 }, async () => {
    const obj = fakeObject(1_000_000);
    const chunk = 64 * 1024;
    const gated = 3 * chunk; // the fourth part sends half, then waits for the reader to have that half
    let readerAt = 0;
    let release: (() => void) | undefined;
    const gate = new Promise<void>((r) => (release = r));
    const base = opener(obj);
    const gatedOpener = async (offset: number, end: number, etag: string | undefined): Promise<OpenedPart | undefined> => {
      const part = await base(offset, end, etag);
      if (!part || offset !== gated) return part;
      const inner = part.body;
      async function* body(): AsyncGenerator<Uint8Array> {
        let sent = 0;
        for await (const c of inner) {
          if (sent >= chunk / 2) await gate;
          sent += c.byteLength;
          yield c;
        }
      }
      return { ...part, body: body() };
    };
    const source = await openParallelRead(gatedOpener, 0, undefined, 'fake', settings({ streams: 2 }));
    const parts: Buffer[] = [];
    for await (const c of source!) {
      parts.push(Buffer.from(c));
      readerAt += c.byteLength;
      // Bytes of the gated part reached the reader while the part was still arriving.
      if (readerAt >= gated + chunk / 2) release!();
    }
    assert.ok(Buffer.concat(parts).equals(obj.data));
  });

  it('an object below --multi-thread-cutoff is read as two GETs in a row (the first part, then the rest)', async () => {
    const obj = fakeObject(1_000_000);
    const source = await openParallelRead(opener(obj), 0, undefined, 'fake', settings({ cutoff: 2_000_000 }));
    assert.ok((await collect(source!)).equals(obj.data));
    assert.deepEqual(
      obj.calls.map((c) => [c.offset, c.end]),
      [[0, 65536], [65536, 1_000_000]],
    );
    assert.equal(obj.maxInFlight, 1);
  });

  it('a reader that stops early leaves nothing held and nothing in flight', async () => {
    const obj = fakeObject(3_000_000);
    const source = await openParallelRead(opener(obj), 0, undefined, 'fake', settings());
    let n = 0;
    for await (const c of source!) {
      n += c.byteLength;
      if (n > 300_000) break;
    }
    assert.equal(parallelReadHeldBytes(), 0);
    // Parts already started finish their current piece and close.
    await pollUntil('the parts in flight to close', () => obj.inFlight === 0);
    assert.ok(obj.calls.length < 3_000_000 / 65536, `did not fetch the whole object (${obj.calls.length} GETs)`);
  });

  it('a reader that takes only the start of the first part causes no other GET', async () => {
    const obj = fakeObject(1_000_000);
    const source = await openParallelRead(opener(obj), 0, undefined, 'fake', settings({ chunkSize: 256 * 1024 }));
    let n = 0;
    for await (const c of source!) {
      n += c.byteLength;
      if (n >= 20_000) break;
    }
    assert.equal(obj.calls.length, 1);
    assert.equal(parallelReadHeldBytes(), 0);
  });

  it('a part that comes back short is an error, not a hole', async () => {
    const obj = fakeObject(500_000);
    obj.shortAt = 2 * 65536;
    const source = await openParallelRead(opener(obj), 0, undefined, 'fake', settings());
    await assert.rejects(collect(source!), ShortPartError);
    assert.equal(parallelReadHeldBytes(), 0);
  });
});

describe('parallel ranged reads: abort', () => {
  it('starts no part after the signal fires, ends with AbortedError and releases its memory', async () => {
    const obj = fakeObject(2_000_000);
    const ac = new AbortController();
    const held = parallelReadHeldBytes();
    const source = await openParallelRead(opener(obj), 0, undefined, 'test', settings({ streams: 4 }), ac.signal);
    const it = source![Symbol.asyncIterator]();
    // Through the first part (64 KiB) and into the prefetched ones.
    let got = 0;
    while (got < 100_000) got += (await it.next()).value!.byteLength;
    ac.abort();
    const callsAtAbort = obj.calls.length;
    const err = await (async () => {
      for (;;) if ((await it.next()).done) return undefined;
    })().catch((e: unknown) => e);
    assert.ok(err instanceof AbortedError, String(err));
    assert.equal(obj.calls.length, callsAtAbort, 'no part was opened after the abort');
    assert.ok(obj.calls.length < Math.ceil(obj.data.length / 65536));
    assert.equal(parallelReadHeldBytes(), held);
  });
});
