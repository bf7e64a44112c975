// The behaviour every Remote must show, as one suite that each driver's tests
// run against a real instance (local dir, memory, crypt over either, s3, swift).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { ByteSource, Remote, RemoteEntry } from '../../src/remote/remote.js';
import { DirNotEmptyError, DirNotFoundError, ObjectNotFoundError } from '../../src/errors.js';

export interface ContractTarget {
  remote: Remote;
  cleanup?: () => Promise<void>;
}

export interface ContractOptions {
  /** Allowed difference between a set and a read-back modification time, in ms. */
  mtimeToleranceMs?: number;
  /** Bytes of the large object in the round-trip test. */
  largeSize?: number;
  /** The remote lists whole trees at once (listRecursive: S3, Swift, crypt over them); others must not claim to. */
  listsTrees?: boolean;
  /** A listing without times leaves them unread (S3, Swift, crypt over them): its files say mtimeUnread. */
  listsUntimed?: boolean;
}

export async function* bytesOf(data: Buffer, piece = 50_000): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += piece) yield data.subarray(i, i + piece);
  if (data.length === 0) return;
}

export async function readAll(source: ByteSource): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of source) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

export async function listAll(remote: Remote, dir: string): Promise<RemoteEntry[]> {
  const out: RemoteEntry[] = [];
  for await (const e of remote.list(dir)) out.push(e);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** A stream that yields `good` bytes and then fails: a connection that drops mid-upload. */
async function* failingSource(good: Buffer): AsyncGenerator<Buffer> {
  yield good;
  throw new Error('source failed on purpose');
}

export function runRemoteContract(
  label: string,
  make: () => Promise<ContractTarget>,
  options: ContractOptions = {},
): void {
  const tolerance = options.mtimeToleranceMs ?? 1;
  describe(`remote contract: ${label}`, () => {
    let target: ContractTarget;
    let r: Remote;
    before(async () => {
      target = await make();
      r = target.remote;
    });
    after(async () => {
      await target?.cleanup?.();
    });

    it('writes, stats and reads back objects of chunk-boundary sizes', async () => {
      for (const size of [0, 1, 65535, 65536, 65537, 200_000]) {
        const data = randomBytes(size);
        const mtime = new Date(Date.UTC(2021, 4, 6, 7, 8, 9, 123));
        const written = await r.write(`sizes/f-${size}.bin`, bytesOf(data), { mtime, size });
        assert.equal(written.size, size, `size reported by write for ${size}`);
        const st = await r.stat(`sizes/f-${size}.bin`);
        assert.equal(st.isDir, false);
        assert.equal(st.size, size, `stat size for ${size}`);
        assert.ok(Math.abs(st.mtime.getTime() - mtime.getTime()) <= tolerance, `mtime for ${size}: ${st.mtime.toISOString()}`);
        const back = await readAll(await r.openRead(`sizes/f-${size}.bin`));
        assert.ok(back.equals(data), `content for ${size}`);
      }
    });

    it('reads byte ranges, including across chunk boundaries and past the end', async () => {
      const data = randomBytes(3 * 65536 + 100);
      await r.write('ranges/data.bin', bytesOf(data, 65_000), { size: data.length });
      const cases: [number, number | undefined][] = [
        [0, 1],
        [0, undefined],
        [1, 10],
        [65535, 2],
        [65536, 10],
        [65537, 65536],
        [131071, 65538],
        [data.length - 1, 1],
        [data.length - 1, 100],
        [100_000, undefined],
        [data.length, 10],
        [5, 0],
      ];
      for (const [offset, length] of cases) {
        const got = await readAll(await r.openRead('ranges/data.bin', { offset, length }));
        const end = length === undefined ? data.length : Math.min(data.length, offset + length);
        assert.ok(got.equals(data.subarray(Math.min(offset, data.length), end)), `range ${offset}+${length}: got ${got.length} bytes`);
      }
    });

    it('lists directories and their entries', async () => {
      await r.write('tree/a.txt', bytesOf(Buffer.from('a')));
      await r.write('tree/sub/b.txt', bytesOf(Buffer.from('bb')));
      await r.write('tree/sub/deeper/c.txt', bytesOf(Buffer.from('ccc')));
      const top = await listAll(r, 'tree');
      assert.deepEqual(
        top.map((e) => [e.path, e.isDir]),
        [
          ['tree/a.txt', false],
          ['tree/sub', true],
        ],
      );
      assert.equal(top[0].size, 1);
      const sub = await listAll(r, 'tree/sub');
      assert.deepEqual(
        sub.map((e) => [e.path, e.isDir, e.isDir ? undefined : e.size]),
        [
          ['tree/sub/b.txt', false, 2],
          ['tree/sub/deeper', true, undefined],
        ],
      );
      const st = await r.stat('tree/sub');
      assert.equal(st.isDir, true);
    });

    // S3 and Swift (and crypt over them): one listing of every key instead of one per directory.
    it(options.listsTrees ? 'lists a whole tree at once as a walk by directories does' : 'has no recursive listing', async () => {
      assert.equal(typeof r.listRecursive, options.listsTrees ? 'function' : 'undefined');
      if (!r.listRecursive) return;
      for (const [path, body] of [['rtree/a.txt', 'a'], ['rtree/s/b.txt', 'bb'], ['rtree/s/d/c.txt', 'ccc'], ['rtree/s/d/e/f.txt', ''], ['rtree/t/g.txt', 'g']]) {
        await r.write(path, bytesOf(Buffer.from(body)));
      }
      const byDirs: string[] = [];
      const walkDirs = async (dir: string) => {
        for (const e of await listAll(r, dir)) {
          byDirs.push(`${e.path} ${e.isDir ? 'dir' : e.size}`);
          if (e.isDir) await walkDirs(e.path);
        }
      };
      await walkDirs('rtree');
      const seen = new Set<string>();
      const atOnce: string[] = [];
      for await (const e of r.listRecursive('rtree')) {
        atOnce.push(`${e.path} ${e.isDir ? 'dir' : e.size}`);
        const parent = e.path.slice(0, e.path.lastIndexOf('/'));
        assert.ok(parent === 'rtree' || seen.has(parent), `${e.path} came before its directory`);
        if (e.isDir) seen.add(e.path);
      }
      assert.deepEqual(atOnce.sort(), byDirs.sort());
      const sub: string[] = [];
      for await (const e of r.listRecursive('rtree/s/d')) sub.push(e.path);
      assert.deepEqual(sub.sort(), ['rtree/s/d/c.txt', 'rtree/s/d/e', 'rtree/s/d/e/f.txt']);
      await assert.rejects(async () => {
        for await (const _ of r.listRecursive!('rtree/none')) void _;
      }, DirNotFoundError);
    });

    it(options.listsUntimed ? 'lists without times marked unread; a read brings the stored time' : 'lists without times exactly; a read brings the stored time', async () => {
      const mtime = new Date(Date.UTC(2019, 1, 2, 3, 4, 5, 678));
      const data = randomBytes(70_000);
      await r.write('untimed/f.bin', bytesOf(data), { mtime, size: data.length });
      const listed: RemoteEntry[] = [];
      for await (const e of r.list('untimed', { modTimes: false })) listed.push(e);
      assert.equal(listed.length, 1);
      assert.equal(listed[0].size, data.length);
      assert.equal(listed[0].mtimeUnread === true, options.listsUntimed === true, 'marked unread where the listing skipped the time');
      if (!listed[0].mtimeUnread) assert.ok(Math.abs(listed[0].mtime.getTime() - mtime.getTime()) <= tolerance, `listed mtime ${listed[0].mtime.toISOString()}`);
      for (const e of await listAll(r, 'untimed')) assert.equal(e.mtimeUnread, undefined, 'a listing with times reads them');

      assert.ok(r.openReadWithInfo, 'every remote here gives a read with its info');
      for (const range of [undefined, { offset: 65_530, length: 20 }, { offset: 5, length: 0 }]) {
        const { source, entry } = await r.openReadWithInfo(listed[0].path, range);
        const what = JSON.stringify(range ?? 'whole');
        assert.deepEqual(await readAll(source), range ? data.subarray(range.offset, range.offset + range.length) : data, `${what}: content`);
        assert.equal(entry.path, 'untimed/f.bin');
        assert.equal(entry.size, data.length, `${what}: the whole object's size`);
        assert.equal(entry.mtimeUnread, undefined);
        assert.ok(Math.abs(entry.mtime.getTime() - mtime.getTime()) <= tolerance, `${what}: stored mtime ${entry.mtime.toISOString()}`);
      }
    });

    it('reports missing objects and directories with typed errors', async () => {
      await assert.rejects(r.stat('nope/never.txt'), ObjectNotFoundError);
      await assert.rejects(r.openRead('nope/never.txt'), ObjectNotFoundError);
      await assert.rejects(r.delete('nope/never.txt'), ObjectNotFoundError);
      await assert.rejects(listAll(r, 'nope/never-dir'), DirNotFoundError);
    });

    it('overwrites an object with new content', async () => {
      await r.write('over/x.txt', bytesOf(Buffer.from('first version, longer')));
      await r.write('over/x.txt', bytesOf(Buffer.from('second')));
      assert.equal((await readAll(await r.openRead('over/x.txt'))).toString(), 'second');
      assert.equal((await r.stat('over/x.txt')).size, 6);
    });

    it('keeps unicode, spaces and punctuation in names', async () => {
      const names = ['Ünïcödé café.txt', '日本語 ファイル.md', 'emoji 😀 name', 'a+b=c&d;e#f?g%h', 'ends-with-dot.'];
      for (const n of names) await r.write(`names/${n}`, bytesOf(Buffer.from(n)));
      const listed = (await listAll(r, 'names')).map((e) => e.path.slice('names/'.length)).sort();
      assert.deepEqual(listed, [...names].sort());
      for (const n of names) assert.equal((await readAll(await r.openRead(`names/${n}`))).toString(), n);
    });

    it('deletes objects', async () => {
      await r.write('del/x', bytesOf(Buffer.from('x')));
      await r.delete('del/x');
      await assert.rejects(r.stat('del/x'), ObjectNotFoundError);
    });

    it('makes and removes directories; refuses to remove a non-empty one', async () => {
      await r.mkdir('made/deep');
      await r.write('made/keep.txt', bytesOf(Buffer.from('k')));
      await assert.rejects(r.rmdir('made'), DirNotEmptyError);
      if (r.features.realDirectories) {
        assert.equal((await r.stat('made/deep')).isDir, true);
        await r.rmdir('made/deep');
      }
      await r.delete('made/keep.txt');
      if (r.features.realDirectories) {
        await r.rmdir('made');
        await assert.rejects(listAll(r, 'made'), DirNotFoundError);
      }
    });

    it('sets modification times', async () => {
      await r.write('times/t.txt', bytesOf(Buffer.from('t')));
      const when = new Date(Date.UTC(2001, 1, 3, 4, 5, 6, 789));
      await r.setMtime('times/t.txt', when);
      const st = await r.stat('times/t.txt');
      assert.ok(Math.abs(st.mtime.getTime() - when.getTime()) <= tolerance, st.mtime.toISOString());
    });

    it('keeps rclone metadata (mode, owner, user keys) with objects, without losing the mtime or hash', async () => {
      if (!r.setMetadata) {
        // Remotes without metadata (none of ours today) have nothing to keep.
        assert.equal(r.setMetadata, undefined);
        return;
      }
      const data = randomBytes(1000);
      const when = new Date(Date.UTC(2002, 3, 4, 5, 6, 7, 890));
      await r.write('meta/m.bin', bytesOf(data), { mtime: when, metadata: { mode: '100751', mtime: 'ignored: the option wins' } });
      const written = await r.stat('meta/m.bin');
      assert.equal(written.metadata?.mode, '100751');
      const listed = (await listAll(r, 'meta')).find((e) => e.path === 'meta/m.bin');
      assert.equal(listed?.metadata?.mode, '100751', 'listings carry it');
      const md5 = r.features.hashes.includes('md5') ? await r.hash?.('meta/m.bin', 'md5') : undefined;
      await r.setMetadata('meta/m.bin', { mode: '100700', gid: String(process.getgid?.() ?? 0) });
      const changed = await r.stat('meta/m.bin');
      assert.equal(changed.metadata?.mode, '100700');
      assert.equal(changed.metadata?.gid, String(process.getgid?.() ?? 0));
      assert.ok(Math.abs(changed.mtime.getTime() - when.getTime()) <= tolerance, `mtime kept: ${changed.mtime.toISOString()}`);
      if (md5 !== undefined) assert.equal(await r.hash!('meta/m.bin', 'md5'), md5, 'hash kept');
      assert.ok((await readAll(await r.openRead('meta/m.bin'))).equals(data), 'content kept');
      await r.setMtime('meta/m.bin', new Date(Date.UTC(2003, 0, 1)));
      assert.equal((await r.stat('meta/m.bin')).metadata?.mode, '100700', 'setMtime keeps the metadata');
    });

    it('moves and copies objects server-side where it can (and says so where not)', async () => {
      // Neither (by design, not a missing tool): the methods' absence is the whole answer.
      if (!r.move && !r.copy) return;
      const data = randomBytes(70_000);
      await r.write('mv/src.bin', bytesOf(data));
      if (r.copy) {
        const e = await r.copy('mv/src.bin', 'mv/copied/dst.bin');
        assert.equal(e.size, data.length);
        assert.ok((await readAll(await r.openRead('mv/copied/dst.bin'))).equals(data));
        assert.ok((await readAll(await r.openRead('mv/src.bin'))).equals(data));
      }
      if (r.move) {
        await r.move('mv/src.bin', 'mv/moved.bin');
        await assert.rejects(r.stat('mv/src.bin'), ObjectNotFoundError);
        assert.ok((await readAll(await r.openRead('mv/moved.bin'))).equals(data));
      }
    });

    it('leaves no object behind when the source stream fails mid-write', async () => {
      await assert.rejects(r.write('partial/p.bin', failingSource(randomBytes(300_000))));
      await assert.rejects(r.stat('partial/p.bin'), ObjectNotFoundError);
      const left = await listAll(r, 'partial').catch(() => []);
      assert.deepEqual(left.filter((e) => !e.isDir), [], 'nothing listed after a failed write');
    });

    it('reports hashes that match the content (or consistently none)', async () => {
      if (!r.hash || r.features.hashes.length === 0) {
        // No hashes is by design (crypt: the stored hashes are of ciphertext), not a missing
        // tool: a pass when the remote reports none consistently.
        assert.deepEqual(r.features.hashes, [], 'no hash method, so no hash types advertised');
        assert.equal(r.hash, undefined, 'no hash types advertised, so no hash method');
        return;
      }
      const data = randomBytes(12345);
      await r.write('hash/h.bin', bytesOf(data));
      for (const type of r.features.hashes) {
        assert.equal(await r.hash('hash/h.bin', type), createHash(type).update(data).digest('hex'), type);
      }
    });

    it('round-trips a larger object through a stream', async () => {
      const size = options.largeSize ?? 5 * 1024 * 1024 + 17;
      const data = randomBytes(size);
      await r.write('large/big.bin', bytesOf(data, 1_000_003), { size });
      const h = createHash('sha256');
      for await (const c of await r.openRead('large/big.bin')) h.update(c);
      assert.equal(h.digest('hex'), createHash('sha256').update(data).digest('hex'));
    });
  });
}
