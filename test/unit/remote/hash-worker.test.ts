// Hashing off the main thread (the addon's threads, or Node worker threads): digests equal node's own, with many jobs sharing the threads'
// backlog (senders wait for the shared budget, none is left waiting for ever) and jobs aborted
// midway (their bytes still count until the thread acknowledges them).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { OffThreadHasher, nativeHashThreads } from '../../../src/remote/hash-worker.js';
import { osNative } from '../../../src/os-native.js';
import { runModuleScript } from '../../helpers/module-script.js';

const ALGOS = ['md5', 'sha1', 'sha256'];

async function hashOffThread(chunks: Buffer[], abortAfter?: number): Promise<Record<string, string> | undefined> {
  const h = new OffThreadHasher(ALGOS);
  for (let i = 0; i < chunks.length; i++) {
    if (i === abortAfter) {
      h.abort();
      return undefined;
    }
    await h.update(chunks[i]);
  }
  return h.digests();
}

describe('OffThreadHasher', () => {
  it('gives the digests of createHash, for 12 jobs at once, with some aborted midway', async () => {
    const jobs = Array.from({ length: 12 }, (_, j) =>
      Array.from({ length: 24 }, (_, i) => randomBytes(i % 3 === 0 ? 1024 * 1024 : 1000 + ((i * 7919 + j) % 200_000))),
    );
    const results = await Promise.all(jobs.map((chunks, j) => hashOffThread(chunks, j % 4 === 3 ? 5 : undefined)));
    results.forEach((got, j) => {
      if (j % 4 === 3) return assert.equal(got, undefined);
      for (const a of ALGOS) {
        const want = createHash(a);
        for (const c of jobs[j]) want.update(c);
        assert.equal(got![a], want.digest('hex'), `job ${j} ${a}`);
      }
    });
    // The threads are free again: a job after all that still completes.
    const after = await hashOffThread([Buffer.from('abc')]);
    assert.equal(after!.md5, createHash('md5').update('abc').digest('hex'));
  });

  it('holds at most 4 MiB of copies per thread before a sender waits (each MiB is a buffer of peak memory)', async () => {
    const h = new OffThreadHasher(['md5']);
    const chunk = Buffer.alloc(1024 * 1024, 7);
    let through = 0;
    try {
      const sent = Array.from({ length: 6 }, () => h.update(chunk).then(() => through++));
      // Acknowledgements come as messages (macrotasks): until then only the budget decides.
      for (let i = 0; i < 20; i++) await Promise.resolve();
      assert.equal(through, 4);
      await Promise.all(sent);
      const want = createHash('md5');
      for (let i = 0; i < 6; i++) want.update(chunk);
      assert.equal((await h.digests()).md5, want.digest('hex'));
    } finally {
      h.abort(); // a job left open keeps its thread, and the test process, alive
    }
  });

  it('a chunk the addon refuses (out of memory) fails that update and leaves the backlog bound as it was', { timeout: 20_000 }, async (t) => {
    if (!nativeHashThreads) return t.skip('worker threads in this run (CRYPTFS_HASH_THREADS=worker)');
    const binding = osNative as unknown as { hashSend: (...args: unknown[]) => void };
    const original = binding.hashSend;
    let refusals = 5; // 5 MiB refused: counted as sent, it would hold the 4 MiB backlog bound for good
    binding.hashSend = (...args: unknown[]) => {
      if (args[1] === 1 && refusals > 0) {
        refusals--;
        throw Object.assign(new Error('hashSend: out of memory'), { code: 'ENOMEM' });
      }
      original.apply(binding, args);
    };
    const refused = new OffThreadHasher(['md5']);
    try {
      for (let i = 0; i < 5; i++) await assert.rejects(refused.update(randomBytes(1024 * 1024)), /out of memory/);
    } finally {
      binding.hashSend = original;
      refused.abort();
    }
    const data = randomBytes(6 * 1024 * 1024);
    const h = new OffThreadHasher(['md5']);
    await h.update(data);
    assert.equal((await h.digests()).md5, createHash('md5').update(data).digest('hex'));
  });

  it("runs on the addon's own threads where it is built (not Node worker threads, ~9 MiB each)", () => {
    assert.ok(osNative?.hashInit, 'the native fs addon is built with its hash threads');
    assert.equal(nativeHashThreads, process.env.CRYPTFS_HASH_THREADS !== 'worker');
  });

  it('works in a second copy of the module in the same process (the addon takes one callback: that copy uses workers)', async () => {
    const url = new URL('../../../src/remote/hash-worker.js', import.meta.url).href;
    const second = (await import(`${url}?second-copy`)) as typeof import('../../../src/remote/hash-worker.js');
    const data = randomBytes(2 * 1024 * 1024 + 3);
    for (const Hasher of [OffThreadHasher, second.OffThreadHasher]) {
      const h = new Hasher(['md5', 'sha256']);
      await h.update(data);
      assert.deepEqual(await h.digests(), {
        md5: createHash('md5').update(data).digest('hex'),
        sha256: createHash('sha256').update(data).digest('hex'),
      });
    }
  });

  it('gives the same digests on Node worker threads (an older addon), and lets that process exit', { timeout: 30_000 }, async () => {
    const url = new URL('../../../src/remote/hash-worker.js', import.meta.url).href;
    const script = `const { OffThreadHasher, nativeHashThreads } = await import(${JSON.stringify(url)});
      if (nativeHashThreads) throw new Error('expected worker threads');
      const h = new OffThreadHasher(['md5', 'sha1', 'sha256']);
      for (let i = 0; i < 3; i++) await h.update(Buffer.alloc(1024 * 1024 + i, i));
      const aborted = new OffThreadHasher(['md5']);
      await aborted.update(Buffer.alloc(10, 1));
      aborted.abort();
      console.log(JSON.stringify(await h.digests()));`;
    const { code, stdout: out } = await runModuleScript(script, { CRYPTFS_HASH_THREADS: 'worker' });
    assert.equal(code, 0);
    const got = JSON.parse(out) as Record<string, string>;
    for (const a of ['md5', 'sha1', 'sha256']) {
      const want = createHash(a);
      for (let i = 0; i < 3; i++) want.update(Buffer.alloc(1024 * 1024 + i, i));
      assert.equal(got[a], want.digest('hex'), a);
    }
  });

  it('lets a process that hashed MD5 alone (multipart parts) exit', { timeout: 30_000 }, async () => {
    const url = new URL('../../../src/remote/hash-worker.js', import.meta.url).href;
    const script = `const { OffThreadHasher } = await import(${JSON.stringify(url)});
      const h = new OffThreadHasher(['md5']);
      await h.update(Buffer.alloc(5 * 1024 * 1024, 1));
      console.log((await h.digests()).md5);`;
    const { code, stdout: out } = await runModuleScript(script);
    assert.equal(code, 0);
    assert.equal(out.trim(), createHash('md5').update(Buffer.alloc(5 * 1024 * 1024, 1)).digest('hex'));
  });
});
