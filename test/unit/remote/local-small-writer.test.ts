// The one-job write of small local files (src/remote/local-small-writer.ts, native/small_write.c):
// batching while the pool is busy, each file's own result, and the native job's effects and errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SmallFileWriter } from '../../../src/remote/local-small-writer.js';
import { osNative, type SmallFileJob, type SmallFileStat } from '../../../src/os-native.js';

const job = (n: number): SmallFileJob => ({ temp: `t${n}`, target: `f${n}`, bytes: Buffer.from([n]), xattrs: [], mtimeNs: BigInt(n) });
const statOf = (n: number): SmallFileStat => ({ size: n, mode: 0o100644, uid: 0, gid: 0, mtimeNs: BigInt(n), atimeNs: 0n, birthtimeNs: 0n });

test('SmallFileWriter: files made ready while the jobs are busy go together as the next batch; each gets its own result', async () => {
  const batches: Array<{ files: SmallFileJob[]; finish: (results: Array<SmallFileStat | Error>) => void; fail: (err: Error) => void }> = [];
  let started = () => {};
  const writer = new SmallFileWriter(
    (files) =>
      new Promise((finish, fail) => {
        batches.push({ files, finish, fail });
        started();
      }),
    1,
  );
  const first = writer.write(job(1));
  const second = writer.write(job(2));
  const third = writer.write(job(3));
  assert.deepEqual(batches.map((b) => b.files.map((f) => f.target)), [['f1']]);
  const next = new Promise<void>((r) => (started = r));
  batches[0].finish([statOf(1)]);
  assert.deepEqual(await first, statOf(1));
  await next;
  assert.deepEqual(batches.map((b) => b.files.map((f) => f.target)), [['f1'], ['f2', 'f3']]);
  const refused = Object.assign(new Error('EISDIR: is a directory'), { code: 'EISDIR' });
  batches[1].finish([refused, statOf(3)]);
  await assert.rejects(second, (err) => err === refused);
  assert.deepEqual(await third, statOf(3));
  // A job that fails as a whole fails each of its files.
  const fourth = writer.write(job(4));
  batches[2].fail(new Error('queue failed'));
  await assert.rejects(fourth, /queue failed/);
});

test('SmallFileWriter: up to maxInFlight jobs at once', async () => {
  const pending: Array<() => void> = [];
  let jobs = 0;
  let started = () => {};
  const writer = new SmallFileWriter((files) => {
    jobs++;
    started();
    return new Promise((r) => pending.push(() => r(files.map((f) => statOf(Number(f.mtimeNs))))));
  }, 2);
  const all = [1, 2, 3, 4].map((n) => writer.write(job(n)));
  assert.equal(jobs, 2);
  const third = new Promise<void>((r) => (started = r));
  pending.shift()!();
  await third;
  assert.equal(jobs, 3); // 3 and 4 in one batch
  while (pending.length) pending.shift()!();
  assert.deepEqual((await Promise.all(all)).map((s) => s.size), [1, 2, 3, 4]);
  assert.equal(jobs, 3);
});

test('writeSmallFiles (native): bytes, xattrs and exact times in place, temporary file renamed; failures leave no temporary file', async () => {
  assert.ok(osNative, 'the native fs addon is built');
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-small-write-'));
  try {
    await mkdir(join(dir, 'adir'));
    const ns = 1_700_000_000_123_456_789n;
    const [ok, noDir, ontoDir] = await osNative.writeSmallFiles([
      { temp: join(dir, '.t1'), target: join(dir, 'f1'), bytes: Buffer.from('hello'), xattrs: ['user.a', '1', 'user.b', 'two'], mtimeNs: ns },
      { temp: join(dir, 'missing', '.t2'), target: join(dir, 'missing', 'f2'), bytes: Buffer.from('x'), xattrs: [], mtimeNs: ns },
      { temp: join(dir, '.t3'), target: join(dir, 'adir'), bytes: Buffer.from('y'), xattrs: [], mtimeNs: ns },
    ]);
    assert.ok(!(ok instanceof Error));
    assert.equal(ok.size, 5);
    assert.equal(ok.mtimeNs, ns);
    assert.equal((await stat(join(dir, 'f1'), { bigint: true })).mtimeNs, ns);
    assert.equal(await readFile(join(dir, 'f1'), 'utf8'), 'hello');
    assert.deepEqual(osNative.userXattrs(join(dir, 'f1')), { a: '1', b: 'two' });
    assert.ok(noDir instanceof Error);
    assert.equal((noDir as NodeJS.ErrnoException).code, 'ENOENT');
    assert.equal((noDir as NodeJS.ErrnoException).syscall, 'open');
    assert.ok(ontoDir instanceof Error);
    assert.equal((ontoDir as NodeJS.ErrnoException).code, 'EISDIR');
    assert.equal((ontoDir as NodeJS.ErrnoException).syscall, 'rename');
    assert.deepEqual((await readdir(dir)).sort(), ['adir', 'f1']);
    assert.throws(() => osNative!.writeSmallFiles([{ temp: 'a', target: 'b', bytes: 'not bytes' as unknown as Uint8Array, xattrs: [], mtimeNs: 0n }]), TypeError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writeSmallFiles (native, version 2): applies mode, and owner where it differs (root only)', async () => {
  assert.ok(osNative, 'the native fs addon is built');
  assert.equal(osNative.writeSmallFilesVersion, 2);
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-small-write-'));
  try {
    const root = process.geteuid?.() === 0;
    const owner = root ? { uid: 1234, gid: 5678 } : {};
    const [r] = await osNative.writeSmallFiles([
      { temp: join(dir, '.t'), target: join(dir, 'f'), bytes: Buffer.from('x'), xattrs: [], mtimeNs: 1_000_000_000n, mode: 0o640, ...owner },
    ]);
    assert.ok(!(r instanceof Error), String(r));
    const st = await stat(join(dir, 'f'));
    assert.equal(st.mode & 0o7777, 0o640);
    assert.equal(r.mode & 0o7777, 0o640, 'the result is stat after the mode');
    if (root) assert.deepEqual([st.uid, st.gid, r.uid, r.gid], [1234, 5678, 1234, 5678]);
    assert.throws(() => osNative!.writeSmallFiles([{ temp: 'a', target: 'b', bytes: Buffer.from('x'), xattrs: [], mtimeNs: 0n, mode: -1 }]), TypeError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
