import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CryptRemote, type CryptRemoteOptions } from '../../../src/remote/crypt.js';
import { LocalRemote } from '../../../src/remote/local.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import { SubRemote } from '../../../src/remote/sub-remote.js';
import { deriveKeys } from '../../../src/crypt/keys.js';
import { runRemoteContract, bytesOf, readAll, listAll } from '../../helpers/remote-contract.js';
import { NameTooLongError, AuthenticationError } from '../../../src/errors.js';
import type { ListOptions, RemoteEntry } from '../../../src/remote/remote.js';
import { fixturePath } from '../../helpers/fixtures.js';

const keys = await deriveKeys('potato', 'sausage');

const modes: [string, CryptRemoteOptions][] = [
  ['standard/base32', { mode: 'standard', encoding: 'base32', directoryNameEncryption: true, noDataEncryption: false }],
  ['standard/base64 no dir names', { mode: 'standard', encoding: 'base64', directoryNameEncryption: false, noDataEncryption: false }],
  ['standard/base32768', { mode: 'standard', encoding: 'base32768', directoryNameEncryption: true, noDataEncryption: false }],
  ['obfuscate', { mode: 'obfuscate', encoding: 'base32', directoryNameEncryption: true, noDataEncryption: false }],
  ['off', { mode: 'off', encoding: 'base32', directoryNameEncryption: true, noDataEncryption: false }],
  ['no data encryption', { mode: 'standard', encoding: 'base32', directoryNameEncryption: true, noDataEncryption: true }],
];

for (const [label, opts] of modes) {
  runRemoteContract(`crypt ${label} over memory`, async () => ({
    remote: new CryptRemote(new MemoryRemote(), keys, opts),
  }));
}

runRemoteContract('crypt standard over local', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-crypt-'));
  return {
    remote: new CryptRemote(new LocalRemote(dir), keys, modes[0][1]),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

test('crypt: the underlying remote holds only ciphertext with rclone sizes', async () => {
  const mem = new MemoryRemote();
  const r = new CryptRemote(mem, keys, modes[0][1]);
  const secret = Buffer.from('a very secret marker 8d1f0c'.repeat(5000));
  await r.write('dir/secret.txt', bytesOf(secret));
  assert.equal(mem.objects.size, 1);
  const [[name, obj]] = [...mem.objects];
  assert.ok(!name.includes('secret'), name);
  assert.equal(obj.data.length, 32 + 2 * 65552 + (secret.length - 2 * 65536) + 16);
  assert.equal(obj.data.indexOf(Buffer.from('secret marker')), -1);
  assert.equal(obj.data.subarray(0, 8).toString('latin1'), 'RCLONE\0\0');
});

test('crypt: an over-long name is refused before anything is written', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-crypt-'));
  try {
    const r = new CryptRemote(new LocalRemote(dir), keys, modes[0][1]);
    await r.write('ok/' + 'n'.repeat(143), bytesOf(Buffer.from('fits exactly')));
    let source = 0;
    async function* counting() {
      source++;
      yield Buffer.from('never read');
    }
    await assert.rejects(r.write('ok/' + 'n'.repeat(144), counting()), (err: unknown) => {
      assert.ok(err instanceof NameTooLongError);
      assert.match(err.message, /n{144}/);
      assert.match(err.message, /256 bytes/);
      assert.match(err.message, /limit is 255/);
      assert.match(err.message, /at most 143 bytes/);
      return true;
    });
    assert.equal(source, 0, 'the source was not read');
    assert.equal((await listAll(r, 'ok')).length, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('crypt: name checks through the Remote capabilities, also under a SubRemote', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-crypt-'));
  try {
    const r = new CryptRemote(new LocalRemote(dir), keys, modes[0][1]);
    const sub = new SubRemote(r, 'deep/er');
    assert.equal(r.nameMax(), 143);
    assert.equal(sub.nameMax?.(), 143);
    r.checkName('ok/' + 'n'.repeat(143), false);
    sub.checkName('ok/' + 'n'.repeat(143), true);
    assert.throws(() => sub.checkName('ok/' + 'n'.repeat(144), false), NameTooLongError);
    assert.throws(() => sub.checkName('n'.repeat(144) + '/ok', true), NameTooLongError);
    // A plain remote under a SubRemote: segments against its own limit, no crypt involved.
    const plain = new SubRemote(new LocalRemote(dir), 'x');
    plain.checkName('n'.repeat(255), false);
    assert.throws(() => plain.checkName('n'.repeat(256), false), NameTooLongError);
    assert.equal(plain.nameMax, undefined);
    assert.equal(plain.cacheKeySecret, undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('crypt: a wrong password reads no bytes and fails authentication', async () => {
  const mem = new MemoryRemote();
  // Names in clear (mode off) so the wrong key still finds the object; the content must not open.
  const good = new CryptRemote(mem, keys, modes[4][1]);
  await good.write('f.txt', bytesOf(Buffer.alloc(1000, 7)));
  const other = new CryptRemote(mem, await deriveKeys('potato', 'wrong'), modes[4][1]);
  const [entry] = await listAll(other, '');
  const got: Buffer[] = [];
  await assert.rejects(async () => {
    for await (const c of await other.openRead(entry.path)) got.push(Buffer.from(c));
  }, AuthenticationError);
  assert.equal(Buffer.concat(got).length, 0);
});

test('crypt: reads every rclone-written fixture of the std_b32 remote', async () => {
  const dir = fixturePath('rclone-1.60.1/enc/std_b32');
  const r = new CryptRemote(new LocalRemote(dir), keys, modes[0][1]);
  const walk = async (d: string): Promise<string[]> => {
    const out: string[] = [];
    for (const e of await listAll(r, d)) out.push(...(e.isDir ? await walk(e.path) : [e.path]));
    return out;
  };
  const files = await walk('');
  assert.equal(files.length, 10);
  for (const f of files) {
    const plain = readFileSync(fixturePath(`rclone-1.60.1/plain/${f}`));
    const got = await readAll(await r.openRead(f));
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(plain).digest('hex'), f);
    assert.equal((await r.stat(f)).size, plain.length);
  }
  assert.deepEqual((await readdir(dir)).length, 10);
});

test('crypt: gives a multipart-style remote the MD5 of the exact ciphertext it stores, from a re-opened source', async () => {
  const seen: (string | undefined)[] = [];
  class NoHashForBig extends MemoryRemote {
    constructor() {
      super();
      this.features.md5UpfrontFrom = 100_000;
    }
    override async write(path: string, source: AsyncIterable<Uint8Array>, options: import('../../../src/remote/remote.js').WriteOptions = {}) {
      seen.push(options.md5);
      return super.write(path, source, options);
    }
  }
  const under = new NoHashForBig();
  const r = new CryptRemote(under, keys, modes[0][1]);
  const big = Buffer.alloc(300_000, 9);
  let reopened = 0;
  const reopen = async () => {
    reopened++;
    return bytesOf(big);
  };
  await r.write('big.bin', bytesOf(big), { size: big.length, reopen });
  await r.write('small.bin', bytesOf(Buffer.from('tiny')), { size: 4, reopen });
  await r.write('no-reopen.bin', bytesOf(big), { size: big.length });
  assert.equal(reopened, 1, 'only the big file is read twice');
  const stored = [...under.objects.values()][0].data;
  assert.equal(seen[0], createHash('md5').update(stored).digest('hex'));
  assert.equal(seen[1], undefined);
  assert.equal(seen[2], undefined);
  assert.ok((await readAll(await r.openRead('big.bin'))).equals(big));
});

test('crypt: encryption lets the plaintext source refill its buffers, and the underlying remote the ciphertext', async () => {
  class Refilling extends MemoryRemote {
    allowed = 0;
    override async write(path: string, source: AsyncIterable<Uint8Array>, options: import('../../../src/remote/remote.js').WriteOptions = {}) {
      // Copies each piece before asking for the next, as a driver that allows reuse must.
      if (options.reusePieces) this.allowed++;
      options.reusePieces?.();
      const copied = async function* () {
        for await (const piece of source) yield Buffer.from(piece);
      };
      return super.write(path, copied(), options);
    }
  }
  const under = new Refilling();
  const r = new CryptRemote(under, keys, modes[0][1]);
  const big = createHash('sha512').update('x').digest().subarray(0, 61).toString('hex').repeat(20_000);
  // A source that refills one buffer once allowed, as FilePieces does.
  let sourceAllowed = false;
  const buffer = Buffer.alloc(70_000);
  const refilling = async function* () {
    for (let at = 0; at < big.length; at += buffer.length) {
      const piece = sourceAllowed ? buffer : Buffer.alloc(buffer.length);
      const n = piece.write(big.slice(at, at + buffer.length), 'latin1');
      yield piece.subarray(0, n);
    }
  };
  await r.write('big.txt', refilling(), { size: big.length, reusePieces: () => (sourceAllowed = true) });
  assert.equal(sourceAllowed, true);
  assert.equal(under.allowed, 1);
  assert.equal((await readAll(await r.openRead('big.txt'))).toString('latin1'), big);
  // Without data encryption the pieces go to the underlying remote as they are: its say, not crypt's.
  sourceAllowed = false;
  const plain = new CryptRemote(new MemoryRemote(), keys, modes[5][1]);
  await plain.write('big.txt', refilling(), { size: big.length, reusePieces: () => (sourceAllowed = true) });
  assert.equal(sourceAllowed, false, 'a memory remote keeps pieces');
  assert.equal((await readAll(await plain.openRead('big.txt'))).toString('latin1'), big);
});

// The wrong-password guard reads names only: over S3 or Swift a listing with modification times is
// a HEAD per object (a no-op copy to crypt over Swift made 400 HEADs for 200 files, rclone 201).
test('crypt: nameFit lists the underlying directory without modification times', async () => {
  const mem = new MemoryRemote();
  const r = new CryptRemote(mem, keys, modes[0][1]);
  await r.write('dir/a.txt', bytesOf(Buffer.from('a')));
  const asked: Array<boolean | undefined> = [];
  const list = mem.list.bind(mem);
  mem.list = (dir, options) => {
    asked.push(options?.modTimes);
    return list(dir, options);
  };
  assert.deepEqual(await r.nameFit('dir'), { entries: 1, anyDecrypts: true });
  assert.deepEqual(asked, [false]);
});

/** A memory remote that also lists whole trees at once, as S3 and Swift do (each directory before its entries). */
class TreeMemoryRemote extends MemoryRemote {
  async *listRecursive(dir: string, options?: ListOptions): AsyncIterable<RemoteEntry> {
    for await (const e of this.list(dir, options)) {
      yield e;
      if (e.isDir) yield* this.listRecursive(e.path, options);
    }
  }
}

for (const [label, opts] of [modes[0], modes[1], modes[3], modes[4]]) {
  runRemoteContract(
    `crypt ${label} over a memory remote that lists trees at once`,
    async () => ({ remote: new CryptRemote(new TreeMemoryRemote(), keys, opts) }),
    { listsTrees: true },
  );
}

test('crypt: a recursive listing leaves out what lies under a directory whose name does not decrypt', async () => {
  const mem = new TreeMemoryRemote();
  const r = new CryptRemote(mem, keys, modes[0][1]);
  await r.write('good/a.txt', bytesOf(Buffer.from('a')));
  await r.write('good/sub/b.txt', bytesOf(Buffer.from('b')));
  // A directory another key (or tool) made: its name and everything under it do not decrypt here.
  const other = new CryptRemote(mem, await deriveKeys('another', 'key'), modes[0][1]);
  await other.write('foreign/c.txt', bytesOf(Buffer.from('c')));
  const got: string[] = [];
  for await (const e of r.listRecursive!('')) got.push(e.path);
  assert.deepEqual(got.sort(), ['good', 'good/a.txt', 'good/sub', 'good/sub/b.txt']);
  assert.equal(new CryptRemote(new MemoryRemote(), keys, modes[0][1]).listRecursive, undefined, 'only over a remote that has one');
});

test('crypt: a listing without times keeps the underlying mark; a read with info decrypts the stored entry in every integrity mode', async () => {
  // An underlying remote that lists as S3/Swift do without times: the upload time, marked unread.
  class UntimedMemory extends MemoryRemote {
    override async *list(dir: string, options?: ListOptions): AsyncIterable<RemoteEntry> {
      for await (const e of super.list(dir, options)) {
        yield options?.modTimes === false && !e.isDir ? { ...e, mtime: new Date(0), metadata: undefined, mtimeUnread: true } : e;
      }
    }
  }
  const mtime = new Date(Date.UTC(2018, 7, 9, 10, 11, 12, 13));
  const data = Buffer.from('stored time '.repeat(9000));
  for (const integrity of ['default', 'strict', 'off'] as const) {
    for (const noDataEncryption of [false, true]) {
      const mem = new UntimedMemory();
      const r = new CryptRemote(mem, keys, { ...modes[0][1], integrity, noDataEncryption });
      await r.write('d/f.txt', bytesOf(data), { mtime });
      const what = `${integrity}${noDataEncryption ? ', no data encryption' : ''}`;
      const [listed] = await (async () => { const out: RemoteEntry[] = []; for await (const e of r.list('d', { modTimes: false })) out.push(e); return out; })();
      assert.equal(listed.mtimeUnread, true, what);
      assert.equal(listed.size, data.length, what);
      const { source, entry } = await r.openReadWithInfo('d/f.txt');
      assert.deepEqual(await readAll(source), data, what);
      assert.equal(entry.path, 'd/f.txt');
      assert.equal(entry.size, data.length, what);
      assert.equal(entry.mtime.getTime(), mtime.getTime(), what);
      assert.equal(entry.mtimeUnread, undefined, what);
      // The record's text stays out of the metadata, on the entry, as a stat gives it.
      assert.equal(entry.sealText, (await r.stat('d/f.txt')).sealText, what);
      await assert.rejects(r.openReadWithInfo('d/missing.txt'), (err: Error) => err.name === 'ObjectNotFoundError' && err.message.includes('d/missing.txt'), what);
    }
  }
});
