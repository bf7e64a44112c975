import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pkcs7Pad, pkcs7Unpad, Pkcs7PaddingError, Pkcs7ErrorMessages } from '../../../src/crypt/pkcs7.js';
import { NameDecryptError } from '../../../src/errors.js';
import { repoRoot } from '../../helpers/fixtures.js';

const upstream = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/rclone-crypt.json'), 'utf8'))
  .a_upstream_test_vectors as {
  pkcs7_pad: { block: number; in_hex: string; out_hex: string }[];
  pkcs7_unpad_errors: { block: number; in_hex: string; err: string }[];
};

test('PKCS#7 pad vectors (and unpad gives the input back)', (t) => {
  assert.ok(upstream.pkcs7_pad.length > 0);
  for (const v of upstream.pkcs7_pad) {
    const padded = pkcs7Pad(v.block, Buffer.from(v.in_hex, 'hex'));
    assert.equal(padded.toString('hex'), v.out_hex, `pad ${JSON.stringify(v)}`);
    assert.equal(pkcs7Unpad(v.block, padded).toString('hex'), v.in_hex, `unpad ${JSON.stringify(v)}`);
  }
  t.diagnostic(`${upstream.pkcs7_pad.length} vectors`);
});

test('PKCS#7 unpad error vectors carry rclone error kinds and texts', (t) => {
  assert.ok(upstream.pkcs7_unpad_errors.length > 0);
  for (const v of upstream.pkcs7_unpad_errors) {
    assert.throws(
      () => pkcs7Unpad(v.block, Buffer.from(v.in_hex, 'hex')),
      (err: unknown) =>
        err instanceof Pkcs7PaddingError &&
        err instanceof NameDecryptError &&
        err.kind === v.err &&
        err.message === Pkcs7ErrorMessages[err.kind],
      `unpad ${JSON.stringify(v)}`,
    );
  }
  t.diagnostic(`${upstream.pkcs7_unpad_errors.length} vectors`);
});

test('PKCS#7 messages are rclone texts', () => {
  assert.equal(Pkcs7ErrorMessages.ErrorPaddingNotAllTheSame, 'bad PKCS#7 padding - not all the same');
  assert.throws(() => pkcs7Unpad(16, Buffer.alloc(0)), { message: 'bad PKCS#7 padding - not padded' });
});

test('PKCS#7 block size must be 2..255 (Go panics)', () => {
  assert.throws(() => pkcs7Pad(1, Buffer.alloc(1)), RangeError);
  assert.throws(() => pkcs7Unpad(256, Buffer.alloc(256)), RangeError);
});
