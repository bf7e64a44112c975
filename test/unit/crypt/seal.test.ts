import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { deriveKeys } from '../../../src/crypt/keys.js';
import {
  SEAL_PIECE_CHARS,
  SealKey,
  SealRecordError,
  isSealMetadataKey,
  sealFromMetadata,
  sealToMetadata,
  type SealRecord,
} from '../../../src/crypt/seal.js';

function recordFor(content: Buffer, encryptedPath: string): SealRecord {
  const hex = (alg: string) => createHash(alg).update(content).digest('hex');
  return { headerNonce: randomBytes(24), size: content.length, sha256: hex('sha256'), md5: hex('md5'), sha1: hex('sha1'), encryptedPath };
}

test('a sealed record opens to the same fields under the same password', async () => {
  const key = SealKey.derive(await deriveKeys('pw1', 'salt1'));
  const r = recordFor(Buffer.from('hello'), 'p0e52nreeaj0a5ea7s64m4j72s/l42g6771hnv3an9cgc8cr2n1ng');
  const text = key.seal(r);
  assert.deepEqual(key.open(text), r);
  // A fresh box nonce every time: equal records do not give equal text.
  assert.notEqual(key.seal(r), text);
});

test('the record key is not any crypt key', async () => {
  const keys = await deriveKeys('pw1', 'salt1');
  const key = SealKey.derive(keys);
  const text = key.seal(recordFor(Buffer.from('x'), 'a'));
  const raw = (key as unknown as { key: Buffer }).key;
  for (const k of [keys.dataKey, keys.nameKey]) assert.notDeepEqual(Buffer.from(raw), Buffer.from(k));
  assert.ok(text.length > 0);
});

test('a record from another password, or with one bit flipped, is refused', async () => {
  const a = SealKey.derive(await deriveKeys('pw1', 'salt1'));
  const b = SealKey.derive(await deriveKeys('pw2', 'salt1'));
  const text = a.seal(recordFor(Buffer.from('data'), 'dir/file'));
  assert.throws(() => b.open(text), SealRecordError);
  const bytes = Buffer.from(text, 'base64url');
  for (const at of [0, 30, bytes.length - 1]) {
    const flipped = Buffer.from(bytes);
    flipped[at] ^= 1;
    assert.throws(() => a.open(flipped.toString('base64url')), SealRecordError, `bit flipped at ${at}`);
  }
  assert.throws(() => a.open('not base64 !'), SealRecordError);
  assert.throws(() => a.open(text.slice(0, 20)), SealRecordError);
});

test('long records are stored in pieces that each fit a Swift metadata value, and read back whole', async () => {
  const key = SealKey.derive(await deriveKeys('pw'));
  const longPath = Array.from({ length: 8 }, () => 'q'.repeat(140)).join('/');
  const text = key.seal(recordFor(Buffer.alloc(0), longPath));
  const md = sealToMetadata(text);
  assert.ok(Object.keys(md).length > 1);
  for (const [k, v] of Object.entries(md)) {
    assert.ok(v.length <= SEAL_PIECE_CHARS);
    assert.ok(isSealMetadataKey(k), k);
  }
  assert.equal(sealFromMetadata({ ...md, mtime: '2026-01-01T00:00:00Z' }), text);
  assert.equal(key.open(sealFromMetadata(md)!).encryptedPath, longPath);
  assert.equal(sealFromMetadata({ mtime: 'x' }), undefined);
  assert.equal(isSealMetadataKey('mtime'), false);
});
