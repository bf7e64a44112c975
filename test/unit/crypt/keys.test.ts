import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { scryptSync } from 'node:crypto';
import { DEFAULT_SALT, deriveKeys, wipeKeys } from '../../../src/crypt/keys.js';
import { reveal } from '../../../src/crypt/obscure.js';
import { repoRoot } from '../../helpers/fixtures.js';

interface KeyRow {
  password: string;
  password2: string;
  data_key: string;
  name_key: string;
  name_tweak: string;
}
interface Vectors {
  a_upstream_test_vectors: { key_derivation: KeyRow[] };
  b_rclone_1_60_1: {
    unicode_pw_keys_computed_by_python_scrypt: {
      password_utf8_hex: string;
      salt_utf8_hex: string;
      data_key: string;
      name_key: string;
      name_tweak: string;
    };
    remotes: Record<string, { password: string; password2?: string; password_obscured_in_conf: string; password2_obscured_in_conf?: string }>;
  };
}
const vectors = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/rclone-crypt.json'), 'utf8')) as Vectors;

test('key_derivation: upstream vectors (incl. empty password -> zero keys)', async () => {
  const rows = vectors.a_upstream_test_vectors.key_derivation;
  assert.equal(rows.length, 5);
  for (const row of rows) {
    const keys = await deriveKeys(row.password, row.password2);
    assert.equal(keys.dataKey.toString('hex'), row.data_key, `data key ${row.password}/${row.password2}`);
    assert.equal(keys.nameKey.toString('hex'), row.name_key, `name key ${row.password}/${row.password2}`);
    assert.equal(keys.nameTweak.toString('hex'), row.name_tweak, `tweak ${row.password}/${row.password2}`);
  }
});

test('unicode password and salt (UTF-8 bytes, python scrypt vector)', async () => {
  const v = vectors.b_rclone_1_60_1.unicode_pw_keys_computed_by_python_scrypt;
  const password = Buffer.from(v.password_utf8_hex, 'hex').toString('utf8');
  const salt = Buffer.from(v.salt_utf8_hex, 'hex').toString('utf8');
  assert.equal(password, vectors.b_rclone_1_60_1.remotes.unicode_pw.password);
  const keys = await deriveKeys(password, salt);
  assert.equal(keys.dataKey.toString('hex'), v.data_key);
  assert.equal(keys.nameKey.toString('hex'), v.name_key);
  assert.equal(keys.nameTweak.toString('hex'), v.name_tweak);
  // Raw bytes give the same keys as the string.
  const fromBytes = await deriveKeys(Buffer.from(v.password_utf8_hex, 'hex'), Buffer.from(v.salt_utf8_hex, 'hex'));
  assert.deepEqual(fromBytes, keys);
});

test('keys from the obscured values in rclone.conf equal the keys from the revealed values', async () => {
  const remotes = vectors.b_rclone_1_60_1.remotes;
  const seen = new Set<string>();
  for (const [name, r] of Object.entries(remotes)) {
    const pair = `${r.password}\u0000${r.password2 ?? ''}`;
    if (seen.has(pair)) continue;
    seen.add(pair);
    const revealed1 = reveal(r.password_obscured_in_conf);
    const revealed2 = r.password2_obscured_in_conf === undefined ? undefined : reveal(r.password2_obscured_in_conf);
    assert.equal(revealed1, r.password, name);
    const keys = await deriveKeys(revealed1, revealed2);
    const expected = await deriveKeys(r.password, r.password2);
    assert.deepEqual(keys, expected, name);
    // Never scrypt the obscured text (pitfall 1).
    if (r.password !== '') {
      const wrong = await deriveKeys(r.password_obscured_in_conf, r.password2_obscured_in_conf);
      assert.notDeepEqual(wrong.dataKey, keys.dataKey, name);
    }
  }
  assert.ok(seen.size >= 3);
});

test('default salt: empty or absent password2, cross-checked with scryptSync', async () => {
  assert.equal(DEFAULT_SALT.toString('hex'), 'a80df43a8fbd0308a7cab83e581f86b1');
  const absent = await deriveKeys('potato');
  const empty = await deriveKeys('potato', '');
  assert.deepEqual(absent, empty);
  const material = scryptSync('potato', DEFAULT_SALT, 80, { N: 16384, r: 8, p: 1, maxmem: 64 << 20 });
  assert.deepEqual(Buffer.concat([absent.dataKey, absent.nameKey, absent.nameTweak]), material);
  // password2 is the salt itself, not hashed: any length works.
  const longSalt = 'x'.repeat(1000);
  const withLong = await deriveKeys('potato', longSalt);
  const material2 = scryptSync('potato', longSalt, 80, { N: 16384, r: 8, p: 1, maxmem: 64 << 20 });
  assert.deepEqual(Buffer.from(withLong.dataKey), material2.subarray(0, 32));
});

test('empty password gives zero keys whatever password2 is', async () => {
  const keys = await deriveKeys('', 'sausage');
  assert.deepEqual(Buffer.from(keys.dataKey), Buffer.alloc(32));
  assert.deepEqual(Buffer.from(keys.nameKey), Buffer.alloc(32));
  assert.deepEqual(Buffer.from(keys.nameTweak), Buffer.alloc(16));
});

test('key buffers are independent of each other', async () => {
  const keys = await deriveKeys('potato', 'sausage');
  assert.equal(keys.dataKey.length, 32);
  assert.equal(keys.nameKey.length, 32);
  assert.equal(keys.nameTweak.length, 16);
  for (const k of [keys.dataKey, keys.nameKey, keys.nameTweak]) {
    assert.equal(k.byteOffset, 0);
    assert.equal(k.buffer.byteLength, k.length);
  }
  const before = keys.nameKey.toString('hex');
  keys.dataKey.fill(0);
  assert.equal(keys.nameKey.toString('hex'), before);
});

test('keys live in libsodium secure memory and are zeroed by wipeKeys', async () => {
  const keys = await deriveKeys('potato', 'salt');
  for (const k of [keys.dataKey, keys.nameKey, keys.nameTweak]) {
    assert.equal((k as Buffer & { secure?: boolean }).secure, true, 'allocated with sodium_malloc');
  }
  assert.notDeepEqual(Buffer.from(keys.dataKey), Buffer.alloc(32));
  wipeKeys(keys);
  assert.deepEqual(Buffer.from(keys.dataKey), Buffer.alloc(32));
  assert.deepEqual(Buffer.from(keys.nameKey), Buffer.alloc(32));
  assert.deepEqual(Buffer.from(keys.nameTweak), Buffer.alloc(16));
});
