// prefetchKeyMaterial (crypt/keys.ts): a scrypt started ahead is taken by exactly one deriveKeys
// with byte-identical inputs, and by nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SALT, deriveKeys, nativeScryptBinding, prefetchKeyMaterial, wipeKeys } from '../../../src/crypt/keys.js';

type ScryptFn = (password: Buffer, salt: Buffer, n: number, r: number, p: number, keyLength: number) => Promise<Buffer>;

/** Counts the scrypt runs of the native binding while `body` runs. */
async function countingScrypt(body: () => Promise<void>): Promise<number> {
  const binding = nativeScryptBinding() as unknown as { scrypt: ScryptFn } | null;
  assert.ok(binding, 'the cryptfs_scrypt addon is built (npm ci / scripts/setup.sh build it)');
  const original = binding.scrypt;
  let runs = 0;
  binding.scrypt = (...args) => {
    runs++;
    return original.apply(binding, args);
  };
  try {
    await body();
  } finally {
    binding.scrypt = original;
  }
  return runs;
}

function hex(keys: { dataKey: Buffer; nameKey: Buffer; nameTweak: Buffer }): string {
  const out = [keys.dataKey, keys.nameKey, keys.nameTweak].map((b) => b.toString('hex')).join('/');
  wipeKeys(keys);
  return out;
}

test('a prefetched scrypt is what deriveKeys returns, and scrypt runs once', async () => {
  const expected = hex(await deriveKeys('prefetch-pw', 'prefetch-salt'));
  const runs = await countingScrypt(async () => {
    prefetchKeyMaterial(Buffer.from('prefetch-pw'), Buffer.from('prefetch-salt'));
    assert.equal(hex(await deriveKeys('prefetch-pw', 'prefetch-salt')), expected);
  });
  assert.equal(runs, 1);
});

test('it is taken once: a second deriveKeys runs its own scrypt', async () => {
  const runs = await countingScrypt(async () => {
    prefetchKeyMaterial('once-pw', '');
    const first = hex(await deriveKeys('once-pw'));
    const second = hex(await deriveKeys('once-pw'));
    assert.equal(first, second);
  });
  assert.equal(runs, 2);
});

test('other inputs do not take it: a different salt or password derives its own keys', async () => {
  const expectedOtherSalt = hex(await deriveKeys('match-pw', 'salt-b'));
  const expectedOtherPw = hex(await deriveKeys('match-pw2', 'salt-a'));
  const runs = await countingScrypt(async () => {
    prefetchKeyMaterial('match-pw', 'salt-a');
    assert.equal(hex(await deriveKeys('match-pw', 'salt-b')), expectedOtherSalt);
    assert.equal(hex(await deriveKeys('match-pw2', 'salt-a')), expectedOtherPw);
    // ...and the prefetched one is still there for its own inputs.
    await deriveKeys('match-pw', 'salt-a').then(wipeKeys);
  });
  assert.equal(runs, 3);
});

test('the same inputs prefetched twice start one scrypt; an empty password none', async () => {
  const runs = await countingScrypt(async () => {
    prefetchKeyMaterial('twice-pw');
    prefetchKeyMaterial('twice-pw', new Uint8Array(0));
    prefetchKeyMaterial('');
    await deriveKeys('twice-pw').then(wipeKeys);
  });
  assert.equal(runs, 1);
});

test('the built-in salt is not wiped with the prefetch copies', async () => {
  const before = Buffer.from(DEFAULT_SALT);
  prefetchKeyMaterial('salt-pw');
  await deriveKeys('salt-pw').then(wipeKeys);
  assert.deepEqual(DEFAULT_SALT, before);
  assert.equal(DEFAULT_SALT.toString('hex'), 'a80df43a8fbd0308a7cab83e581f86b1');
});

test('another copy of the module (the bin runs the prefetch from a bundle of its own) takes what this one started', async () => {
  const url = new URL('../../../src/crypt/keys.js?second-copy', import.meta.url).href;
  const copy = (await import(url)) as typeof import('../../../src/crypt/keys.js');
  assert.notEqual(copy.deriveKeys, deriveKeys);
  const expected = hex(await deriveKeys('copy-pw', 'copy-salt'));
  const runs = await countingScrypt(async () => {
    prefetchKeyMaterial('copy-pw', 'copy-salt');
    assert.equal(hex(await copy.deriveKeys('copy-pw', 'copy-salt')), expected);
  });
  assert.equal(runs, 1);
});
