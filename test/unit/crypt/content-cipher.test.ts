import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import {
  BLOCK_DATA_SIZE,
  BLOCK_OVERHEAD,
  BLOCK_SIZE,
  ContentCipher,
  HEADER_SIZE,
  MAX_CHUNKS_PER_OUTPUT,
} from '../../../src/crypt/content-cipher.js';
import { deriveKeys, type CryptKeys } from '../../../src/crypt/keys.js';
import {
  AuthenticationError,
  BadMagicError,
  CryptFormatError,
  FileTooShortError,
  TruncatedBlockError,
} from '../../../src/errors.js';
import { collect, drain, pieces } from '../../helpers/byte-streams.js';
import { PieceReuse } from '../../../src/remote/remote.js';
import { fixturePath } from '../../helpers/fixtures.js';

// ---------- fixtures ----------

const FIXTURES = fixturePath('rclone-1.60.1');

interface DataVector {
  plain_path: string;
  encrypted_path: string;
  plain_size: number;
  plain_sha256: string;
  cipher_size: number;
  cipher_sha256: string;
  nonce_hex?: string;
  cipher_base64?: string;
}
interface Vectors {
  a_upstream_test_vectors: {
    encrypted_size: { plain: number; encrypted: number }[];
    decrypted_size_errors: { encrypted: number; err: string }[];
    encrypt_data_zero_key: { data_key_hex: string; nonce_hex: string; cases: { plain_hex: string; cipher_hex: string }[] };
    calculate_underlying: {
      offset: number;
      limit: number;
      underlying_offset: number;
      underlying_limit: number;
      discard: number;
      blocks: number;
    }[];
  };
  b_rclone_1_60_1: {
    remotes: Record<string, { password: string; password2?: string; no_data_encryption?: boolean }>;
    data_vectors: Record<string, DataVector[]>;
    deterministic_data: { files: { name: string; enc: string; n: number; nonce: string }[] };
    random_access: {
      file: string;
      offset: number;
      count: number;
      plain_slice_sha256: string;
      underlying_offset: number;
      underlying_limit: number;
      discard: number;
      nonce_add_blocks: number;
    }[];
    error_cases: {
      name: string | null;
      enc: string;
      size: number;
      rclone_lsl_size?: number;
      rclone_cat_bytes_output?: number;
      rclone_cat_error?: string | null;
    }[];
  };
}
const vectors = JSON.parse(readFileSync(fixturePath('rclone-crypt.json'), 'utf8')) as Vectors;
const A = vectors.a_upstream_test_vectors;
const B = vectors.b_rclone_1_60_1;

const keyCache = new Map<string, Promise<CryptKeys>>();
function keysFor(remote: string): Promise<CryptKeys> {
  const r = B.remotes[remote];
  assert.ok(r, `remote ${remote} in vectors`);
  const id = `${r.password}\u0000${r.password2 ?? ''}`;
  let keys = keyCache.get(id);
  if (!keys) {
    keys = deriveKeys(r.password, r.password2);
    keyCache.set(id, keys);
  }
  return keys;
}

/** The fixture plaintext pattern: byte[i] = i mod 251. */
function content(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = i % 251;
  return out;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

// ---------- independent reference: tweetnacl ----------

const MOD192 = 1n << 192n;
function nonceFor(n0: Uint8Array, index: number): Uint8Array {
  let x = 0n;
  for (let i = 23; i >= 0; i--) x = (x << 8n) | BigInt(n0[i]);
  x = (x + BigInt(index)) % MOD192;
  const out = new Uint8Array(24);
  for (let i = 0; i < 24; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

function naclEncrypt(plain: Uint8Array, n0: Uint8Array, key: Uint8Array): Buffer {
  const parts: Uint8Array[] = [Buffer.from('RCLONE\0\0', 'latin1'), n0];
  for (let i = 0, pos = 0; pos < plain.length; i++, pos += BLOCK_DATA_SIZE) {
    parts.push(nacl.secretbox(plain.subarray(pos, pos + BLOCK_DATA_SIZE), nonceFor(n0, i), key));
  }
  return Buffer.concat(parts);
}

/** Opens every chunk with tweetnacl; null where a chunk does not authenticate. */
function naclOpenChunks(cipher: Uint8Array, key: Uint8Array): (Uint8Array | null)[] {
  const n0 = cipher.subarray(8, 32);
  const out: (Uint8Array | null)[] = [];
  for (let i = 0, pos = HEADER_SIZE; pos < cipher.length; i++, pos += BLOCK_SIZE) {
    out.push(nacl.secretbox.open(cipher.subarray(pos, pos + BLOCK_SIZE), nonceFor(n0, i), key));
  }
  return out;
}

// ---------- sizes ----------

test('encrypted_size: upstream table and spec examples', () => {
  assert.equal(A.encrypted_size.length, 8);
  for (const row of A.encrypted_size) {
    assert.equal(ContentCipher.encryptedSize(row.plain), row.encrypted, `enc(${row.plain})`);
    assert.equal(ContentCipher.decryptedSize(row.encrypted), row.plain, `dec(${row.encrypted})`);
  }
  const examples: [number, number][] = [
    [16, 64],
    [65535, 65583],
    [131072, 131136],
    [200000, 200096],
  ];
  for (const [n, s] of examples) assert.equal(ContentCipher.encryptedSize(n), s);
  assert.equal(ContentCipher.encryptedSize(2 ** 40 + 1), 32 + 16777216 * 65552 + 17);
  assert.equal(HEADER_SIZE, 32);
  assert.equal(BLOCK_DATA_SIZE, 65536);
  assert.equal(BLOCK_OVERHEAD, 16);
  assert.equal(BLOCK_SIZE, 65552);
});

test('decrypted_size_errors: typed errors with rclone messages', () => {
  assert.equal(A.decrypted_size_errors.length, 7);
  for (const row of A.decrypted_size_errors) {
    const cls = row.err === 'file is too short to be encrypted' ? FileTooShortError : TruncatedBlockError;
    assert.throws(
      () => ContentCipher.decryptedSize(row.encrypted),
      (err: unknown) => err instanceof cls && (err as Error).message === row.err,
      `size ${row.encrypted}`,
    );
  }
});

test('size functions round-trip and classify every remainder', () => {
  for (let n = 0; n < 3 * BLOCK_DATA_SIZE + 50; n += n < 200 ? 1 : 997) {
    assert.equal(ContentCipher.decryptedSize(ContentCipher.encryptedSize(n)), n);
  }
  for (let rest = 0; rest < 40; rest++) {
    const s = HEADER_SIZE + 2 * BLOCK_SIZE + rest;
    if (rest >= 1 && rest <= 16) assert.throws(() => ContentCipher.decryptedSize(s), TruncatedBlockError);
    else assert.equal(ContentCipher.decryptedSize(s), 2 * BLOCK_DATA_SIZE + (rest === 0 ? 0 : rest - 16));
  }
  assert.throws(() => ContentCipher.encryptedSize(-1), RangeError);
  assert.throws(() => ContentCipher.decryptedSize(1.5), RangeError);
});

// ---------- upstream data vectors (zero key) ----------

test('encrypt_data_zero_key: fixed nonce output equals rclone, and tweetnacl agrees', async () => {
  const v = A.encrypt_data_zero_key;
  const key = Buffer.from(v.data_key_hex, 'hex');
  const nonce = Buffer.from(v.nonce_hex, 'hex');
  const cipher = new ContentCipher(key);
  assert.equal(v.cases.length, 3);
  for (const c of v.cases) {
    const plain = Buffer.from(c.plain_hex, 'hex');
    const out = await collect(cipher.encrypt(pieces(plain), nonce));
    assert.equal(out.toString('hex'), c.cipher_hex);
    assert.equal(naclEncrypt(plain, nonce, key).toString('hex'), c.cipher_hex);
    assert.deepEqual(await collect(cipher.decrypt(pieces(out, [7]))), plain);
  }
  assert.equal(nonce.toString('hex'), v.nonce_hex, 'caller nonce not modified');
});

test('decrypter_truncation_zero_key: every truncation and every flipped byte of file16', async () => {
  const v = A.encrypt_data_zero_key;
  const key = Buffer.from(v.data_key_hex, 'hex');
  const file16 = Buffer.from(v.cases[2].cipher_hex, 'hex');
  assert.equal(file16.length, 64);
  const cipher = new ContentCipher(key);
  for (let i = 0; i <= file16.length; i++) {
    const { output, error } = await drain(cipher.decrypt(pieces(file16.subarray(0, i), [5])));
    if (i < 32) assert.ok(error instanceof FileTooShortError, `len ${i}`);
    else if (i === 32) assert.equal(error, undefined, `len ${i}`);
    else if (i <= 48) assert.ok(error instanceof TruncatedBlockError, `len ${i}`);
    else if (i < 64) assert.ok(error instanceof AuthenticationError && error.chunkIndex === 0, `len ${i}`);
    else assert.equal(error, undefined);
    assert.equal(output.length, i === 64 ? 16 : 0, `no unauthenticated bytes at len ${i}`);
  }
  for (let i = 0; i < file16.length; i++) {
    const damaged = Buffer.from(file16);
    damaged[i] ^= 0x01;
    const { output, error } = await drain(cipher.decrypt(pieces(damaged)));
    assert.ok(i < 8 ? error instanceof BadMagicError : error instanceof AuthenticationError, `flip byte ${i}`);
    assert.equal(output.length, 0);
  }
});

test('calculate_underlying: range plan table', () => {
  assert.equal(A.calculate_underlying.length, 30);
  for (const row of A.calculate_underlying) {
    const plan = ContentCipher.rangePlan(row.offset, row.limit < 0 ? undefined : row.limit);
    assert.deepEqual(
      plan,
      {
        underlyingOffset: row.underlying_offset,
        ...(row.underlying_limit < 0 ? {} : { underlyingLength: row.underlying_limit }),
        discard: row.discard,
        blocks: row.blocks,
      },
      `offset ${row.offset} limit ${row.limit}`,
    );
  }
});

// ---------- rclone 1.60.1 fixtures ----------

test('readNonce checks size and magic', () => {
  const header = Buffer.concat([Buffer.from('RCLONE\0\0', 'latin1'), Buffer.alloc(24, 7)]);
  assert.deepEqual(ContentCipher.readNonce(header), Buffer.alloc(24, 7));
  assert.throws(() => ContentCipher.readNonce(header.subarray(0, 31)), FileTooShortError);
  const bad = Buffer.from(header);
  bad[7] = 1;
  assert.throws(() => ContentCipher.readNonce(bad), BadMagicError);
});

test('data_vectors: every remote decrypts to the plaintext and re-encrypts byte for byte', async () => {
  let files = 0;
  let naclChunks = 0;
  for (const [remote, list] of Object.entries(B.data_vectors)) {
    const cipher = new ContentCipher((await keysFor(remote)).dataKey);
    const dataKey = (await keysFor(remote)).dataKey;
    for (const v of list) {
      files++;
      const stored = readFileSync(join(FIXTURES, 'enc', remote, v.encrypted_path));
      assert.equal(stored.length, v.cipher_size, `${remote}/${v.plain_path} size`);
      assert.equal(sha256(stored), v.cipher_sha256);
      if (v.cipher_base64 !== undefined) assert.equal(stored.toString('base64'), v.cipher_base64);
      const plainFile = join(FIXTURES, 'plain', v.plain_path);
      const plain = remote === 'jsgen' ? content(v.plain_size) : readFileSync(plainFile);
      assert.equal(sha256(plain), v.plain_sha256, `${remote}/${v.plain_path} plain`);

      if (B.remotes[remote].no_data_encryption) {
        // Stored verbatim: nothing to decrypt.
        assert.deepEqual(stored, plain);
        continue;
      }
      assert.equal(ContentCipher.decryptedSize(stored.length), v.plain_size);
      assert.equal(ContentCipher.readNonce(stored).toString('hex'), v.nonce_hex);

      // Whole file as one piece, and split awkwardly.
      const decrypted = await collect(cipher.decrypt(pieces(stored)));
      assert.equal(sha256(decrypted), v.plain_sha256, `${remote}/${v.plain_path} decrypt`);
      assert.deepEqual(decrypted, plain);
      assert.deepEqual(await collect(cipher.decrypt(pieces(stored, [1, 31, 4099, 65552, 65553]))), plain);
      // From a real file stream (64 KiB pieces, never chunk-aligned).
      assert.deepEqual(await collect(cipher.decrypt(createReadStream(join(FIXTURES, 'enc', remote, v.encrypted_path)))), plain);

      // Independent implementation opens each chunk to the same bytes.
      const chunks = naclOpenChunks(stored, dataKey);
      assert.ok(chunks.every((c) => c !== null), `${remote}/${v.plain_path}: tweetnacl authenticates every chunk`);
      assert.deepEqual(Buffer.concat(chunks as Uint8Array[]), decrypted);
      naclChunks += chunks.length;

      // Deterministic re-encryption with the header's nonce (cryptcheck).
      const nonce = ContentCipher.readNonce(stored);
      assert.deepEqual(await collect(cipher.encrypt(pieces(plain, [3, 65536, 1000]), nonce)), stored);
      assert.deepEqual(naclEncrypt(plain, nonce, dataKey), stored);
    }
  }
  assert.ok(files >= 100, `${files} fixture files`);
  assert.ok(naclChunks > 100);
});

test('deterministic_data: encryption with given nonces equals the files rclone read back', async () => {
  const cipher = new ContentCipher((await keysFor('jsgen')).dataKey);
  const jsgen = new Map(B.data_vectors.jsgen.map((v) => [v.encrypted_path, v]));
  assert.equal(B.deterministic_data.files.length, 8);
  for (const f of B.deterministic_data.files) {
    const stored = readFileSync(join(FIXTURES, 'enc/jsgen', f.enc));
    const out = await collect(cipher.encrypt(pieces(content(f.n), [65536]), Buffer.from(f.nonce, 'hex')));
    assert.deepEqual(out, stored, f.name);
    assert.equal(sha256(out), jsgen.get(f.enc)?.cipher_sha256, f.name);
  }
});

/** A ciphertext object to read ranges of, recording each request. */
function fileOpener(path: string) {
  const requests: { offset: number; length?: number }[] = [];
  const open = async (range: { offset: number; length?: number }) => {
    requests.push(range);
    const end = range.length === undefined ? undefined : range.offset + range.length - 1;
    if (end !== undefined && end < range.offset) return pieces(new Uint8Array(0));
    return createReadStream(path, { start: range.offset, end });
  };
  return { open, requests };
}

test('random_access: decryptRange over the fixture file matches rclone cat --offset/--count', async () => {
  const cipher = new ContentCipher((await keysFor('std_b32')).dataKey);
  const v = B.data_vectors.std_b32.find((x) => x.plain_path === 'size-200000.dat');
  assert.ok(v);
  const path = join(FIXTURES, 'enc/std_b32', v.encrypted_path);
  const size = statSync(path).size;
  assert.equal(B.random_access.length, 9);
  for (const row of B.random_access) {
    assert.equal(row.file, 'std_b32:size-200000.dat');
    const length = row.count < 0 ? undefined : row.count;
    const plan = ContentCipher.rangePlan(row.offset, length);
    assert.equal(plan.underlyingOffset, row.underlying_offset);
    assert.equal(plan.underlyingLength ?? -1, row.underlying_limit);
    assert.equal(plan.discard, row.discard);
    assert.equal(plan.blocks, row.nonce_add_blocks);

    // Without the object size: the reads rclone makes.
    const { open, requests } = fileOpener(path);
    const out = await collect(await cipher.decryptRange(open, row.offset, length));
    assert.equal(sha256(out), row.plain_slice_sha256, `offset ${row.offset} count ${row.count}`);
    if (row.offset === 0) {
      assert.deepEqual(requests, [
        { offset: 0, length: row.underlying_limit < 0 ? undefined : HEADER_SIZE + row.underlying_limit },
      ]);
    } else {
      assert.deepEqual(requests, [
        { offset: 0, length: HEADER_SIZE },
        { offset: row.underlying_offset, length: row.underlying_limit < 0 ? undefined : row.underlying_limit },
      ]);
    }

    // With the object size: ranges reaching the end become open-ended.
    const sized = fileOpener(path);
    const out2 = await collect(await cipher.decryptRange(sized.open, row.offset, length, size));
    assert.equal(sha256(out2), row.plain_slice_sha256);
    const last = sized.requests[sized.requests.length - 1];
    if (last.length !== undefined) assert.ok(last.offset + last.length < size, 'bounded reads end before EOF');
  }
});

/** rclone 1.60.1 says "unexpected EOF" for a failing short last chunk; newer versions name the cause. */
type FormatErrorClass = new (...args: never[]) => CryptFormatError;
function expectedErrorClass(rcloneMessage: string, size: number): FormatErrorClass {
  switch (rcloneMessage) {
    case 'file is too short to be encrypted':
      return FileTooShortError;
    case 'not an encrypted file - bad magic string':
      return BadMagicError;
    case 'file has truncated block header':
      return TruncatedBlockError;
    case 'failed to authenticate decrypted block - bad password?':
      return AuthenticationError;
    case 'unexpected EOF': {
      const rest = (size - HEADER_SIZE) % BLOCK_SIZE;
      return rest >= 1 && rest <= BLOCK_OVERHEAD ? TruncatedBlockError : AuthenticationError;
    }
    default:
      throw new Error(`unmapped rclone message ${rcloneMessage}`);
  }
}

test('error_cases: damaged files give the typed error and never unauthenticated bytes', async () => {
  const keys = await keysFor('errors');
  const cipher = new ContentCipher(keys.dataKey);
  const reference = content(200000);
  let checked = 0;
  for (const c of B.error_cases) {
    if (c.name === null) continue; // a bad *name*: not a content case
    checked++;
    const path = join(FIXTURES, 'enc/errors', c.enc);
    const stored = readFileSync(path);
    assert.equal(stored.length, c.size, c.name);

    // Listing size: invalid sizes list as 0 in rclone.
    let listed: number;
    try {
      listed = ContentCipher.decryptedSize(stored.length);
    } catch (err) {
      assert.ok(err instanceof CryptFormatError);
      listed = 0;
    }
    assert.equal(listed, c.rclone_lsl_size, `${c.name} listed size`);

    for (const split of [[stored.length || 1], [1000], [65552 * 2 + 3]]) {
      const { output, error } = await drain(cipher.decrypt(pieces(stored, split)));
      assert.equal(output.length, c.rclone_cat_bytes_output, `${c.name}: bytes output`);
      // What was output is authentic plaintext (the damaged files come from content(n) files).
      assert.deepEqual(output, reference.subarray(0, output.length), `${c.name}: output is authentic`);
      if (c.rclone_cat_error === null || c.rclone_cat_error === undefined) {
        assert.equal(error, undefined, `${c.name}: no error`);
      } else {
        const cls = expectedErrorClass(c.rclone_cat_error, c.size);
        assert.ok(error instanceof cls, `${c.name}: expected ${cls.name}, got ${String(error)}`);
        if (error instanceof AuthenticationError) {
          assert.equal(error.chunkIndex, output.length / BLOCK_DATA_SIZE, `${c.name}: failing chunk index`);
          // tweetnacl agrees that exactly this chunk is not authentic.
          const chunks = naclOpenChunks(stored, keys.dataKey);
          if (stored.subarray(0, 8).toString('latin1') === 'RCLONE\0\0') {
            assert.equal(chunks.findIndex((x) => x === null), error.chunkIndex);
          }
        }
      }
    }
    // Random access stops at the same place: no bytes of a failing chunk.
    if (c.size >= HEADER_SIZE && stored.subarray(0, 8).toString('latin1') === 'RCLONE\0\0') {
      const { open } = fileOpener(path);
      const { output } = await drain(await cipher.decryptRange(open, 10, undefined, c.size));
      assert.deepEqual(output, reference.subarray(10, 10 + output.length));
      assert.ok(output.length <= Math.max(0, (c.rclone_cat_bytes_output ?? 0) - 10));
    } else {
      const { open } = fileOpener(path);
      await assert.rejects(cipher.decryptRange(open, 10, 5), CryptFormatError);
    }
  }
  assert.equal(checked, 11);
});

// ---------- independent implementation on random data ----------

test('tweetnacl cross-check: seal and open random data of boundary sizes', async () => {
  const key = randomBytes(32);
  const cipher = new ContentCipher(key);
  for (const size of [0, 1, 65535, 65536, 65537, 200000]) {
    const plain = randomBytes(size);
    const nonce = randomBytes(24);
    const ours = await collect(cipher.encrypt(pieces(plain, [4097]), nonce));
    const theirs = naclEncrypt(plain, nonce, key);
    assert.equal(ours.length, ContentCipher.encryptedSize(size));
    assert.deepEqual(ours, theirs, `size ${size}`);
    const opened = naclOpenChunks(ours, key);
    assert.deepEqual(Buffer.concat(opened.map((c) => c ?? assert.fail('chunk fails in tweetnacl'))), plain);
    assert.deepEqual(await collect(cipher.decrypt(pieces(theirs, [65552]))), plain);
  }
  // Nonce wrap-around at 2^192 and carry into byte 8, against the bigint reference.
  for (const n0 of ['fe' + 'ff'.repeat(23), 'ff'.repeat(8) + '00'.repeat(16), 'ff'.repeat(24)]) {
    const plain = randomBytes(3 * BLOCK_DATA_SIZE + 1);
    const nonce = Buffer.from(n0, 'hex');
    assert.deepEqual(await collect(cipher.encrypt(pieces(plain), nonce)), naclEncrypt(plain, nonce, key), n0);
  }
});

test('encrypt without a nonce uses a fresh random one each time', async () => {
  const cipher = new ContentCipher(randomBytes(32));
  const plain = randomBytes(1000);
  const a = await collect(cipher.encrypt(pieces(plain)));
  const b = await collect(cipher.encrypt(pieces(plain)));
  assert.deepEqual(a.subarray(0, 8), Buffer.from('RCLONE\0\0', 'latin1'));
  assert.notDeepEqual(a.subarray(8, 32), b.subarray(8, 32));
  assert.notDeepEqual(a.subarray(32), b.subarray(32));
  assert.deepEqual(await collect(cipher.decrypt(pieces(a))), plain);
  assert.deepEqual(await collect(cipher.decrypt(pieces(b))), plain);
  assert.throws(() => new ContentCipher(Buffer.alloc(31)), RangeError);
});

test('authentication failure mid-batch: earlier chunks are output, the failing one is not', async () => {
  const key = randomBytes(32);
  const cipher = new ContentCipher(key);
  const plain = randomBytes(20 * BLOCK_DATA_SIZE + 500);
  const stored = await collect(cipher.encrypt(pieces(plain)));
  for (const bad of [0, 5, MAX_CHUNKS_PER_OUTPUT - 1, MAX_CHUNKS_PER_OUTPUT, 17, 20]) {
    const damaged = Buffer.from(stored);
    damaged[HEADER_SIZE + bad * BLOCK_SIZE + 100] ^= 0x80;
    for (const split of [[damaged.length], [65552], [12345]]) {
      const { output, error } = await drain(cipher.decrypt(pieces(damaged, split)));
      assert.ok(error instanceof AuthenticationError, `chunk ${bad}`);
      assert.equal(error.chunkIndex, bad);
      assert.deepEqual(output, plain.subarray(0, bad * BLOCK_DATA_SIZE), `chunk ${bad} split ${split}`);
    }
    // A range read starting after the damage is fine; one crossing it reports the absolute chunk index.
    const open = async (r: { offset: number; length?: number }) =>
      pieces(damaged.subarray(r.offset, r.length === undefined ? undefined : r.offset + r.length), [7777]);
    const from = (bad + 1) * BLOCK_DATA_SIZE;
    assert.deepEqual(await collect(await cipher.decryptRange(open, from, 1000)), plain.subarray(from, from + 1000));
    const before = Math.max(0, bad * BLOCK_DATA_SIZE - 10);
    const { output, error } = await drain(await cipher.decryptRange(open, before, 100));
    assert.ok(error instanceof AuthenticationError && error.chunkIndex === bad);
    assert.deepEqual(output, plain.subarray(before, bad * BLOCK_DATA_SIZE));
  }
});

test('decryptRange: random ranges over random sizes around chunk boundaries equal the plaintext slice', async () => {
  let seed = 0x9e3779b9;
  const rnd = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const key = randomBytes(32);
  const cipher = new ContentCipher(key);
  const C = BLOCK_DATA_SIZE;
  const sizes = [0, 1, 15, 16, 17, C - 1, C, C + 1, 2 * C - 1, 2 * C, 2 * C + 1, 3 * C + 12345];
  for (let i = 0; i < 4; i++) sizes.push(rnd(4 * C));
  let ranges = 0;
  for (const size of sizes) {
    const plain = randomBytes(size);
    const stored = await collect(cipher.encrypt(pieces(plain)));
    let fetched = 0;
    const open = async (r: { offset: number; length?: number }) => {
      assert.ok(r.offset === 0 || (r.offset - HEADER_SIZE) % BLOCK_SIZE === 0, 'reads start at a chunk');
      const part = stored.subarray(r.offset, r.length === undefined ? undefined : r.offset + r.length);
      fetched += part.length;
      return pieces(part, [1 + rnd(70000)]);
    };
    const interesting = [0, 1, C - 1, C, C + 1, size - 1, size, size + 1, size + C].filter((x) => x >= 0);
    for (let k = 0; k < 30; k++) {
      const offset = k < interesting.length ? interesting[k] : rnd(size + 100);
      const lengthChoice = rnd(5);
      const length =
        lengthChoice === 0 ? undefined : lengthChoice === 1 ? rnd(3) : lengthChoice === 2 ? C - (offset % C) + rnd(3) - 1 : rnd(size + 50);
      const expected = plain.subarray(Math.min(offset, size), length === undefined ? size : Math.min(size, offset + length));
      const knownSize = rnd(2) === 0 ? stored.length : undefined;
      fetched = 0;
      const out = await collect(await cipher.decryptRange(open, offset, length, knownSize));
      assert.deepEqual(out, expected, `size ${size} offset ${offset} length ${length} known ${knownSize}`);
      if (length !== undefined) {
        // Never more than the header plus the chunks that cover the range.
        const chunks = Math.ceil(((offset % C) + length) / C) || 1;
        assert.ok(fetched <= 2 * HEADER_SIZE + chunks * BLOCK_SIZE, `fetched ${fetched} for ${length}`);
      }
      ranges++;
    }
  }
  assert.ok(ranges >= 400);
});

test('bounded memory: a 64 MiB source in odd-sized pieces is chunked exactly as rclone does', async () => {
  const total = 64 * 1024 * 1024;
  const pool = randomBytes(1 << 20);
  const oddSizes = [1, 3, 4093, 65535, 65537, 100003, 7, 262147, 1 << 20];
  let pulled = 0;
  async function* source(sizes: number[]): AsyncGenerator<Uint8Array> {
    let pos = 0;
    let i = 0;
    while (pos < total) {
      const start = pos % pool.length;
      const size = Math.min(sizes[i++ % sizes.length], total - pos, pool.length - start);
      pos += size;
      pulled = pos;
      yield pool.subarray(start, start + size);
    }
  }
  const key = randomBytes(32);
  const nonce = randomBytes(24);
  const cipher = new ContentCipher(key);

  pulled = 0;
  let produced = 0;
  let maxPiece = 0;
  let maxAhead = 0;
  const hashOdd = createHash('sha256');
  for await (const out of cipher.encrypt(source(oddSizes), nonce)) {
    maxPiece = Math.max(maxPiece, out.length);
    produced += out.length;
    // Plaintext pulled but not yet output, at each yield.
    const plainOut = produced <= HEADER_SIZE ? 0 : ((produced - HEADER_SIZE) / BLOCK_SIZE) * BLOCK_DATA_SIZE;
    maxAhead = Math.max(maxAhead, pulled - plainOut);
    hashOdd.update(out);
  }
  assert.equal(produced, ContentCipher.encryptedSize(total));
  assert.ok(maxPiece <= HEADER_SIZE + MAX_CHUNKS_PER_OUTPUT * BLOCK_SIZE, `largest output ${maxPiece}`);
  assert.ok(maxAhead <= (1 << 20) + BLOCK_DATA_SIZE, `read ahead ${maxAhead}`);

  // The same bytes arriving chunk-aligned give the same ciphertext.
  const hashAligned = createHash('sha256');
  for await (const out of cipher.encrypt(source([BLOCK_DATA_SIZE]), nonce)) hashAligned.update(out);
  assert.equal(hashOdd.digest('hex'), hashAligned.digest('hex'));

  // And it streams back through decrypt to the same plaintext.
  const hashIn = createHash('sha256');
  for await (const p of source(oddSizes)) hashIn.update(p);
  const hashBack = createHash('sha256');
  let back = 0;
  for await (const p of cipher.decrypt(cipher.encrypt(source(oddSizes), nonce))) {
    hashBack.update(p);
    back += p.length;
  }
  assert.equal(back, total);
  assert.equal(hashBack.digest('hex'), hashIn.digest('hex'));
});

test('yielded buffers are not reused', async () => {
  const cipher = new ContentCipher(randomBytes(32));
  const plain = randomBytes(40 * BLOCK_DATA_SIZE + 3);
  const outs: Buffer[] = [];
  for await (const o of cipher.encrypt(pieces(plain, [100000]))) outs.push(o);
  assert.ok(outs.length > 3);
  const plains: Buffer[] = [];
  for await (const p of cipher.decrypt(pieces(Buffer.concat(outs), [70001]))) plains.push(p);
  assert.ok(plains.length > 3);
  assert.deepEqual(Buffer.concat(plains), plain);
  // Each big output has its own memory (tiny ones may come from Node's shared small-buffer pool).
  const big = [...outs, ...plains].filter((b) => b.length >= 4096);
  assert.equal(new Set(big.map((b) => b.buffer)).size, big.length);
});

test('encrypt with reuse on refills one output buffer, each time more is asked for; the bytes are the same', async () => {
  const key = randomBytes(32);
  const cipher = new ContentCipher(key);
  const plain = randomBytes(40 * BLOCK_DATA_SIZE + 123);
  const nonce = randomBytes(24);
  const expected = naclEncrypt(plain, nonce, key);
  const fresh = new Set<ArrayBufferLike>();
  for await (const out of cipher.encrypt(pieces(plain, [3 * BLOCK_DATA_SIZE + 7]), nonce)) fresh.add(out.buffer);
  assert.ok(fresh.size > 3, 'without reuse every output is a buffer of its own');
  // Turned on after the first output: that one is new, the rest refill one buffer (copied here at once, as a consumer must).
  const reuse = { allowed: false };
  const seen = new Set<ArrayBufferLike>();
  const copies: Buffer[] = [];
  for await (const out of cipher.encrypt(pieces(plain, [3 * BLOCK_DATA_SIZE + 7]), nonce, reuse)) {
    seen.add(out.buffer);
    copies.push(Buffer.from(out));
    reuse.allowed = true;
  }
  assert.ok(copies.length > 3);
  assert.equal(seen.size, 2, 'the first output, then one refilled buffer');
  assert.deepEqual(Buffer.concat(copies), expected);
});

test('encrypt: a small file\'s output is a shared buffer, back only once its consumer allows reuse after the end', async () => {
  const key = randomBytes(32);
  const cipher = new ContentCipher(key);
  const nonce = randomBytes(24);
  const outputs = async (plain: Buffer, reuse: PieceReuse) => {
    const got: Buffer[] = []; // the yielded buffers themselves, as a consumer holding them has them
    for await (const out of cipher.encrypt(pieces(plain, [plain.length]), nonce, reuse)) got.push(out);
    assert.equal(got.length, 1);
    return got[0]!;
  };
  const a = randomBytes(5000);
  const b = randomBytes(BLOCK_DATA_SIZE); // the largest output shared: header and one whole chunk
  const c = randomBytes(7000);
  // Held by a consumer that never allows reuse: never given to another encryption.
  const held = await outputs(a, new PieceReuse());
  const reuse = new PieceReuse();
  const second = await outputs(b, reuse);
  assert.notEqual(second.buffer, held.buffer, 'a held output is not lent again');
  assert.deepEqual(held, naclEncrypt(a, nonce, key));
  assert.deepEqual(second, naclEncrypt(b, nonce, key));
  // Allowed after the end (the consumer has written it): the next small output reuses it.
  reuse.allow();
  const third = await outputs(c, new PieceReuse());
  assert.equal(third.buffer, second.buffer, 'the buffer given back is lent again');
  assert.deepEqual(third, naclEncrypt(c, nonce, key));
  assert.deepEqual(held, naclEncrypt(a, nonce, key), 'the held output is untouched');
  // Without a PieceReuse (nobody could allow it) every output is a buffer of its own.
  const plainOut = await collect(cipher.encrypt(pieces(c, [7000]), nonce));
  assert.deepEqual(plainOut, naclEncrypt(c, nonce, key));
});

test('encrypt with reuse on sizes its buffer by what a small file needs, and grows it once for a big one', async () => {
  const key = randomBytes(32);
  const cipher = new ContentCipher(key);
  const nonce = randomBytes(24);
  // A whole small file: one buffer of its own size (1 MiB each made a mount's uploads mostly GC).
  const small = randomBytes(5000);
  const outs: Buffer[] = [];
  for await (const out of cipher.encrypt(pieces(small, [5000]), nonce, { allowed: true })) outs.push(Buffer.from(out)), assert.ok(out.buffer.byteLength < 2 * 5000, `buffer of ${out.buffer.byteLength} bytes`);
  assert.deepEqual(Buffer.concat(outs), naclEncrypt(small, nonce, key));
  // A first piece smaller than later ones: replaced once, by one of full size.
  const big = randomBytes(40 * BLOCK_DATA_SIZE + 9);
  const seen = new Set<ArrayBufferLike>();
  const copies: Buffer[] = [];
  for await (const out of cipher.encrypt(pieces(big, [BLOCK_DATA_SIZE, 39 * BLOCK_DATA_SIZE + 9]), nonce, { allowed: true })) {
    seen.add(out.buffer);
    copies.push(Buffer.from(out));
  }
  assert.equal(seen.size, 2);
  assert.deepEqual(Buffer.concat(copies), naclEncrypt(big, nonce, key));
});

test('decryptRange with reuse on refills one plaintext buffer, wiped at the end; ranges and bytes are the same', async () => {
  const key = randomBytes(32);
  const cipher = new ContentCipher(key);
  const plain = randomBytes(40 * BLOCK_DATA_SIZE + 123);
  const encrypted = naclEncrypt(plain, randomBytes(24), key);
  const open = async (r: { offset: number; length?: number }) =>
    pieces(encrypted.subarray(r.offset, r.length === undefined ? undefined : r.offset + r.length), [3 * BLOCK_SIZE + 11]);
  for (const [offset, length] of [
    [0, undefined],
    [5 * BLOCK_DATA_SIZE + 17, 30 * BLOCK_DATA_SIZE],
  ] as Array<[number, number | undefined]>) {
    const fresh = new Set<ArrayBufferLike>();
    for await (const p of await cipher.decryptRange(open, offset, length)) fresh.add(p.buffer);
    assert.ok(fresh.size > 3, 'without reuse every piece is a buffer of its own');
    // Turned on after the first piece: that one is new, the rest refill one buffer (copied here at once, as a consumer must).
    const reuse = { allowed: false };
    const seen = new Set<ArrayBufferLike>();
    const copies: Buffer[] = [];
    let last: Buffer | undefined;
    for await (const p of await cipher.decryptRange(open, offset, length, undefined, undefined, reuse)) {
      seen.add(p.buffer);
      copies.push(Buffer.from(p));
      last = p;
      reuse.allowed = true;
    }
    assert.ok(copies.length > 3);
    // A range's first piece may be short: its buffer is then replaced once by one of full size.
    assert.ok(seen.size <= 3, `the first piece, then refilled buffers (${seen.size} in all)`);
    assert.deepEqual(Buffer.concat(copies), plain.subarray(offset, length === undefined ? undefined : offset + length));
    // The refilled buffer held plaintext: zeroed once the stream is over.
    assert.ok(last!.every((b) => b === 0), 'the reused buffer is wiped at the end');
  }
});
