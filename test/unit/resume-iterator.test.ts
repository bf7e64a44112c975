// resumeIterator: the pieces read ahead, then the rest, and the source closed however the consumer stops.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resumeIterator } from '../../src/resume-iterator.js';

function source(pieces: string[]): { iterator: AsyncIterator<Uint8Array>; closed: () => boolean } {
  let closed = false;
  async function* gen(): AsyncGenerator<Uint8Array> {
    try {
      for (const p of pieces) yield Buffer.from(p);
    } finally {
      closed = true;
    }
  }
  const g = gen();
  return { iterator: g, closed: () => closed };
}

const text = async (it: AsyncIterable<Uint8Array>, limit = Infinity): Promise<string[]> => {
  const out: string[] = [];
  for await (const p of it) {
    out.push(Buffer.from(p).toString());
    if (out.length >= limit) break;
  }
  return out;
};

describe('resumeIterator', () => {
  it('yields the pieces taken (empty and missing ones left out), then the rest, and closes the source at its end', async () => {
    const s = source(['c', 'd']);
    await s.iterator.next(); // 'c' was taken ahead
    const got = await text(resumeIterator([Buffer.from('a'), Buffer.alloc(0), undefined, Buffer.from('b')], s.iterator));
    assert.deepEqual(got, ['a', 'b', 'd']);
    assert.equal(s.closed(), true);
  });

  it('closes the source when the consumer stops early, also before the rest was asked for', async () => {
    const s = source(['x', 'y', 'z']);
    await s.iterator.next();
    assert.deepEqual(await text(resumeIterator([Buffer.from('front')], s.iterator), 1), ['front']);
    assert.equal(s.closed(), true);
  });
});
