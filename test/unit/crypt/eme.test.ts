import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmeCipher, emeDecrypt, emeEncrypt } from '../../../src/crypt/eme.js';
import { repoRoot } from '../../helpers/fixtures.js';

interface EmeVector {
  name: string;
  direction: 'encrypt' | 'decrypt';
  iterations?: number;
  key: string;
  tweak: string;
  in: string;
  out: string;
}

const vectors: EmeVector[] = JSON.parse(
  readFileSync(join(repoRoot, 'test/fixtures/rclone-crypt.json'), 'utf8'),
).a_upstream_test_vectors.eme;

test('EME known answers from rfjakob/eme (incl. iterated)', (t) => {
  assert.ok(vectors.length >= 6, 'eme vectors present');
  for (const v of vectors) {
    const key = Buffer.from(v.key, 'hex');
    const tweak = Buffer.from(v.tweak, 'hex');
    let data: Buffer = Buffer.from(v.in, 'hex');
    const transform = v.direction === 'encrypt' ? emeEncrypt : emeDecrypt;
    for (let i = 0; i < (v.iterations ?? 1); i++) data = transform(key, tweak, data);
    assert.equal(data.toString('hex'), v.out, `${v.name} (${v.direction}, ${data.length} bytes)`);
  }
  t.diagnostic(`${vectors.length} vectors`);
});

test('EME decrypt inverts encrypt for every block count 1..128', () => {
  const key = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
  const tweak = Buffer.from('f0e0d0c0b0a090807060504030201000', 'hex');
  const eme = new EmeCipher(key);
  for (let blocks = 1; blocks <= 128; blocks++) {
    const plain = Buffer.alloc(blocks * 16, blocks);
    const cipher = eme.encrypt(tweak, plain);
    assert.equal(cipher.length, plain.length);
    assert.notDeepEqual(cipher, plain, `${blocks} blocks: ciphertext differs`);
    assert.deepEqual(eme.decrypt(tweak, cipher), plain, `${blocks} blocks round trip`);
  }
});

test('EME is a wide block: one changed input byte changes every output block', () => {
  const eme = new EmeCipher(Buffer.alloc(32, 7));
  const tweak = Buffer.alloc(16);
  const a = eme.encrypt(tweak, Buffer.alloc(64));
  const changed = Buffer.alloc(64);
  changed[63] = 1;
  const b = eme.encrypt(tweak, changed);
  for (let j = 0; j < 4; j++) {
    assert.notDeepEqual(a.subarray(j * 16, j * 16 + 16), b.subarray(j * 16, j * 16 + 16), `block ${j}`);
  }
});

test('EME rejects lengths outside 16..2048 or not a multiple of 16, and bad key/tweak sizes', () => {
  const eme = new EmeCipher(Buffer.alloc(32));
  const tweak = Buffer.alloc(16);
  for (const n of [0, 15, 17, 2064]) {
    assert.throws(() => eme.encrypt(tweak, Buffer.alloc(n)), RangeError, `${n} bytes`);
  }
  assert.throws(() => eme.encrypt(Buffer.alloc(15), Buffer.alloc(16)), RangeError);
  assert.throws(() => new EmeCipher(Buffer.alloc(16)), RangeError);
});

test('EME: a thousand 32-byte names take milliseconds', (t) => {
  const eme = new EmeCipher(Buffer.alloc(32, 1));
  const tweak = Buffer.alloc(16, 2);
  const input = Buffer.alloc(32, 3);
  const start = process.hrtime.bigint();
  for (let i = 0; i < 1000; i++) eme.encrypt(tweak, input);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  t.diagnostic(`1000 encryptions of 32 bytes: ${ms.toFixed(1)} ms`);
  assert.ok(ms < 500, `took ${ms} ms`);
});
