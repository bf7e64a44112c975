// The VFS's building blocks on their own: inode table, directory cache,
// streaming reader, block cache file, journal.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InodeTable, ROOT_INO, hashInode } from '../../../src/vfs/inode-table.js';
import { DirCache } from '../../../src/vfs/dir-cache.js';
import { StreamingReader } from '../../../src/vfs/read-ahead.js';
import { BlockFile, CacheCorruptError, CACHE_BLOCK, SLOT_SIZE } from '../../../src/vfs/block-file.js';
import { CacheStore } from '../../../src/vfs/write-cache.js';
import { Journal } from '../../../src/vfs/journal.js';
import { deriveRemoteCacheKey } from '../../../src/vfs/cache-key.js';
import { SubRemote } from '../../../src/remote/sub-remote.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import { CryptRemote } from '../../../src/remote/crypt.js';
import { deriveKeys } from '../../../src/crypt/keys.js';
import { bytesOf, readAll } from '../../helpers/remote-contract.js';
import { failOnFileHandlesClosedByGc } from '../../helpers/file-handle-gc.js';

failOnFileHandlesClosedByGc();

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('InodeTable', () => {
  it('gives stable numbers per path and keeps them across renames', () => {
    const t = new InodeTable();
    assert.equal(t.path(ROOT_INO), '');
    const a = t.ref('a', true);
    assert.equal(a, hashInode('a'));
    assert.equal(t.peek('a'), a);
    assert.equal(t.ref('a', true), a, 'second lookup, same number');
    const b = t.ref('a/b', false);
    t.rename('a', 'c');
    assert.equal(t.path(a), 'c');
    assert.equal(t.path(b), 'c/b');
    assert.equal(t.peek('c/b'), b);
    // The old name gets a different number while the renamed node still holds its own.
    const again = t.ref('a', true);
    assert.notEqual(again, a);
    t.forget(b, 1);
    assert.equal(t.path(b), undefined);
    t.forget(a, 1);
    assert.equal(t.path(a), 'c', 'still referenced once');
    t.forget(a, 1);
    assert.equal(t.path(a), undefined);
  });

  it('unlink detaches the name; rename over a file detaches the target', () => {
    const t = new InodeTable();
    const x = t.ref('x', false);
    const y = t.ref('y', false);
    t.rename('x', 'y');
    assert.equal(t.path(x), 'y');
    assert.equal(t.path(y), undefined, 'replaced node has no path');
    t.unlink('y');
    assert.equal(t.path(x), undefined);
    assert.notEqual(t.ref('y', false), x);
  });
});

describe('DirCache', () => {
  it('expires listings after the TTL and applies own changes in place', async () => {
    let now = 1000;
    const c = new DirCache(5000, () => now);
    const l = c.begin('d');
    l.addRemote('a', { isDir: false, size: 1, mtime: new Date(0) });
    l.upsert('b', { isDir: false, size: 2, mtime: new Date(0) });
    l.addRemote('b', { isDir: false, size: 99, mtime: new Date(0) }); // stale remote view of our own change
    l.remove('a');
    l.addRemote('a', { isDir: false, size: 1, mtime: new Date(0) }); // listed before our unlink reached it
    l.finish();
    assert.deepEqual([...l.entries.keys()], ['b']);
    assert.equal(l.entries.get('b')!.size, 2);
    assert.equal(c.get('d'), l);
    now += 5000;
    assert.equal(c.get('d'), undefined, 'expired');
  });

  it('renameTree moves complete listings below a directory', () => {
    const c = new DirCache(60_000);
    c.setEmpty('a');
    c.setEmpty('a/b');
    c.upsert('a', 'b', { isDir: true, size: -1, mtime: new Date() });
    c.setEmpty('ab');
    c.renameTree('a', 'z');
    assert.deepEqual(c.keys().sort(), ['ab', 'z', 'z/b']);
    assert.ok(c.get('z')!.entries.has('b'));
  });
});

describe('StreamingReader', () => {
  const data = randomBytes(3 * 1024 * 1024 + 123);
  const remote = new MemoryRemote();
  let opens: Array<{ offset: number; length?: number }> = [];
  const opener = async (offset: number, length?: number) => {
    opens.push({ offset, length });
    return remote.openRead('f', { offset, length });
  };
  before(async () => {
    await remote.write('f', bytesOf(data));
  });

  it('serves sequential reads from one stream, out-of-order arrivals included', async () => {
    opens = [];
    const r = new StreamingReader(opener, data.length, 1024 * 1024);
    const parts: Buffer[] = [];
    const size = 128 * 1024;
    for (let off = 0; off < data.length; off += 4 * size) {
      // The kernel's async reads: several in flight, answered in any order.
      const batch = [0, 2, 1, 3].map((k) => off + k * size).filter((o) => o < data.length);
      const got = await Promise.all(batch.map((o) => r.read(o, size).then((b) => ({ o, b }))));
      parts.push(...got.sort((x, y) => x.o - y.o).map((x) => x.b));
    }
    assert.equal(sha(Buffer.concat(parts)), sha(data));
    assert.equal(r.stats.streamOpens, 1);
    assert.equal(r.stats.rangedReads, 0);
    assert.equal(opens.length, 1);
    assert.equal(opens[0].length, undefined, 'open-ended stream');
    assert.equal((await r.read(data.length, 10)).length, 0, 'EOF');
    await r.close();
  });

  it('random reads are ranged requests of just the bytes asked; a seek then reading on reopens the stream', async () => {
    opens = [];
    const r = new StreamingReader(opener, data.length, 1024 * 1024);
    const a = await r.read(2_000_000, 1000);
    assert.deepEqual(a, data.subarray(2_000_000, 2_001_000));
    assert.deepEqual(opens, [{ offset: 2_000_000, length: 1000 }]);
    const b = await r.read(500, 10);
    assert.deepEqual(b, data.subarray(500, 510));
    // Sequential from there: the stream opens at 510.
    const c = await r.read(510, 100_000);
    assert.deepEqual(c, data.subarray(510, 100_510));
    assert.equal(r.stats.streamOpens, 1);
    assert.equal(opens.at(-1)!.offset, 510);
    const tail = await r.read(data.length - 5, 100);
    assert.deepEqual(tail, data.subarray(data.length - 5));
    await r.close();
  });
});

describe('block cache file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cryptfs-vfs-parts-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('seals every block with a fresh nonce and stores no plaintext', async () => {
    const key = randomBytes(32);
    const path = join(dir, 'blk');
    const f = await BlockFile.create(path, key);
    const marker = Buffer.from('PLAINTEXT-MARKER-'.repeat(4000));
    const block0 = marker.subarray(0, CACHE_BLOCK);
    await f.writeBlocks(0, [block0, marker.subarray(CACHE_BLOCK, CACHE_BLOCK + 100)]);
    const raw1 = await readFile(path);
    assert.equal(raw1.indexOf('PLAINTEXT-MARKER'), -1);
    const nonce1 = raw1.subarray(64, 64 + 24);
    await f.writeBlocks(0, [block0]);
    const raw2 = await readFile(path);
    assert.notDeepEqual(raw2.subarray(64, 64 + 24), nonce1, 'rewrite takes a new nonce');
    const [b0, b1, b2] = await f.readBlocks(0, 3);
    assert.deepEqual(b0, block0);
    assert.deepEqual(b1, marker.subarray(CACHE_BLOCK, CACHE_BLOCK + 100));
    assert.equal(b2, undefined);
    // A slot moved to another position fails (the index is sealed in).
    const moved = Buffer.from(raw2);
    raw2.copy(moved, 64 + SLOT_SIZE, 64, 64 + SLOT_SIZE);
    await writeFile(path + '.moved', moved);
    const g = await BlockFile.open(path + '.moved', key);
    await assert.rejects(g.readBlocks(1, 1), CacheCorruptError);
    await g.close();
    // A flipped bit fails authentication.
    const flipped = Buffer.from(raw2);
    flipped[64 + 100] ^= 1;
    await writeFile(path + '.flip', flipped);
    const h = await BlockFile.open(path + '.flip', key);
    await assert.rejects(h.readBlocks(0, 1), CacheCorruptError);
    await h.close();
    const scan = await f.scan();
    assert.deepEqual([...scan.present].sort(), [0, 1]);
    assert.equal(scan.end, CACHE_BLOCK + 100);
    await f.close();
  });

  it('cache items: random writes, truncate shrink and grow, source-backed blocks', async () => {
    const key = randomBytes(32);
    const { store } = await CacheStore.open(join(dir, 'store'), key);
    const source = randomBytes(1_000_000);
    const item = await store.create({
      path: 'f',
      size: source.length,
      sourceSize: source.length,
      source: { size: source.length, mtimeMs: 0 },
      mtime: new Date(),
    });
    let fetched = 0;
    item.fetch = async (offset, length) => {
      fetched += length ?? source.length - offset;
      return bytesOf(source.subarray(offset, length === undefined ? undefined : offset + length));
    };
    let model = Buffer.from(source);
    const rnd = (n: number) => Math.floor(Math.random() * n);
    const check = async (what: string) => {
      assert.equal(item.size, model.length, what);
      const got = await item.read(0, model.length + 10);
      assert.equal(sha(got), sha(model), what);
    };
    // A few small writes touch a few blocks: only those are fetched.
    for (const off of [10, 70_000, 999_990]) {
      const buf = randomBytes(20);
      await item.write(off, buf);
      const next = Buffer.alloc(Math.max(model.length, off + buf.length));
      model.copy(next);
      buf.copy(next, off);
      model = next;
    }
    assert.ok(fetched <= 4 * 16 * CACHE_BLOCK, `fetched ${fetched}`);
    await check('after small writes');
    for (let i = 0; i < 30; i++) {
      const op = rnd(4);
      if (op === 0) {
        const size = rnd(model.length + 200_000);
        await item.truncate(size);
        const next = Buffer.alloc(size);
        model.copy(next, 0, 0, Math.min(size, model.length));
        model = next;
      } else {
        const off = rnd(model.length + 100_000);
        const buf = randomBytes(1 + rnd(200_000));
        await item.write(off, buf);
        const next = Buffer.alloc(Math.max(model.length, off + buf.length));
        model.copy(next);
        buf.copy(next, off);
        model = next;
      }
      const off = rnd(model.length + 1);
      const len = rnd(300_000);
      assert.deepEqual(await item.read(off, len), model.subarray(off, off + len), `read after op ${i}`);
    }
    await check('after random operations');
    // Shrink then grow: the cut bytes must read as zeros, not come back from the source.
    await item.truncate(5);
    await item.truncate(200_000);
    model = Buffer.concat([model.subarray(0, 5), Buffer.alloc(200_000 - 5)]);
    await check('shrink and grow');
    await item.fillFromSource();
    assert.ok(item.complete);
    const streamed = await readAll(item.stream(item.size));
    assert.equal(sha(streamed), sha(model));
    const marker = Buffer.from(`MARKER-${randomBytes(8).toString('hex')}`);
    await item.write(1234, marker);
    assert.deepEqual(await item.read(1234, marker.length), marker);
    const onDisk = await readFile(item.block.path);
    assert.equal(onDisk.indexOf(marker), -1, 'no plaintext on disk');
    await item.close();
    await store.close();
  });
});

describe('journal', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cryptfs-vfs-journal-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('replays puts and removes, compacts, seals names, sets aside a journal of another key', async () => {
    const key = randomBytes(32);
    const { journal, entries } = await Journal.open(dir, key);
    assert.equal(entries.size, 0);
    await journal.put({ id: 'a', path: 'secret-name-one.txt', size: 1, mtimeMs: 1 });
    await journal.put({ id: 'b', path: 'secret-name-two.txt', size: 2, mtimeMs: 2 });
    await journal.put({ id: 'a', path: 'secret-name-one.txt', size: 3, mtimeMs: 3 });
    await journal.remove('b');
    const raw = await readFile(join(dir, 'journal'));
    assert.equal(raw.indexOf('secret-name'), -1, 'names are sealed');
    await journal.close();
    const again = await Journal.open(dir, key);
    assert.deepEqual([...again.entries.values()], [{ id: 'a', path: 'secret-name-one.txt', size: 3, mtimeMs: 3 }]);
    assert.ok((await stat(join(dir, 'journal'))).size < raw.length, 'compacted');
    // A torn last record: the ones before it still count.
    await again.journal.put({ id: 'c', path: 'c', size: 0, mtimeMs: 0 });
    await again.journal.close();
    const whole = await readFile(join(dir, 'journal'));
    await writeFile(join(dir, 'journal'), whole.subarray(0, whole.length - 3));
    const torn = await Journal.open(dir, key);
    assert.deepEqual([...torn.entries.keys()], ['a']);
    await torn.journal.close();
    const other = await Journal.open(dir, randomBytes(32));
    assert.equal(other.entries.size, 0);
    await other.journal.close();
    assert.ok((await readdir(dir)).some((n) => n.startsWith('journal.unreadable-')));
  });

  it('compacts itself while running', async () => {
    const sub = join(dir, 'compact');
    await rm(sub, { recursive: true, force: true });
    await mkdir(sub);
    const key = randomBytes(32);
    const saved = Journal.compactAfterBytes;
    Journal.compactAfterBytes = 20_000;
    try {
      const { journal } = await Journal.open(sub, key);
      await journal.put({ id: 'keep', path: 'kept', size: 1, mtimeMs: 1 });
      for (let i = 0; i < 500; i++) {
        await journal.put({ id: `f${i}`, path: `file-${i}`, size: i, mtimeMs: i });
        await journal.remove(`f${i}`);
      }
      assert.ok((await stat(join(sub, 'journal'))).size < 25_000);
      const crash = await Journal.open(sub, key); // as a restart after a kill would read it
      assert.deepEqual([...crash.entries.keys()], ['keep']);
      await crash.journal.close();
      await journal.close();
    } finally {
      Journal.compactAfterBytes = saved;
    }
  });

  it('the cache key derives from the crypt data key only', async () => {
    const k1 = await deriveKeys('pw', 'salt');
    const k2 = await deriveKeys('pw', 'salt');
    const k3 = await deriveKeys('other', 'salt');
    const opts = { mode: 'standard', encoding: 'base32', directoryNameEncryption: true, noDataEncryption: false } as const;
    const a = (await deriveRemoteCacheKey(new CryptRemote(new MemoryRemote(), k1, opts)))!;
    const b = await deriveRemoteCacheKey(new SubRemote(new CryptRemote(new MemoryRemote(), k2, opts), 'dir'));
    const c = await deriveRemoteCacheKey(new CryptRemote(new MemoryRemote(), k3, opts));
    assert.equal(a.length, 32);
    // The value earlier versions computed: a cache left by a crash must still open after an upgrade.
    assert.equal(a.toString('hex'), '060092836cb74e0c0ecdf8f0adbd54d0a2c7e0cd33a9b3e39604570e5a656232');
    assert.equal(await deriveRemoteCacheKey(new MemoryRemote()), undefined);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.notDeepEqual(a, k1.dataKey);
  });
});
