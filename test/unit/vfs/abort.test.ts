// Cancellation in the VFS: a read-only handle's remote reads stop when it is released, and
// closing the VFS (unmount) stops reads and listings nobody waits for, but never an upload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vfs } from '../../../src/vfs/vfs.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import { abortable } from '../../../src/abort.js';
import { AbortedError } from '../../../src/errors.js';
import type { ByteSource, ListOptions, ReadOptions, ReadRange, RemoteEntry, WriteOptions } from '../../../src/remote/remote.js';

/** A remote whose reads and (when `stallLists`) listings hang until their signal fires; it records the signals. */
class StallingRemote extends MemoryRemote {
  readonly readSignals: Array<AbortSignal | undefined> = [];
  readonly listSignals: Array<AbortSignal | undefined> = [];
  readonly writeSignals: Array<AbortSignal | undefined> = [];
  stallLists = false;

  override async openRead(path: string, range?: ReadRange, options?: ReadOptions): Promise<ByteSource> {
    this.readSignals.push(options?.signal);
    await super.stat(path);
    return abortable((async function* () {
      await new Promise(() => undefined);
      yield new Uint8Array(0);
    })(), options?.signal);
  }

  override async *list(dir: string, options?: ListOptions): AsyncIterable<RemoteEntry> {
    this.listSignals.push(options?.signal);
    if (this.stallLists) yield* abortable((async function* () {
      await new Promise(() => undefined);
    })() as AsyncIterable<RemoteEntry>, options?.signal);
    else yield* super.list(dir, options);
  }

  override write(path: string, source: ByteSource, options?: WriteOptions): Promise<RemoteEntry> {
    this.writeSignals.push(options?.signal);
    return super.write(path, source, options);
  }
}

const settledWithin = async <T>(p: Promise<T>, ms = 2000): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error })),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
};

test('releasing a read-only handle aborts its remote read in flight', async () => {
  const remote = new StallingRemote();
  await remote.write('f', (async function* () { yield Buffer.alloc(1000, 1); })());
  const vfs = await Vfs.create(remote, { cacheMode: 'off' });
  try {
    const h = await vfs.open('f', { read: true, write: false });
    const reading = h.read(0, 100);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(remote.readSignals.length, 1);
    const signal = remote.readSignals[0]!;
    assert.equal(signal.aborted, false);
    await h.release();
    assert.equal(signal.aborted, true);
    const r = await settledWithin(reading);
    assert.equal(r.ok, false, 'the pending read fails rather than hanging');
  } finally {
    await vfs.close();
  }
});

test('closing the VFS aborts a read in flight on a handle still open', async () => {
  const remote = new StallingRemote();
  await remote.write('f', (async function* () { yield Buffer.alloc(1000, 1); })());
  const vfs = await Vfs.create(remote, { cacheMode: 'off' });
  const h = await vfs.open('f', { read: true, write: false });
  const reading = h.read(0, 100);
  await new Promise((r) => setTimeout(r, 20));
  await vfs.close();
  assert.equal(remote.readSignals[0]?.aborted, true);
  const r = await settledWithin(reading);
  assert.equal(r.ok, false);
  if (!r.ok) assert.ok(r.error instanceof AbortedError, String(r.error));
});

test('closing the VFS aborts a listing in flight, and uploads of dirty data carry no signal', async () => {
  const remote = new StallingRemote();
  const cacheDir = await mkdtemp(join(tmpdir(), 'cryptfs-abort-vfs-'));
  try {
    const vfs = await Vfs.create(remote, { cacheMode: 'writes', cacheDir, writeBackMs: 60_000 });
    // A dirty file whose upload waits for the close.
    const w = await vfs.open('dirty', { read: false, write: true, create: true, truncate: true });
    await w.write(Buffer.from('keep me'), 0);
    await w.flush();
    await w.release();
    remote.stallLists = true;
    const listing = settledWithin(vfs.listDir('sub'));
    await new Promise((r) => setTimeout(r, 20));
    const failed = await vfs.close();
    assert.deepEqual(failed, []);
    const r = await listing;
    assert.equal(r.ok, false, 'the listing ends');
    if (!r.ok) assert.ok(r.error instanceof AbortedError, String(r.error));
    // The dirty data reached the remote: its write was not under the close's signal.
    assert.equal(remote.objects.get('dirty')?.data.toString(), 'keep me');
    assert.ok(remote.writeSignals.every((s) => s === undefined || !s.aborted));
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
});
