// Sealing on write (src/remote/crypt-seal.ts) against the in-memory remote: every object crypt
// writes carries a record whose size, hashes, header nonce and path are those of what was stored,
// whatever way the upload went (known size, a stream, a first pass over a reopenable source);
// moves and copies re-seal for the new path; users never see or set the record's keys.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { deriveKeys } from '../../../src/crypt/keys.js';
import { SealKey, isSealMetadataKey, sealFromMetadata, type SealRecord } from '../../../src/crypt/seal.js';
import { CryptRemote, type CryptRemoteOptions } from '../../../src/remote/crypt.js';
import { HashingSource, SealNotReadyError } from '../../../src/remote/crypt-seal.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import { bytesOf, listAll, readAll } from '../../helpers/remote-contract.js';
import { LocalRemote } from '../../../src/remote/local.js';
import { metadataPending } from '../../../src/remote/remote.js';
import { entryHash } from '../../../src/cli/entry-hash.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const keys = await deriveKeys('potato', 'sausage');
const sealKey = SealKey.derive(await deriveKeys('potato', 'sausage'));
const OPTS: CryptRemoteOptions = { mode: 'standard', encoding: 'base32', directoryNameEncryption: true, noDataEncryption: false };
const hex = (alg: string, data: Buffer) => createHash(alg).update(data).digest('hex');

async function recordOf(mem: MemoryRemote, crypt: CryptRemote, path: string): Promise<{ record: SealRecord; stored: Buffer; enc: string }> {
  const enc = crypt.encryptName(path);
  const entry = await mem.stat(enc);
  const text = sealFromMetadata(entry.metadata);
  assert.ok(text, `${path} carries a record`);
  return { record: sealKey.open(text), stored: await readAll(await mem.openRead(enc)), enc };
}

async function assertSealed(mem: MemoryRemote, crypt: CryptRemote, path: string, plain: Buffer): Promise<void> {
  const { record, stored, enc } = await recordOf(mem, crypt, path);
  assert.equal(record.size, plain.length);
  assert.equal(record.sha256, hex('sha256', plain));
  assert.equal(record.md5, hex('md5', plain));
  assert.equal(record.sha1, hex('sha1', plain));
  assert.equal(record.encryptedPath, enc);
  assert.deepEqual(record.headerNonce, stored.subarray(8, 32), 'the header nonce of the stored object');
}

async function* unsized(data: Buffer): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += 7777) yield data.subarray(i, i + 7777);
}

for (const size of [0, 1, 65536, 3 * 65536, 200_001]) {
  test(`a ${size}-byte file is sealed, written with a known size and as a stream`, async () => {
    const mem = new MemoryRemote();
    const crypt = new CryptRemote(mem, keys, OPTS);
    const plain = randomBytes(size);
    await crypt.write('dir/known.bin', bytesOf(plain), { size });
    await assertSealed(mem, crypt, 'dir/known.bin', plain);
    await crypt.write('dir/stream.bin', unsized(plain));
    await assertSealed(mem, crypt, 'dir/stream.bin', plain);
  });
}

test('a first pass over a reopenable source seals the upload up front; a source changed in between is re-sealed', async () => {
  const mem = new MemoryRemote();
  mem.features.md5UpfrontFrom = 0; // as S3 multipart: crypt makes its first pass
  const crypt = new CryptRemote(mem, keys, OPTS);
  const plain = randomBytes(150_000);
  await crypt.write('a.bin', bytesOf(plain), { size: plain.length, reopen: async () => bytesOf(plain) });
  await assertSealed(mem, crypt, 'a.bin', plain);
  const other = randomBytes(150_000);
  await crypt.write('b.bin', bytesOf(plain), { size: plain.length, reopen: async () => bytesOf(other) });
  await assertSealed(mem, crypt, 'b.bin', plain);
});

test('over a remote that checks the given MD5 (S3), the first pass seals the upload; a source changed in between fails the write', async () => {
  // As S3: the MD5 of a multipart upload comes from the writer, and a content that differs from it is refused.
  class Md5CheckingRemote extends MemoryRemote {
    constructor() {
      super();
      this.features.md5UpfrontFrom = 0;
      this.features.md5Checked = true;
    }
    override async write(path: string, source: AsyncIterable<Uint8Array>, options: import('../../../src/remote/remote.js').WriteOptions = {}) {
      const data = await readAll(source);
      if (options.md5 !== undefined && hex('md5', data) !== options.md5) throw new Error('content does not match the given md5');
      return super.write(path, bytesOf(data), options);
    }
  }
  const mem = new Md5CheckingRemote();
  const crypt = new CryptRemote(mem, keys, OPTS);
  const plain = randomBytes(150_000);
  await crypt.write('a.bin', bytesOf(plain), { size: plain.length, reopen: async () => bytesOf(plain) });
  await assertSealed(mem, crypt, 'a.bin', plain);
  const other = randomBytes(150_000);
  await assert.rejects(crypt.write('b.bin', bytesOf(plain), { size: plain.length, reopen: async () => bytesOf(other) }), /does not match/);
  await assert.rejects(mem.stat(crypt.encryptName('b.bin')));
});

test('plaintext hashes come from records; listings hide the record keys but carry its text', async () => {
  const mem = new MemoryRemote();
  const crypt = new CryptRemote(mem, keys, OPTS);
  const plain = Buffer.from('hash me');
  await crypt.write('h.txt', bytesOf(plain), { metadata: { 'cryptfs-seal': 'forged', colour: 'blue' } });
  assert.deepEqual(crypt.features.hashes, ['md5', 'sha1', 'sha256']);
  for (const t of ['md5', 'sha1', 'sha256'] as const) assert.equal(await crypt.hash!('h.txt', t), hex(t, plain));
  const st = await crypt.stat('h.txt');
  assert.deepEqual(st.metadata, { colour: 'blue' });
  assert.ok(st.sealText && sealKey.open(st.sealText).size === plain.length);
  for await (const e of crypt.list('')) {
    assert.ok(!Object.keys(e.metadata ?? {}).some(isSealMetadataKey));
    assert.equal(e.sealText, st.sealText);
  }
  // A user's metadata never sets a record.
  await crypt.setMetadata!('h.txt', { 'cryptfs-seal': 'forged', 'cryptfs-seal-2': '' });
  await assertSealed(mem, crypt, 'h.txt', plain);
  // Unsealed (written by rclone, say): no hash.
  await mem.write(crypt.encryptName('u.txt'), bytesOf(await readAll(await mem.openRead(crypt.encryptName('h.txt')))));
  assert.equal(await crypt.hash!('u.txt', 'sha256'), undefined);
});

test('overwriting replaces the record; moves and copies re-seal for the new path', async () => {
  const mem = new MemoryRemote();
  const crypt = new CryptRemote(mem, keys, OPTS);
  const first = randomBytes(70_000);
  const second = randomBytes(1000);
  await crypt.write('x/a.bin', bytesOf(first));
  await crypt.write('x/a.bin', bytesOf(second));
  await assertSealed(mem, crypt, 'x/a.bin', second);
  await crypt.move!('x/a.bin', 'y/a-moved-to-a-much-longer-name-so-the-record-needs-another-piece.bin');
  await assertSealed(mem, crypt, 'y/a-moved-to-a-much-longer-name-so-the-record-needs-another-piece.bin', second);
  await crypt.copy!('y/a-moved-to-a-much-longer-name-so-the-record-needs-another-piece.bin', 'b.bin');
  await assertSealed(mem, crypt, 'b.bin', second);
  await assertSealed(mem, crypt, 'y/a-moved-to-a-much-longer-name-so-the-record-needs-another-piece.bin', second);
});

test('a record naming another path is not re-sealed by a move (misplaced content stays detectable)', async () => {
  const mem = new MemoryRemote();
  const crypt = new CryptRemote(mem, keys, OPTS);
  await crypt.write('a.bin', bytesOf(Buffer.from('A')));
  await crypt.write('b.bin', bytesOf(Buffer.from('B')));
  // Another tool copies b's object and metadata over a's name.
  await mem.copy(crypt.encryptName('b.bin'), crypt.encryptName('a.bin'));
  await crypt.move!('a.bin', 'c.bin');
  const { record } = await recordOf(mem, crypt, 'c.bin');
  assert.equal(record.encryptedPath, crypt.encryptName('b.bin'));
});

test('no_data_encryption writes no record', async () => {
  const mem = new MemoryRemote();
  const crypt = new CryptRemote(mem, keys, { ...OPTS, noDataEncryption: true });
  await crypt.write('p.txt', bytesOf(Buffer.from('plain')));
  const e = await mem.stat(crypt.encryptName('p.txt'));
  assert.equal(sealFromMetadata(e.metadata), undefined);
});

test('HashingSource refuses digests before the end of the plaintext', async () => {
  const h = new HashingSource(bytesOf(Buffer.alloc(10)), 20);
  for await (const _ of h);
  assert.equal((await h.digests()).size, 10); // ended
  for (const size of [100_000, 5_000_000]) {
    // Hashed inline (small) and on the worker threads (large).
    const data = randomBytes(size);
    const partial = new HashingSource(bytesOf(data), size);
    const it = partial[Symbol.asyncIterator]();
    await it.next();
    await assert.rejects(partial.digests(), SealNotReadyError);
    while (!(await it.next()).done);
    const d = await partial.digests();
    assert.deepEqual(d, { size, sha256: hex('sha256', data), md5: hex('md5', data), sha1: hex('sha1', data) });
  }
});

test('over a local directory, a file rewritten in place by another tool (xattrs kept) states no hash', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'seal-write-stale-'));
  try {
    const crypt = new CryptRemote(new LocalRemote(dir), keys, OPTS);
    await crypt.write('a.bin', bytesOf(Buffer.from('first content')));
    await crypt.write('b.bin', bytesOf(Buffer.from('other content')));
    assert.equal(await crypt.hash!('a.bin', 'md5'), hex('md5', Buffer.from('first content')));
    // As rclone's local backend updates a file: truncated and rewritten in place, its xattrs stay.
    writeFileSync(join(dir, crypt.encryptName('a.bin')), readFileSync(join(dir, crypt.encryptName('b.bin'))));
    assert.equal(await crypt.hash!('a.bin', 'md5'), undefined);
    const [listed] = [...(await listAll(crypt, ''))].filter((e) => e.path === 'a.bin');
    assert.equal(crypt.hashOfSealText(listed.sealText!, 'md5', listed.size), undefined, 'listings defer to hash() there');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Over a local remote, a listing reads no xattrs until an entry's metadata or record is asked for
// (lsf, lsl and a copy's walk need neither); what it then reads is what stat gives.
test('crypt over local: listings read the record and metadata only when asked for, and give the same as stat', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'crypt-seal-lazy-'));
  try {
    const crypt = new CryptRemote(new LocalRemote(dir), keys, OPTS);
    const plain = Buffer.from('lazy');
    await crypt.write('sealed.txt', bytesOf(plain), { size: plain.length, metadata: { colour: 'blue' } });
    writeFileSync(join(dir, crypt.encryptName('unsealed.txt')), readFileSync(join(dir, crypt.encryptName('sealed.txt'))));
    const listed = await listAll(crypt, '');
    assert.deepEqual(listed.map((e) => e.path).sort(), ['sealed.txt', 'unsealed.txt']);
    assert.ok(listed.every((e) => metadataPending(e)), 'listing alone reads no xattrs');
    const sealed = listed.find((e) => e.path === 'sealed.txt')!;
    const unsealed = listed.find((e) => e.path === 'unsealed.txt')!;
    const st = await crypt.stat('sealed.txt');
    assert.equal(sealed.sealText, st.sealText);
    assert.ok(sealed.sealText && sealKey.open(sealed.sealText).size === plain.length);
    assert.deepEqual(sealed.metadata, st.metadata);
    assert.equal(sealed.metadata?.colour, 'blue');
    assert.equal(unsealed.sealText, undefined);
    assert.ok(!Object.keys(unsealed.metadata ?? {}).some(isSealMetadataKey));
    // Spreading carries both, as an eager entry's fields.
    const copy = { ...listed.find((e) => e.path === 'sealed.txt')! };
    assert.equal(copy.sealText, st.sealText);
    assert.deepEqual(copy.metadata, st.metadata);
    sealed.metadata = { colour: 'red' };
    assert.equal(sealed.sealText, st.sealText, 'setting metadata keeps the record');
    assert.deepEqual(sealed.metadata, { colour: 'red' });
    // Over local a listed record may be stale (hash() checks the nonce), so hashing a listed entry
    // does not read it for nothing.
    const again = (await listAll(crypt, '')).find((e) => e.path === 'sealed.txt')!;
    let recordRead = false;
    Object.defineProperty(again, 'sealText', { get: () => { recordRead = true; return undefined; } });
    assert.equal(await entryHash(crypt, again, 'md5'), hex('md5', plain));
    assert.equal(recordRead, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
