import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import { BLOCK_DATA_SIZE, BLOCK_SIZE, ContentCipher, HEADER_SIZE } from '../../../src/crypt/content-cipher.js';
import {
  CHUNKS_PER_BATCH,
  CipherWorkerError,
  CipherWorkerPool,
  ParallelContentCipher,
} from '../../../src/crypt/parallel-cipher.js';
import { deriveKeys } from '../../../src/crypt/keys.js';
import { chunkNonce } from '../../../src/crypt/nonce.js';
import { AuthenticationError, BadMagicError, FileTooShortError, TruncatedBlockError } from '../../../src/errors.js';
import { collect, drain, pieces } from '../../helpers/byte-streams.js';
import { fixturePath } from '../../helpers/fixtures.js';

const FIXTURES = fixturePath('rclone-1.60.1');

const pool = new CipherWorkerPool(2);
after(() => pool.close());

const B = BLOCK_DATA_SIZE;
const SIZES = [0, 1, B - 1, B, B + 1, CHUNKS_PER_BATCH * B, CHUNKS_PER_BATCH * B + 1, 40 * B + 5, 3 * CHUNKS_PER_BATCH * B];

test('encrypt output is byte-identical to the single-thread cipher; decrypt round-trips', async () => {
  const key = randomBytes(32);
  const single = new ContentCipher(key);
  const parallel = new ParallelContentCipher(key, { pool });
  const tight = new ParallelContentCipher(key, { pool, maxInFlight: 1 });
  for (const size of SIZES) {
    const plain = randomBytes(size);
    const nonce = randomBytes(24);
    const expected = await collect(single.encrypt(pieces(plain), nonce));
    for (const split of [[size || 1], [4099], [65536], [1 << 20]]) {
      assert.deepEqual(await collect(parallel.encrypt(pieces(plain, split), nonce)), expected, `size ${size} split ${split}`);
    }
    assert.deepEqual(await collect(tight.encrypt(pieces(plain, [77777]), nonce)), expected);
    for (const split of [[expected.length], [65552], [12345]]) {
      assert.deepEqual(await collect(parallel.decrypt(pieces(expected, split))), plain, `decrypt size ${size} split ${split}`);
    }
  }
});

test('tweetnacl opens every chunk the workers sealed (incl. nonce wrap)', async () => {
  const key = randomBytes(32);
  const parallel = new ParallelContentCipher(key, { pool });
  for (const n0hex of ['fe' + 'ff'.repeat(23), '00'.repeat(24)]) {
    const n0 = Buffer.from(n0hex, 'hex');
    const plain = randomBytes(2 * CHUNKS_PER_BATCH * B + 100);
    const sealed = await collect(parallel.encrypt(pieces(plain, [300000]), n0));
    const opened: Uint8Array[] = [];
    for (let i = 0, pos = HEADER_SIZE; pos < sealed.length; i++, pos += BLOCK_SIZE) {
      const chunk = nacl.secretbox.open(sealed.subarray(pos, pos + BLOCK_SIZE), chunkNonce(n0, i), key);
      assert.ok(chunk, `chunk ${i}`);
      opened.push(chunk);
    }
    assert.deepEqual(Buffer.concat(opened), plain);
  }
});

test('decrypts every rclone-written fixture file of std_b32', async () => {
  const { dataKey } = await deriveKeys('potato', 'sausage');
  const parallel = new ParallelContentCipher(dataKey, { pool });
  const vectors = JSON.parse(readFileSync(fixturePath('rclone-crypt.json'), 'utf8'));
  const list = vectors.b_rclone_1_60_1.data_vectors.std_b32 as { plain_path: string; encrypted_path: string; plain_sha256: string }[];
  assert.equal(list.length, 10);
  for (const v of list) {
    const stored = readFileSync(join(FIXTURES, 'enc/std_b32', v.encrypted_path));
    const plain = await collect(parallel.decrypt(pieces(stored, [1000, 70000])));
    assert.equal(createHash('sha256').update(plain).digest('hex'), v.plain_sha256, v.plain_path);
    assert.deepEqual(plain, readFileSync(join(FIXTURES, 'plain', v.plain_path)));
  }
});

test('errors match the single-thread cipher, with the same authenticated prefix', async () => {
  const key = randomBytes(32);
  const single = new ContentCipher(key);
  const parallel = new ParallelContentCipher(key, { pool });
  const plain = randomBytes(3 * CHUNKS_PER_BATCH * B + 5000);
  const stored = await collect(single.encrypt(pieces(plain)));
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['short header', stored.subarray(0, 31)],
    ['header only', stored.subarray(0, 32)],
    ['bad magic', Buffer.concat([Buffer.from('RCLONX'), stored.subarray(6)])],
    ['cut at chunk boundary', stored.subarray(0, HEADER_SIZE + 20 * BLOCK_SIZE)],
    ['truncated tag, late batch', stored.subarray(0, HEADER_SIZE + 33 * BLOCK_SIZE + 9)],
    ['truncated tag, first batch', stored.subarray(0, HEADER_SIZE + 2 * BLOCK_SIZE + 16)],
    ['short last chunk cut', stored.subarray(0, stored.length - 1)],
  ];
  for (const bad of [0, CHUNKS_PER_BATCH - 1, CHUNKS_PER_BATCH, CHUNKS_PER_BATCH + 1, 3 * CHUNKS_PER_BATCH]) {
    const damaged = Buffer.from(stored);
    damaged[HEADER_SIZE + bad * BLOCK_SIZE + 20] ^= 1;
    cases.push([`flipped byte in chunk ${bad}`, damaged]);
  }
  const errorClasses = [FileTooShortError, BadMagicError, TruncatedBlockError, AuthenticationError];
  for (const [name, data] of cases) {
    for (const split of [[data.length || 1], [65552], [99999]]) {
      const want = await drain(single.decrypt(pieces(data, split)));
      const got = await drain(parallel.decrypt(pieces(data, split)));
      assert.deepEqual(got.output, want.output, `${name}: output`);
      assert.deepEqual(got.output, plain.subarray(0, got.output.length), `${name}: output authentic`);
      assert.equal(got.error?.constructor, want.error?.constructor, `${name}: error class`);
      if (want.error !== undefined) assert.ok(errorClasses.some((c) => got.error instanceof c), name);
      if (want.error instanceof AuthenticationError) {
        assert.equal((got.error as AuthenticationError).chunkIndex, want.error.chunkIndex, `${name}: chunk index`);
      }
    }
  }
});

test('abandoning a stream with batches in flight leaves the pool usable', async () => {
  const key = randomBytes(32);
  const parallel = new ParallelContentCipher(key, { pool, maxInFlight: 4 });
  const plain = randomBytes(10 * CHUNKS_PER_BATCH * B);
  let seen = 0;
  for await (const out of parallel.encrypt(pieces(plain, [1 << 20]))) {
    seen += out.length;
    if (seen > 2 << 20) break;
  }
  const nonce = randomBytes(24);
  const again = await collect(parallel.encrypt(pieces(plain.subarray(0, 5 * B)), nonce));
  assert.deepEqual(again, await collect(new ContentCipher(key).encrypt(pieces(plain.subarray(0, 5 * B)), nonce)));
});

test('a closed pool rejects work with CipherWorkerError', async () => {
  const own = new CipherWorkerPool(1);
  const cipher = new ParallelContentCipher(randomBytes(32), { pool: own });
  assert.ok((await collect(cipher.encrypt(pieces(randomBytes(3 * CHUNKS_PER_BATCH * B))))).length > 0);
  await own.close();
  await assert.rejects(collect(cipher.encrypt(pieces(randomBytes(3 * CHUNKS_PER_BATCH * B)))), CipherWorkerError);
  assert.throws(() => new CipherWorkerPool(0), RangeError);
});
