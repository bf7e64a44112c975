import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NONCE_SIZE, addToNonce, chunkNonce, incrementNonce, randomNonce } from '../../../src/crypt/nonce.js';
import { repoRoot } from '../../helpers/fixtures.js';

interface Vectors {
  a_upstream_test_vectors: {
    nonce_increment: { in: string; out: string }[];
    nonce_add: { add: string; in: string; out: string }[];
  };
}
const vectors = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/rclone-crypt.json'), 'utf8')) as Vectors;

// Independent model: the nonce as a 192-bit little-endian integer.
const MOD = 1n << 192n;
function toBig(nonce: Uint8Array): bigint {
  let x = 0n;
  for (let i = nonce.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(nonce[i]);
  return x;
}
function fromBig(x: bigint): Buffer {
  const out = Buffer.alloc(NONCE_SIZE);
  for (let i = 0; i < NONCE_SIZE; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

test('nonce_increment: upstream table', () => {
  const table = vectors.a_upstream_test_vectors.nonce_increment;
  assert.ok(table.length >= 20);
  for (const row of table) {
    const n = Buffer.from(row.in, 'hex');
    incrementNonce(n);
    assert.equal(n.toString('hex'), row.out, `increment ${row.in}`);
  }
});

test('nonce_add: upstream table, as bigint and (where exact) as number', () => {
  const table = vectors.a_upstream_test_vectors.nonce_add;
  assert.ok(table.length >= 20);
  for (const row of table) {
    const amount = BigInt(row.add);
    const n = Buffer.from(row.in, 'hex');
    addToNonce(n, amount);
    assert.equal(n.toString('hex'), row.out, `add ${row.add} to ${row.in}`);
    if (amount <= BigInt(Number.MAX_SAFE_INTEGER)) {
      const m = Buffer.from(row.in, 'hex');
      addToNonce(m, Number(amount));
      assert.equal(m.toString('hex'), row.out, `add number ${row.add} to ${row.in}`);
    }
  }
});

test('increment wraps all-ff to zero and carries through every byte', () => {
  const n = Buffer.alloc(NONCE_SIZE, 0xff);
  incrementNonce(n);
  assert.deepEqual(n, Buffer.alloc(NONCE_SIZE));
  const m = Buffer.from('ffff' + '00'.repeat(22), 'hex');
  incrementNonce(m);
  assert.equal(m.toString('hex'), '000001' + '00'.repeat(21));
});

test('add and increment agree with 192-bit little-endian arithmetic on random values', () => {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) & 0xff;
  for (let trial = 0; trial < 500; trial++) {
    const n = Buffer.alloc(NONCE_SIZE);
    // Bias towards runs of 0xff so carries really happen.
    for (let i = 0; i < NONCE_SIZE; i++) n[i] = rnd() < 128 ? 0xff : rnd();
    let amount = 0n;
    for (let i = 0; i < 8; i++) amount = (amount << 8n) | BigInt(rnd() < 100 ? 0xff : rnd());
    const expected = fromBig((toBig(n) + amount) % MOD);
    const a = Buffer.from(n);
    addToNonce(a, amount);
    assert.deepEqual(a, expected);
    const b = Buffer.from(n);
    incrementNonce(b);
    assert.deepEqual(b, fromBig((toBig(n) + 1n) % MOD));
  }
});

test('add(k) equals k increments; add(0) is a no-op', () => {
  const start = Buffer.from('fdffffffffffffffffff' + '00'.repeat(14), 'hex');
  for (let k = 0; k < 10; k++) {
    const stepped = Buffer.from(start);
    for (let i = 0; i < k; i++) incrementNonce(stepped);
    const added = Buffer.from(start);
    addToNonce(added, k);
    assert.deepEqual(added, stepped, `k=${k}`);
  }
});

test('chunkNonce returns a new buffer and leaves N0 alone', () => {
  const n0 = Buffer.from('ffffffffffffffff' + '00'.repeat(16), 'hex');
  const copy = Buffer.from(n0);
  const n2 = chunkNonce(n0, 2);
  assert.deepEqual(n0, copy);
  assert.equal(n2.toString('hex'), '0100000000000000' + '01' + '00'.repeat(15));
});

test('bad arguments are rejected', () => {
  assert.throws(() => incrementNonce(Buffer.alloc(23)), RangeError);
  assert.throws(() => addToNonce(Buffer.alloc(25), 1), RangeError);
  assert.throws(() => addToNonce(Buffer.alloc(24), -1), RangeError);
  assert.throws(() => addToNonce(Buffer.alloc(24), 1.5), RangeError);
  assert.throws(() => addToNonce(Buffer.alloc(24), 1n << 64n), RangeError);
  assert.throws(() => addToNonce(Buffer.alloc(24), -1n), RangeError);
});

test('randomNonce: fresh 24-byte buffers, never repeated across the blocks they are cut from, each its own copy', () => {
  const seen = new Set<string>();
  const first = randomNonce();
  const firstHex = first.toString('hex');
  for (let i = 0; i < 1000; i++) {
    const n = randomNonce();
    assert.equal(n.length, NONCE_SIZE);
    seen.add(n.toString('hex'));
    n.fill(0); // a caller's changes reach no other nonce
  }
  assert.equal(seen.size, 1000);
  assert.ok(!seen.has(firstHex));
  assert.equal(first.toString('hex'), firstHex);
});
