// file-hasher.ts: whole local files hashed off the main thread, by the addon's hashFile (a
// thread-pool job per file) where it is built, else on Node worker threads; both give node:crypto's
// digests and Node-style errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashFileOffThread, nativeFileHashing } from '../../../src/remote/file-hasher.js';
import { osNative } from '../../../src/os-native.js';
import { runModuleScript } from '../../helpers/module-script.js';

const ALGORITHMS = ['md5', 'sha1', 'sha256'] as const;

/** Threads of this process (Node worker threads add several each). */
const threadCount = (): number => readdirSync('/proc/self/task').length;

describe('file hasher', () => {
  it("hashes on the addon's thread-pool jobs where it is built, with node:crypto's digests, adding no thread", async () => {
    assert.ok(osNative?.hashFile, 'the native fs addon is built with hashFile');
    assert.equal(nativeFileHashing, process.env.CRYPTFS_HASH_THREADS !== 'worker');
    const dir = mkdtempSync(join(tmpdir(), 'cryptfs-file-hasher-'));
    try {
      const files = { empty: Buffer.alloc(0), odd: randomBytes(3 * 1024 * 1024 + 17), block: randomBytes(256 * 1024) };
      for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
      await hashFileOffThread(join(dir, 'empty'), 'md5'); // the thread pool started, if it was not
      const before = threadCount();
      // More files than run at once: the rest wait for a slot.
      const jobs = [];
      for (const algorithm of ALGORITHMS) {
        for (const [name, data] of Object.entries(files)) {
          jobs.push(
            hashFileOffThread(join(dir, name), algorithm).then((hex) =>
              assert.equal(hex, createHash(algorithm).update(data).digest('hex'), `${algorithm} ${name}`),
            ),
          );
        }
      }
      await Promise.all(jobs);
      if (nativeFileHashing) assert.equal(threadCount(), before, 'no worker thread was started');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects as Node does: ENOENT from open, EISDIR from read, with the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cryptfs-file-hasher-'));
    try {
      await assert.rejects(hashFileOffThread(join(dir, 'missing'), 'sha256'), (err: NodeJS.ErrnoException) => {
        assert.equal(err.code, 'ENOENT');
        assert.equal(err.syscall, 'open');
        assert.equal(err.path, join(dir, 'missing'));
        return true;
      });
      await assert.rejects(hashFileOffThread(dir, 'md5'), (err: NodeJS.ErrnoException) => {
        assert.equal(err.code, 'EISDIR');
        assert.equal(err.syscall, 'read');
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives the same digests on Node worker threads (an older addon), and lets that process exit', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cryptfs-file-hasher-'));
    try {
      const data = randomBytes(2 * 1024 * 1024 + 5);
      const target = join(dir, 'data.bin');
      writeFileSync(target, data);
      const url = new URL('../../../src/remote/file-hasher.js', import.meta.url).href;
      const script = `const { hashFileOffThread, nativeFileHashing } = await import(${JSON.stringify(url)});
        if (nativeFileHashing) throw new Error('expected worker threads');
        const out = {};
        for (const a of ['md5', 'sha1', 'sha256']) out[a] = await hashFileOffThread(${JSON.stringify(target)}, a);
        console.log(JSON.stringify(out));`;
      const { code, stdout: out } = await runModuleScript(script, { CRYPTFS_HASH_THREADS: 'worker' });
      assert.equal(code, 0);
      const got = JSON.parse(out) as Record<string, string>;
      for (const a of ALGORITHMS) assert.equal(got[a], createHash(a).update(data).digest('hex'), a);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
