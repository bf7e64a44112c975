// gatherDeclared (src/remote/local-io.ts): a small write's bytes in one buffer, or the whole source back;
// FilePieces: a file read in pieces, refilling its buffers when allowed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { fstatSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FilePieces, gatherDeclared, onePooledPiece, takeSmallReadBuffer, SMALL_READ_CAPACITY } from '../../../src/remote/local-io.js';
import { PieceReuse } from '../../../src/remote/remote.js';

async function* pieces(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

async function all(source: AsyncIterable<Uint8Array>): Promise<string> {
  const out: Buffer[] = [];
  for await (const p of source) out.push(Buffer.from(p));
  return Buffer.concat(out).toString();
}

test('gatherDeclared: one piece of the declared size is kept as it is; several are joined; fewer bytes are what came', async () => {
  const only = Buffer.from('abcdef');
  const one = await gatherDeclared((async function* () { yield only; })(), 6);
  assert.ok('bytes' in one);
  assert.equal(one.bytes.buffer, only.buffer); // not copied
  assert.equal(one.bytes.toString(), 'abcdef');
  const joined = await gatherDeclared(pieces('ab', 'cd', 'ef'), 6);
  assert.ok('bytes' in joined && joined.bytes.toString() === 'abcdef');
  const short = await gatherDeclared(pieces('ab', 'c'), 6);
  assert.ok('bytes' in short && short.bytes.toString() === 'abc');
  const none = await gatherDeclared(pieces(), 0);
  assert.ok('bytes' in none && none.bytes.length === 0);
});

test('gatherDeclared: more bytes than declared give back a source of every byte, and it closes the original', async () => {
  for (const parts of [['abcdef', 'gh'], ['abc', 'defgh'], ['ab', 'cd', 'efgh'], ['abcdefgh']]) {
    const got = await gatherDeclared(pieces(...parts), 6);
    assert.ok('rest' in got, parts.join('|'));
    assert.equal(await all(got.rest), 'abcdefgh');
  }
  let closed = false;
  const source = (async function* () {
    try {
      yield Buffer.from('abc');
      yield Buffer.from('defg');
      yield Buffer.from('never read');
    } finally {
      closed = true;
    }
  })();
  const got = await gatherDeclared(source, 5);
  assert.ok('rest' in got);
  for await (const _ of got.rest) break;
  assert.equal(closed, true);
});

/** Waits (up to a second) for `fd` to be closed: the close goes through the thread pool. */
async function closedSoon(fd: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      fstatSync(fd);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EBADF') return;
      throw err;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`fd ${fd} still open`);
}

test('FilePieces: a file (or a range) in pieces; buffers refilled only once reuse is on; fd closed at the end', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-pieces-'));
  try {
    const file = join(dir, 'f');
    const data = randomBytes(10 * 1000 + 17);
    writeFileSync(file, data);
    const read = async (start: number, end: number | undefined, reuse?: { allowed: boolean }) => {
      const fd = openSync(file, 'r');
      const buffers = new Set<ArrayBufferLike>();
      const out: Buffer[] = [];
      for await (const piece of new FilePieces(fd, start, end, 1000, reuse)) {
        buffers.add(piece.buffer);
        out.push(Buffer.from(piece));
      }
      await closedSoon(fd);
      return { bytes: Buffer.concat(out), buffers: buffers.size, pieces: out.length };
    };
    const whole = await read(0, undefined);
    assert.deepEqual(whole.bytes, data);
    assert.equal(whole.pieces, 11);
    assert.equal(whole.buffers, 11, 'a new buffer per piece without reuse');
    const reused = await read(0, undefined, { allowed: true });
    assert.deepEqual(reused.bytes, data);
    assert.equal(reused.buffers, 2, 'the piece handed out and the one read ahead');
    assert.deepEqual((await read(1500, 4499, { allowed: true })).bytes, data.subarray(1500, 4500));
    assert.deepEqual((await read(9990, 20000)).bytes, data.subarray(9990));
    assert.equal((await read(20000, undefined)).pieces, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('FilePieces: returned before the first read, after one piece, or aborted, the fd is closed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-pieces-'));
  try {
    const file = join(dir, 'f');
    writeFileSync(file, randomBytes(5000));
    const closed = closedSoon;
    let fd = openSync(file, 'r');
    await new FilePieces(fd, 0, undefined, 1000).return();
    await closed(fd);
    fd = openSync(file, 'r');
    const it = new FilePieces(fd, 0, undefined, 1000);
    assert.equal((await it.next()).value?.length, 1000);
    await it.return(); // waits for the read ahead
    await closed(fd);
    assert.equal((await it.next()).done, true);
    fd = openSync(file, 'r');
    const abort = new AbortController();
    new FilePieces(fd, 0, undefined, 1000, undefined, abort.signal);
    abort.abort();
    await closed(fd);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('onePooledPiece: its buffer goes back (wiped) once the consumer asked past the piece and allowed reuse, not before', async () => {
  const read = async (text: string, reuse: PieceReuse) => {
    const buffer = takeSmallReadBuffer(64);
    assert.ok(buffer.length >= 64 && buffer.length <= SMALL_READ_CAPACITY);
    const n = buffer.write(text);
    const got: Buffer[] = [];
    let seen = '';
    for await (const piece of onePooledPiece(buffer.subarray(0, n), buffer, reuse)) {
      got.push(piece);
      seen = piece.toString(); // read before asking for more: a consumer that allowed reuse must
    }
    return { buffer, piece: got[0]!, text: seen };
  };
  // Never allowed: the consumer may keep the piece; its buffer is not lent again.
  const kept = await read('kept contents', new PieceReuse());
  const later = new PieceReuse();
  const second = await read('second file', later);
  assert.notEqual(second.buffer, kept.buffer);
  assert.equal(kept.piece.toString(), 'kept contents');
  // Allowed once the consumer is done: wiped and lent to the next read.
  later.allow();
  assert.equal(second.buffer.subarray(0, 11).toString('hex'), '00'.repeat(11), 'wiped when given back');
  const third = await read('third', PieceReuse.allowed());
  assert.equal(third.buffer, second.buffer);
  assert.equal(third.text, 'third');
  assert.equal(third.piece.toString('hex'), '00'.repeat(5), 'allowed from the start: back (wiped) as soon as asked past');
  assert.equal(kept.piece.toString(), 'kept contents');
});

test('PieceReuse.whenDone: runs once reuse is allowed (at once if it is)', () => {
  const calls: string[] = [];
  const reuse = new PieceReuse();
  reuse.whenDone(() => calls.push('a'));
  reuse.whenDone(() => calls.push('b'));
  assert.deepEqual([...calls], []);
  reuse.allow();
  assert.deepEqual([...calls], ['a', 'b']);
  reuse.allow();
  assert.deepEqual([...calls], ['a', 'b'], 'each runs once');
  reuse.whenDone(() => calls.push('c'));
  assert.deepEqual([...calls], ['a', 'b', 'c'], 'at once when already allowed');
});
