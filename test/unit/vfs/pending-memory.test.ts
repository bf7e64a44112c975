// Files waiting for their upload (--vfs-cache-mode writes, a long write-back delay) must not hold
// plaintext blocks in memory once closed: a mount with 10,000 such files held 64 KiB each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Vfs } from '../../../src/vfs/vfs.js';
import { MemoryRemote } from '../../../src/remote/memory.js';
import { CryptRemote } from '../../../src/remote/crypt.js';
import { deriveKeys } from '../../../src/crypt/keys.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('closed files pending upload keep no plaintext blocks in memory', async () => {
  const keys = await deriveKeys('pending-memory', 'salt');
  const remote = new CryptRemote(new MemoryRemote(), keys, {
    mode: 'standard',
    encoding: 'base32',
    directoryNameEncryption: true,
    noDataEncryption: false,
  });
  const cacheDir = await mkdtemp(join(tmpdir(), 'cryptfs-pending-'));
  const vfs = await Vfs.create(remote, { cacheMode: 'writes', cacheDir, writeBackMs: 3_600_000 });
  try {
    const files = 400;
    gc();
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < files; i++) {
      const h = await vfs.open(`f${i}`, { read: false, write: true, create: true, truncate: true });
      // Two writes into one block: the second is a partial-block update, the path that keeps a block hot.
      await h.write(Buffer.alloc(700, i), 0);
      await h.write(Buffer.alloc(300, i + 1), 700);
      await h.flush();
      await h.release();
    }
    // Held blocks would be 400 × 64 KiB = 25.6 MB; what is left per file is bookkeeping. V8 may free
    // the backing stores of dead buffers on a background thread after gc(): look again for a while
    // (blocks still referenced never go, however long this waits).
    const limit = files * 8 * 1024;
    let grown = Infinity;
    for (const deadline = Date.now() + 5000; Date.now() < deadline; ) {
      gc();
      grown = process.memoryUsage().arrayBuffers - before;
      if (grown < limit) break;
      await new Promise((resolve) => setTimeout(resolve, 20)); // a deadline loop, not a synchronisation
    }
    assert.ok(grown < limit, `array buffers grew ${(grown / 1e6).toFixed(1)} MB for ${files} closed files`);
    assert.equal((await vfs.stat('f7')).size, 1000);
    const h = await vfs.open('f7', { read: true, write: false });
    assert.deepEqual(await h.read(0, 1000), Buffer.concat([Buffer.alloc(700, 7), Buffer.alloc(300, 8)]));
    await h.release();
  } finally {
    await vfs.close();
    await rm(cacheDir, { recursive: true, force: true });
  }
});
