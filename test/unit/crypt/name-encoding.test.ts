import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  base32768SafeAlphabet,
  getNameEncoding,
  NameEncodingError,
  type NameEncodingName,
} from '../../../src/crypt/name-encoding.js';
import { ConfigError, NameDecryptError } from '../../../src/errors.js';
import { repoRoot } from '../../helpers/fixtures.js';

const vectors = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/rclone-crypt.json'), 'utf8'));
const upstream = vectors.a_upstream_test_vectors as {
  encoding_only: Record<NameEncodingName, { in: string; out: string }[]>;
  encoding_decode_errors: Record<NameEncodingName, { in: string; err: string }[]>;
};
const ENCODINGS: NameEncodingName[] = ['base32', 'base64', 'base32768'];

/** Deterministic test bytes (xorshift), so failures reproduce. */
function pseudoRandomBytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

test('encoding_only vectors: encode and decode', (t) => {
  let count = 0;
  for (const name of ENCODINGS) {
    const enc = getNameEncoding(name);
    assert.ok(upstream.encoding_only[name].length > 0, `${name} vectors present`);
    for (const v of upstream.encoding_only[name]) {
      assert.equal(enc.encode(Buffer.from(v.in)), v.out, `${name} encode ${JSON.stringify(v)}`);
      assert.equal(enc.decode(v.out).toString(), v.in, `${name} decode ${JSON.stringify(v)}`);
      count++;
    }
  }
  t.diagnostic(`${count} vectors`);
});

test('base32 decoding is case-insensitive, base64 and base32768 are not', () => {
  const b32 = getNameEncoding('base32');
  for (const v of upstream.encoding_only.base32) {
    assert.equal(b32.decode(v.out.toUpperCase()).toString(), v.in, `upper-case ${v.out}`);
  }
  assert.equal(b32.caseSensitive, false);
  assert.equal(getNameEncoding('base64').caseSensitive, true);
  assert.equal(getNameEncoding('base32768').caseSensitive, true);
  // 'MTIz' is "123"; 'mtiZ' is a different, valid base64 string.
  assert.notEqual(getNameEncoding('base64').decode('mtiZ').toString(), '123');
});

/** The JSON annotates Go errors; turn an entry into the exact message Go prints. */
function expectedMessage(err: string): string {
  const corrupt = /^CorruptInputError\((\d+)\)/.exec(err);
  if (corrupt) return `illegal base32768 data at input byte ${2 * Number(corrupt[1])}`;
  return err.replace(/ \(.*\)$/, '');
}

test('encoding_decode_errors vectors: Go error messages', (t) => {
  let count = 0;
  for (const name of ENCODINGS) {
    const enc = getNameEncoding(name);
    assert.ok(upstream.encoding_decode_errors[name].length > 0);
    for (const v of upstream.encoding_decode_errors[name]) {
      assert.throws(
        () => enc.decode(v.in),
        (err: unknown) =>
          err instanceof NameEncodingError && err instanceof NameDecryptError && err.message === expectedMessage(v.err),
        `${name} ${JSON.stringify(v)} -> ${expectedMessage(v.err)}`,
      );
      count++;
    }
  }
  t.diagnostic(`${count} vectors`);
});

test('round trips and lengths for 0..300 bytes in every encoding', () => {
  for (const name of ENCODINGS) {
    const enc = getNameEncoding(name);
    for (let n = 0; n <= 300; n++) {
      const bytes = pseudoRandomBytes(n, n * 7919 + 1);
      const text = enc.encode(bytes);
      assert.equal(text.length, enc.encodedLength(n), `${name} length for ${n} bytes`);
      const utf8 = Buffer.byteLength(text);
      if (name === 'base32768') assert.ok(utf8 <= enc.maxEncodedUtf8Length(n), `${name} utf8 bound ${n}`);
      else assert.equal(utf8, enc.maxEncodedUtf8Length(n), `${name} utf8 length ${n}`);
      assert.deepEqual(enc.decode(text), bytes, `${name} round trip of ${n} bytes`);
    }
  }
});

test('spec lengths: 26/52/77 base32, 22/43 base64, 9/18/77 base32768 characters', () => {
  const lengths = (name: NameEncodingName, sizes: number[]) =>
    sizes.map((n) => getNameEncoding(name).encode(Buffer.alloc(n)).length);
  assert.deepEqual(lengths('base32', [16, 32, 48]), [26, 52, 77]);
  assert.deepEqual(lengths('base64', [16, 32]), [22, 43]);
  assert.deepEqual(lengths('base32768', [16, 32, 144]), [9, 18, 77]);
});

test('base32 output uses the lower-case base32hex alphabet without padding', () => {
  const text = getNameEncoding('base32').encode(pseudoRandomBytes(4000, 3));
  assert.match(text, /^[0-9a-v]+$/);
});

test('base64 output is URL-safe without padding', () => {
  const text = getNameEncoding('base64').encode(pseudoRandomBytes(4000, 5));
  assert.match(text, /^[A-Za-z0-9_-]+$/);
  assert.ok(text.includes('-') && text.includes('_'));
});

test('decoders accept non-canonical trailing bits (pitfall 20)', () => {
  const b32 = getNameEncoding('base32');
  // "1" is "64"; the last character carries 2 unused bits.
  for (const s of ['64', '65', '66', '67']) {
    assert.equal(b32.decode(s).toString('hex'), b32.decode('64').toString('hex'), s);
  }
  const b64 = getNameEncoding('base64');
  assert.equal(b64.decode('MR').toString(), '1'); // "MQ" with unused bits set
  const b32k = getNameEncoding('base32768');
  // "1" is U+3F3F; the 7 padding bits of a 15-bit group are not checked.
  assert.equal(b32k.decode('\u3F00').toString(), '1');
});

test('base32 decode errors: trailing "=", bad lengths, bad characters', () => {
  const b32 = getNameEncoding('base32');
  const msg = (s: string) => {
    try {
      b32.decode(s);
      return 'no error';
    } catch (err) {
      assert.ok(err instanceof NameEncodingError);
      return err.message;
    }
  };
  assert.equal(msg('64p36d1l6o='), 'bad base32 filename encoding');
  // Lengths 1, 3, 6 (mod 8) cannot hold whole bytes: Go reports the first padding position.
  assert.equal(msg('6'), 'illegal base32 data at input byte 1');
  assert.equal(msg('64p'), 'illegal base32 data at input byte 3');
  assert.equal(msg('64p36d'), 'illegal base32 data at input byte 6');
  assert.equal(msg('64w'), 'illegal base32 data at input byte 2');
  assert.equal(msg('64é0'), 'illegal base32 data at input byte 2');
});

test('base64 decode errors: "=" and length 1 (mod 4)', () => {
  const b64 = getNameEncoding('base64');
  assert.throws(() => b64.decode('MQ=='), { message: 'illegal base64 data at input byte 2' });
  assert.throws(() => b64.decode('MTIzN'), { message: 'illegal base64 data at input byte 4' });
  assert.throws(() => b64.decode('MT+z'), { message: 'illegal base64 data at input byte 2' });
  assert.equal(b64.decode('MT\r\nIz').toString(), '123', 'CR/LF are skipped');
});

test('base32768: decoding stops at the first 7-bit character; CR/LF skipped; surrogates rejected', () => {
  const b32k = getNameEncoding('base32768');
  const twelve = b32k.encode(Buffer.from('12')); // ends in a table-B character
  assert.equal(twelve, '㻙ɟ');
  assert.equal(b32k.decode(twelve + '㻙ⲿ').toString(), '12');
  assert.equal(b32k.decode('㻙\nⲿ').toString(), '123');
  assert.throws(() => b32k.decode('㻙😀'), { message: 'illegal base32768 data at input byte 2' });
  assert.throws(() => b32k.decode('a'), { message: 'illegal base32768 data at input byte 0' });
});

test('base32768 alphabet constant equals the JSON alphabet (1028 block starts)', () => {
  const expected = vectors.base32768_safe_alphabet.string as string;
  const alphabet = base32768SafeAlphabet();
  assert.equal(alphabet.length, 1028);
  assert.equal(alphabet, expected);
  for (const ch of alphabet) assert.equal(ch.charCodeAt(0) % 32, 0, `U+${ch.charCodeAt(0).toString(16)}`);
});

test('getNameEncoding: case-insensitive names, unknown names are config errors', () => {
  assert.equal(getNameEncoding('Base64').name, 'base64');
  assert.throws(() => getNameEncoding('base58'), ConfigError);
  assert.throws(() => getNameEncoding('base58'), { message: 'unknown file name encoding mode "base58"' });
});
