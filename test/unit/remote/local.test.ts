import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LocalRemote } from '../../../src/remote/local.js';
import { SubRemote } from '../../../src/remote/sub-remote.js';
import { runRemoteContract, bytesOf, readAll } from '../../helpers/remote-contract.js';
import { IsDirectoryError, NameTooLongError, NoSpaceError } from '../../../src/errors.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireTool } from '../../helpers/require-tool.js';
import { osNative } from '../../../src/os-native.js';
import { smallFileWriter } from '../../../src/remote/local-small-writer.js';
import { writeUserXattrs } from '../../../src/remote/local-xattr.js';
import { PieceReuse, type RemoteEntry } from '../../../src/remote/remote.js';

runRemoteContract('local', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-local-'));
  return { remote: new LocalRemote(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

runRemoteContract('local under a sub-path', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-localsub-'));
  return {
    remote: new SubRemote(new LocalRemote(dir), 'a/b'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

test('local: a failed write leaves no temporary file in the directory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-local-'));
  try {
    const r = new LocalRemote(dir);
    async function* broken() {
      yield Buffer.alloc(1000);
      throw new Error('boom');
    }
    await assert.rejects(r.write('x/y.bin', broken()), /boom/);
    assert.deepEqual(await readdir(join(dir, 'x')), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('local: names over 255 bytes are refused with NameTooLongError', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-local-'));
  try {
    const r = new LocalRemote(dir);
    await assert.rejects(r.write('a'.repeat(256), bytesOf(Buffer.from('x'))), NameTooLongError);
    await r.write('a'.repeat(255), bytesOf(Buffer.from('x')));
    assert.equal((await readAll(await r.openRead('a'.repeat(255)))).toString(), 'x');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('local: writing over a directory or reading one is a typed error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-local-'));
  try {
    const r = new LocalRemote(dir);
    await r.mkdir('d');
    await assert.rejects(r.write('d', bytesOf(Buffer.from('x'))), IsDirectoryError);
    await assert.rejects(r.openRead('d'), IsDirectoryError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('local: a full disk is NoSpaceError and leaves neither a partial file nor damage', async (t) => {
  // Root is required (fails without it, skips only under --allow-skip).
  const notRoot = requireTool('root', process.getuid?.() === 0, 'needs root to mount a small tmpfs');
  if (notRoot) return t.skip(notRoot);
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-full-'));
  const run = promisify(execFile);
  await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'cryptfs-test-full', dir]);
  try {
    const r = new LocalRemote(dir);
    await r.write('keep.txt', bytesOf(Buffer.from('original')));
    await assert.rejects(r.write('big.bin', bytesOf(Buffer.alloc(2 * 1024 * 1024))), NoSpaceError);
    assert.deepEqual((await readdir(dir)).sort(), ['keep.txt']);
    assert.equal((await readAll(await r.openRead('keep.txt'))).toString(), 'original');
  } finally {
    await run('umount', [dir]);
    await rm(dir, { recursive: true, force: true });
  }
});

test('local: a listed entry reads its xattrs when its metadata is first asked for; copies of the entry carry it', async () => {
  assert.ok(osNative, 'the native fs addon is built');
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-local-'));
  try {
    const r = new LocalRemote(dir);
    await r.write('a.txt', bytesOf(Buffer.from('a')), { metadata: { colour: 'blue' } });
    const listed: RemoteEntry[] = [];
    for await (const e of r.list('')) listed.push(e);
    assert.equal(listed.length, 1);
    // Set after the listing, before anything asked: a listing that read xattrs eagerly misses it.
    writeUserXattrs(join(dir, 'a.txt'), { shape: 'round' });
    const entry = listed[0];
    assert.equal(entry.metadata?.colour, 'blue');
    assert.equal(entry.metadata?.shape, 'round');
    assert.match(entry.metadata?.mode ?? '', /^100[0-7]{3}$/);
    const copy = { ...entry, path: 'b.txt' };
    assert.deepEqual(copy.metadata, entry.metadata);
    entry.metadata = { replaced: 'yes' };
    assert.deepEqual(entry.metadata, { replaced: 'yes' });
    // A file gone before its metadata was asked for: what its stat said.
    const [gone] = await (async () => {
      const out: RemoteEntry[] = [];
      for await (const e of r.list('')) out.push(e);
      return out;
    })();
    await rm(join(dir, 'a.txt'));
    assert.equal(gone.metadata?.colour, undefined);
    assert.match(gone.metadata?.mode ?? '', /^100[0-7]{3}$/);
    // openReadWithInfo still describes the open file with its xattrs; openRead gives the bytes.
    await r.write('c.txt', bytesOf(Buffer.from('cc')), { metadata: { colour: 'red' } });
    const { source, entry: opened } = await r.openReadWithInfo('c.txt');
    assert.equal(opened.metadata?.colour, 'red');
    assert.equal((await readAll(source)).toString(), 'cc');
    assert.equal((await readAll(await r.openRead('c.txt'))).toString(), 'cc');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('local: a small write of declared size (one pool job) keeps bytes, exact time and late metadata; makes its directory; fails typed, leaving no temporary file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-local-'));
  try {
    const r = new LocalRemote(dir);
    const ns = 1_700_000_000_123_456_789n;
    const data = Buffer.from('small file bytes');
    let asked = 0;
    const e = await r.write('new/dir/s.bin', bytesOf(data, 5), {
      size: data.length,
      mtimeNs: ns,
      lateMetadata: async () => {
        asked++;
        return { 'cryptfs-seal': 'record', 'cryptfs-seal-2': '' };
      },
    });
    assert.equal(asked, 1);
    assert.equal(e.size, data.length);
    assert.equal(e.mtimeNs, ns);
    assert.equal(e.metadata?.['cryptfs-seal'], 'record');
    assert.match(e.metadata?.mode ?? '', /^100[0-7]{3}$/);
    assert.deepEqual(await r.stat('new/dir/s.bin').then((s) => [s.size, s.mtimeNs, s.metadata?.['cryptfs-seal']]), [data.length, ns, 'record']);
    assert.deepEqual(await readAll(await r.openRead('new/dir/s.bin')), data);
    // More bytes than declared: all written (the caller's size check tells), fewer: what came.
    const more = await r.write('new/more.bin', bytesOf(Buffer.from('abcdef'), 2), { size: 3 });
    assert.equal(more.size, 6);
    const fewer = await r.write('new/fewer.bin', bytesOf(Buffer.from('ab')), { size: 3 });
    assert.equal(fewer.size, 2);
    await r.mkdir('d');
    await assert.rejects(r.write('d', bytesOf(Buffer.from('x')), { size: 1 }), IsDirectoryError);
    async function* broken() {
      yield Buffer.alloc(10);
      throw new Error('boom');
    }
    await assert.rejects(r.write('new/b.bin', broken(), { size: 100 }), /boom/);
    await assert.rejects(r.write('new/c.bin', bytesOf(Buffer.from('x')), { size: 1, lateMetadata: () => Promise.reject(new Error('no record')) }), /no record/);
    assert.deepEqual((await readdir(dir)).sort(), ['d', 'new']);
    assert.deepEqual((await readdir(join(dir, 'new'))).sort(), ['dir', 'fewer.bin', 'more.bin']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('local: a small write with an owner and mode to apply is one pool job too, with the same result as the streamed path', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-local-'));
  const writer = smallFileWriter;
  const original = writer?.write;
  let jobs = 0;
  if (writer) writer.write = (file) => (jobs++, original!.call(writer, file));
  try {
    const r = new LocalRemote(dir);
    const root = process.geteuid?.() === 0;
    const metadata = { mode: '100640', 'x-note': 'kept', ...(root ? { uid: '1234', gid: '5678' } : {}) };
    const data = Buffer.from('with an owner and a mode');
    const entries: RemoteEntry[] = [];
    // Declared size (the one job where the addon is built), then streamed (no size): the same file.
    for (const [name, size] of [['small.bin', data.length], ['streamed.bin', undefined]] as const) {
      entries.push(await r.write(name, bytesOf(data, 7), { size, mtimeNs: 1_700_000_000_000_000_000n, metadata, lateMetadata: async () => ({ 'cryptfs-seal': 'record' }) }));
    }
    assert.equal(jobs, writer ? 1 : 0, 'the declared small write went to the one-job writer');
    for (const name of ['small.bin', 'streamed.bin']) {
      const st = await r.stat(name);
      const md = st.metadata ?? {};
      assert.deepEqual(
        [md.mode, md['x-note'], md['cryptfs-seal'], root ? [md.uid, md.gid] : 'not root'],
        ['100640', 'kept', 'record', root ? ['1234', '5678'] : 'not root'],
        name,
      );
      assert.deepEqual(await readAll(await r.openRead(name)), data);
    }
    const picked = (e: RemoteEntry) => [e.size, e.mtimeNs, e.metadata?.mode, e.metadata?.['x-note'], e.metadata?.['cryptfs-seal'], e.metadata?.uid, e.metadata?.gid];
    assert.deepEqual(picked(entries[0]), picked(entries[1]), 'what write() returns');
  } finally {
    if (writer) writer.write = original!;
    await rm(dir, { recursive: true, force: true });
  }
});

test('local: a streamed write lets its source refill pieces (each is written before the next is asked for); a small one only once all are written', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-local-'));
  // A source that, once allowed, reads every piece into the buffer of the piece before (as FilePieces does).
  function refilling(data: Buffer, pieceSize: number, reuse: { allowed: boolean }) {
    const buffers = new Set<ArrayBufferLike>();
    async function* gen(): AsyncGenerator<Buffer> {
      let last: Buffer | undefined;
      for (let at = 0; at < data.length; at += pieceSize) {
        const n = Math.min(pieceSize, data.length - at);
        const buf = reuse.allowed && last && last.length >= n ? last.subarray(0, n) : Buffer.allocUnsafe(n);
        data.copy(buf, 0, at, at + n);
        buffers.add(buf.buffer);
        last = buf;
        yield buf;
      }
    }
    return { source: gen(), buffers };
  }
  try {
    const r = new LocalRemote(dir);
    for (const [name, size, pieceSize, expectRefill] of [
      ['big.bin', 3 * 1024 * 1024 + 5, 100_000, true],
      // Gathered into one buffer for the one-job writer (where the addon is built): not refilled
      // while it is written; reuse is turned on once the job has written them (the source may
      // then take its buffers back, PieceReuse.whenDone).
      ['small.bin', 50_000, 7_000, smallFileWriter === undefined],
      ['undeclared.bin', 400_000, 64_000, true],
    ] as Array<[string, number, number, boolean]>) {
      const data = randomBytes(size);
      const reuse = { allowed: false };
      const { source, buffers } = refilling(data, pieceSize, reuse);
      const declared = name === 'undeclared.bin' ? undefined : size;
      await r.write(name, source, { size: declared, reusePieces: () => (reuse.allowed = true) });
      assert.equal(reuse.allowed, true, `${name}: reuse turned on`);
      if (expectRefill) assert.ok(buffers.size < Math.ceil(size / pieceSize) / 2, `${name}: pieces refilled (${buffers.size} buffers)`);
      else assert.equal(buffers.size, Math.ceil(size / pieceSize), `${name}: a buffer per piece while gathered`);
      assert.deepEqual(await readAll(await r.openRead(name)), data, `${name}: bytes`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('local: a small file read for a consumer that may allow reuse comes in a shared buffer, back once that consumer is done', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-local-'));
  try {
    const r = new LocalRemote(dir);
    for (const name of ['a.txt', 'b.txt', 'c.txt']) await r.write(name, bytesOf(Buffer.from(`contents of ${name}`)));
    const read = async (name: string, reuse?: PieceReuse) => {
      const got: Buffer[] = [];
      for await (const piece of await r.openRead(name, undefined, { reuse })) got.push(piece as Buffer);
      assert.equal(got.length, 1);
      return got[0]!;
    };
    const firstReuse = new PieceReuse();
    const a = await read('a.txt', firstReuse);
    const b = await read('b.txt', new PieceReuse());
    assert.notEqual(b.buffer, a.buffer, 'not lent again before its consumer allowed reuse');
    firstReuse.allow();
    const c = await read('c.txt', new PieceReuse());
    assert.equal(c.buffer, a.buffer, 'lent again once its consumer was done');
    assert.equal(c.toString(), 'contents of c.txt');
    assert.equal(b.toString(), 'contents of b.txt');
    // No PieceReuse given: a buffer of the file's own size.
    const own = await read('a.txt');
    assert.equal(own.toString(), 'contents of a.txt');
    assert.ok(own.buffer.byteLength < 1024 || own.buffer !== c.buffer);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('local: modification times are kept to the nanosecond (rclone compares local times exactly)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-local-'));
  try {
    const r = new LocalRemote(dir);
    const ns = 1_700_000_000_123_456_789n;
    const e = await r.write('t.bin', bytesOf(Buffer.from('x')), { mtimeNs: ns });
    assert.equal(e.mtimeNs, ns);
    assert.equal((await r.stat('t.bin')).mtimeNs, ns);
    const copied = await r.copy('t.bin', 'u.bin');
    assert.equal(copied.mtimeNs, ns);
    await r.setMtime('u.bin', new Date(0), 1_600_000_000_000_000_001n);
    assert.equal((await r.stat('u.bin')).mtimeNs, 1_600_000_000_000_000_001n);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('local hash: big files on worker threads, small ones inline, equal to node:crypto; a missing file is ObjectNotFoundError', async () => {
  const { createHash, randomBytes } = await import('node:crypto');
  const { writeFile } = await import('node:fs/promises');
  const { ObjectNotFoundError } = await import('../../../src/errors.js');
  const { OFF_THREAD_MIN_BYTES } = await import('../../../src/remote/file-hasher.js');
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-local-hash-'));
  try {
    const remote = new LocalRemote(dir);
    const files: Record<string, Buffer> = {
      small: randomBytes(1000),
      edge: randomBytes(OFF_THREAD_MIN_BYTES),
      big: randomBytes(3 * 1024 * 1024 + 17),
    };
    for (const [name, data] of Object.entries(files)) await writeFile(join(dir, name), data);
    // Several at once: more jobs than threads queue for one.
    const jobs = [];
    for (const type of ['md5', 'sha1', 'sha256'] as const) {
      for (const [name, data] of Object.entries(files)) {
        jobs.push(remote.hash(name, type).then((hex) => assert.equal(hex, createHash(type).update(data).digest('hex'), `${type} ${name}`)));
      }
    }
    await Promise.all(jobs);
    await assert.rejects(remote.hash('missing', 'sha256'), ObjectNotFoundError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
