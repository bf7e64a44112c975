// native/scrypt.c against two independent references: RFC 7914's published vectors and
// node:crypto's scrypt (OpenSSL's), over many parameter sets and input lengths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { deriveKeys, nativeScryptBinding, opensslScrypt } from '../../../src/crypt/keys.js';

function binding() {
  const native = nativeScryptBinding();
  // Not a skip: the addon is built by `npm ci` / scripts/setup.sh, and start-up time depends on it.
  assert.ok(native, 'build/Release/cryptfs_scrypt.node is not built or does not load');
  return native;
}

test('RFC 7914 §12 test vectors', async () => {
  const rows: [string, string, number, number, number, string][] = [
    ['', '', 16, 1, 1, '77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906'],
    ['password', 'NaCl', 1024, 8, 16, 'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640'],
    ['pleaseletmein', 'SodiumChloride', 16384, 8, 1, '7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887'],
  ];
  for (const [password, salt, n, r, p, hex] of rows) {
    const key = await binding().scrypt(Buffer.from(password), Buffer.from(salt), n, r, p, 64);
    assert.equal(key.toString('hex'), hex, `scrypt(${JSON.stringify(password)}, N=${n}, r=${r}, p=${p})`);
  }
});

test('agrees with node:crypto scrypt over random inputs and parameters', async () => {
  for (let i = 0; i < 40; i++) {
    const password = randomBytes(i % 7 === 0 ? 0 : 1 + ((i * 13) % 90));
    const salt = randomBytes((i * 7) % 50);
    const n = 2 ** (1 + (i % 11));
    const r = 1 + (i % 9);
    const p = 1 + (i % 3);
    const length = 1 + ((i * 37) % 200);
    const ours = await binding().scrypt(password, salt, n, r, p, length);
    const openssl = scryptSync(password, salt, length, { N: n, r, p, maxmem: 1 << 30 });
    assert.ok(ours.equals(openssl), `case ${i}: N=${n} r=${r} p=${p} length=${length}`);
  }
});

test("rclone's parameters: the same 80 bytes as node:crypto, and deriveKeys splits them", async () => {
  const password = Buffer.from('potato');
  const salt = Buffer.from('pepper');
  const ours = await binding().scrypt(password, salt, 16384, 8, 1, 80);
  assert.ok(ours.equals(await opensslScrypt(password, salt)));
  const keys = await deriveKeys('potato', 'pepper');
  assert.ok(keys.dataKey.equals(ours.subarray(0, 32)));
  assert.ok(keys.nameKey.equals(ours.subarray(32, 64)));
  assert.ok(keys.nameTweak.equals(ours.subarray(64, 80)));
});

test('bad parameters reject or throw with a clear message', async () => {
  await assert.rejects(binding().scrypt(Buffer.from('a'), Buffer.from('b'), 1000, 8, 1, 32), /scrypt: invalid parameters/);
  await assert.rejects(binding().scrypt(Buffer.from('a'), Buffer.from('b'), 1024, 0, 1, 32), /scrypt: invalid parameters/);
  assert.throws(() => binding().scrypt('a' as unknown as Buffer, Buffer.from('b'), 1024, 8, 1, 32), /must be Buffers/);
  assert.throws(() => binding().scrypt(Buffer.from('a'), Buffer.from('b'), 1024, 8, 1, 0), /must be Buffers/);
});

test('runs off the main thread: the event loop turns while it derives', async () => {
  let turns = 0;
  const timer = setInterval(() => turns++, 1);
  try {
    await binding().scrypt(Buffer.from('pw'), Buffer.from('salt'), 1 << 16, 8, 1, 32);
  } finally {
    clearInterval(timer);
  }
  assert.ok(turns > 0, 'no timer ran while scrypt derived (did it block the main thread?)');
});
