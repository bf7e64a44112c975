// gatherDeclared (src/remote/local-io.ts): a small write's bytes in one buffer, or the whole source back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatherDeclared } from '../../../src/remote/local-io.js';

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
