// An AbortSignal through openRead, write and list: each driver rejects with AbortedError
// promptly, releases its fd, and leaves no object (nor temporary file) for an aborted write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AbortedError } from '../../../src/errors.js';
import { LocalRemote } from '../../../src/remote/local.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import { CryptRemote } from '../../../src/remote/crypt.js';
import { SubRemote } from '../../../src/remote/sub-remote.js';
import { deriveKeys } from '../../../src/crypt/keys.js';
import type { ByteSource, Remote } from '../../../src/remote/remote.js';

const keys = await deriveKeys('potato', 'sausage');

/** Gives `first` bytes, then waits forever (a user's pipe that stalls, a slow upstream). */
function stallingSource(first: number): ByteSource {
  return (async function* () {
    yield Buffer.alloc(first, 7);
    await new Promise(() => undefined);
  })();
}

/** Settles within `ms` or fails the test (an abort must not wait for the stalled source). */
async function promptly<T>(p: Promise<T>, ms = 2000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function abortedWrite(remote: Remote, path: string): Promise<void> {
  const ac = new AbortController();
  const writing = remote.write(path, stallingSource(100_000), { signal: ac.signal });
  setTimeout(() => ac.abort(new Error('user gave up')), 30);
  await assert.rejects(promptly(writing), AbortedError);
}

async function abortedRead(remote: Remote, path: string): Promise<void> {
  const ac = new AbortController();
  const source = await remote.openRead(path, undefined, { signal: ac.signal });
  const it = source[Symbol.asyncIterator]();
  assert.equal((await it.next()).done, false);
  ac.abort();
  await assert.rejects(promptly(it.next()), AbortedError);
}

const openFds = () => readdirSync('/proc/self/fd').length;

for (const [label, make] of [
  ['memory', () => new MemoryRemote()],
  ['crypt over memory', () => new CryptRemote(new MemoryRemote(), keys, { mode: 'standard', encoding: 'base32', directoryNameEncryption: true, noDataEncryption: false })],
  ['sub-remote over memory', () => new SubRemote(new MemoryRemote(), 'base')],
] as Array<[string, () => Remote]>) {
  test(`${label}: an aborted write rejects with AbortedError and stores nothing`, async () => {
    const r = make();
    await abortedWrite(r, 'dir/file');
    await assert.rejects(r.stat('dir/file'));
  });

  test(`${label}: an aborted read rejects mid-stream`, async () => {
    const r = make();
    await r.write('big', (async function* () {
      yield Buffer.alloc(300_000, 1);
    })());
    await abortedRead(r, 'big');
  });

  test(`${label}: a listing with a fired signal rejects with AbortedError`, async () => {
    const r = make();
    for (const n of ['a', 'b', 'c']) await r.write(n, (async function* () { yield Buffer.from(n); })());
    const ac = new AbortController();
    const seen: string[] = [];
    const err = await (async () => {
      for await (const e of r.list('', { signal: ac.signal })) {
        seen.push(e.path);
        ac.abort();
      }
    })().catch((e: unknown) => e);
    assert.ok(err instanceof AbortedError, String(err));
    assert.equal(seen.length, 1);
  });

  test(`${label}: an already aborted signal fails the open`, async () => {
    const r = make();
    await r.write('f', (async function* () { yield Buffer.from('x'); })());
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(r.openRead('f', undefined, { signal: ac.signal }), AbortedError);
  });
}

test('local: an aborted write leaves neither the object nor a temporary file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-abort-'));
  try {
    const r = new LocalRemote(dir);
    await r.mkdir('d');
    const before = openFds();
    await abortedWrite(r, 'd/file');
    assert.deepEqual(await readdir(join(dir, 'd')), []);
    assert.equal(openFds(), before, 'the temporary file is closed');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('local: an aborted streamed read closes its fd, also while nobody reads', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-abort-'));
  try {
    await writeFile(join(dir, 'big'), Buffer.alloc(3 * 1024 * 1024, 3));
    const r = new LocalRemote(dir);
    const before = openFds();
    await abortedRead(r, 'big');
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(openFds(), before);

    // Opened, never read, then given up on: the fd goes with the signal.
    const ac = new AbortController();
    await r.openRead('big', undefined, { signal: ac.signal });
    assert.equal(openFds(), before + 1);
    ac.abort();
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(openFds(), before);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('local: a listing stops at the signal', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-abort-'));
  try {
    for (let i = 0; i < 200; i++) await writeFile(join(dir, `f${i}`), '');
    const r = new LocalRemote(dir);
    const before = openFds();
    const ac = new AbortController();
    let n = 0;
    const err = await (async () => {
      for await (const _ of r.list('', { signal: ac.signal })) {
        if (++n === 3) ac.abort();
      }
    })().catch((e: unknown) => e);
    assert.ok(err instanceof AbortedError, String(err));
    // The rest of the 64-entry batch already stat'ed may be handed out; no further batch.
    assert.ok(n <= 64, `${n} entries after abort`);
    await new Promise((res) => setTimeout(res, 20));
    assert.equal(openFds(), before, 'the directory handle is closed');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
