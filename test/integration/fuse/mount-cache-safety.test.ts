// "Nothing lost" for the mount's local cache, through real mounts of a crypt
// remote over a local directory, with the real rclone reading the results:
// - two configs that both call their remote `secret:` share a cache root: a
//   killed mount of the one keeps its unsaved file through a mount of the other;
// - kill -9 while a program has a file open for rewriting: the name keeps its
//   saved version, the unsaved bytes come back beside it; the remount answers
//   within 5 s with hundreds of MB pending;
// - 10,000 pending files under `ulimit -n 1024`: every create succeeds and the
//   daemon stays up;
// - a 64 MiB tmpfs cache and a 200 MiB write: ENOSPC for the writer, then the
//   mount recovers by itself once the upload frees the cache.
// The daemon is a child process; file operations run in further child processes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CryptFixture, forceStop, fuseSkipReason, isMounted, sh, startMount, type Mounted } from './mount-helpers.js';
import { rcloneBinary, rcloneSkipReason } from '../../helpers/cli.js';

const skip = fuseSkipReason() ?? rcloneSkipReason();

/** Explicit, whatever the default cache mode is. */
const WRITES = ['--vfs-cache-mode', 'writes'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns true (or fails after `ms`). */
async function until(what: string, probe: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('cryptfs mount: the local cache never loses data', { skip }, () => {
  const fixtures: CryptFixture[] = [];
  let m: Mounted | undefined;
  const fixture = async (label: string) => {
    const fx = await CryptFixture.create(label);
    fixtures.push(fx);
    return fx;
  };
  const checked = async (what: string, script: string, env: Record<string, string>) => {
    const r = await sh(script, env, 600_000);
    assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\nlog: ${(await m?.log())?.slice(-3000)}`);
    return r.stdout;
  };

  after(async () => {
    await forceStop(m);
    // A mount left stale by a failed test: only our own mount points, lazily.
    for (const fx of fixtures) await sh('fusermount3 -u -z "$R/mnt" 2>/dev/null || true', { R: fx.root });
    for (const fx of fixtures) await fx.cleanup();
  });

  it('two configs that both name their remote secret: never share or delete each other\'s cache', async () => {
    const a = await fixture('coll-a');
    const b = await fixture('coll-b');
    const M = join(a.root, 'mnt');
    const env = { M };
    m = await startMount(a, M, [...WRITES, '--vfs-write-back', '1h']);
    await checked('write through A', 'printf "unsaved in A" > "$M/a.txt"', env);
    m.child.kill('SIGKILL');
    await m.exited;
    assert.equal((await a.rclone('lsf secret:')).stdout, '', 'not uploaded before the kill');
    // Same cache root, same remote name, another definition (other directory, other passwords).
    m = await startMount(a, M, WRITES, { config: b.config });
    await checked('write through B', 'printf "from B" > "$M/b.txt"', env);
    assert.equal(await m.unmount(), 0, await m.log());
    // A again: its unsaved file is still there and goes up now.
    m = await startMount(a, M, WRITES);
    await until('a.txt on A', async () => (await a.rclone('lsf secret:')).stdout.includes('a.txt'));
    assert.equal(await m.unmount(), 0, await m.log());
    m = undefined;
    assert.equal((await a.rclone('cat secret:a.txt')).stdout, 'unsaved in A');
    assert.equal((await b.rclone('lsf secret:')).stdout, 'b.txt\n', "B's remote holds only B's file");
  });

  it('kill -9 during an open rewrite: the old version stays under the name, the unsaved bytes beside it; the remount answers within 5 s with 8,000 files pending', async () => {
    const fx = await fixture('rewrite');
    const M = join(fx.root, 'mnt');
    const T = fx.root;
    const env = { M, T, RCLONE: rcloneBinary(), CONF: fx.config };
    await checked('saved version', 'printf "version one\\n" | "$RCLONE" --config "$CONF" rcat secret:doc.txt', env);
    m = await startMount(fx, M, [...WRITES, '--vfs-write-back', '1h']);
    // Closed but not yet uploaded: these go up under their names after the crash.
    await checked(
      'pending files',
      'for i in 1 2; do head -c 100M /dev/urandom > "$T/big$i.src"; cp "$T/big$i.src" "$M/big$i.bin"; done\n' +
        'mkdir "$M/small"; for i in $(seq 1 8000); do printf "%d\\n" "$i" > "$M/small/f$i"; done',
      env,
    );
    // A program holds doc.txt open for writing, half-way through a rewrite, when the daemon dies.
    await checked(
      'open rewrite',
      '(exec 3<>"$M/doc.txt"; printf "VERSION TWO, half" >&3; echo $BASHPID > "$T/writer.pid"; exec sleep 600) >/dev/null 2>&1 &\n' +
        'for i in $(seq 100); do [ -s "$T/writer.pid" ] && break; sleep 0.1; done; [ -s "$T/writer.pid" ]',
      env,
    );
    m.child.kill('SIGKILL');
    await m.exited;
    await sh('kill -9 "$(cat "$T/writer.pid")"', env);
    const t0 = Date.now();
    m = await startMount(fx, M, [...WRITES, '--vfs-write-back', '1h']);
    await checked('first answer', 'ls "$M" > /dev/null && cat "$M/doc.txt" > /dev/null', env);
    const answerMs = Date.now() - t0;
    console.log(`# remount with 200 MB in 2 files and 8,000 small files pending answered in ${answerMs} ms`);
    assert.ok(answerMs < 5000, `the remount answered after ${answerMs} ms`);
    await until('recovered files on the remote', async () => {
      const names = (await fx.rclone('lsf secret:')).stdout;
      return names.includes('big1.bin') && names.includes('big2.bin') && /doc\.txt\.cryptfs-recovered-/.test(names);
    }, 180_000);
    await until('the small files on the remote', async () => (await fx.rclone('lsf secret:small')).stdout.split('\n').length > 8000, 180_000);
    assert.equal(await m.unmount(), 0, await m.log());
    m = undefined;
    assert.equal((await fx.rclone('cat secret:doc.txt')).stdout, 'version one\n', 'the saved version stays');
    const side = (await fx.rclone('lsf secret:')).stdout.split('\n').find((n) => n.startsWith('doc.txt.cryptfs-recovered-'))!;
    assert.match(side, /^doc\.txt\.cryptfs-recovered-\d{8}T\d{6}$/);
    assert.equal((await fx.rclone(`cat "secret:${side}"`)).stdout, 'VERSION TWO, half', 'the unsaved bytes are beside it');
    assert.equal((await fx.rclone('cat secret:small/f4321')).stdout, '4321\n');
    for (const i of [1, 2]) {
      await checked(`big${i}`, `"$RCLONE" --config "$CONF" cat secret:big${i}.bin | cmp - "$T/big${i}.src"`, env);
    }
    assert.match(await readLog(fx), /doc\.txt: was open for writing when cryptfs stopped/);
  });

  it('10,000 pending files under ulimit -n 1024: every create succeeds and the daemon stays up', async () => {
    const fx = await fixture('fds');
    const M = join(fx.root, 'mnt');
    const env = { M };
    m = await startMount(fx, M, [...WRITES, '--vfs-write-back', '1h'], { openFileLimit: 1024 });
    await checked(
      '10,000 creates',
      'mkdir "$M/many"; for i in $(seq 1 10000); do printf "file %d\\n" "$i" > "$M/many/f$i"; done',
      env,
    );
    assert.equal(m.child.exitCode, null, 'the daemon is still running');
    assert.equal(await isMounted(M), true);
    assert.equal((await sh('ls "$M/many" | wc -l', env)).stdout.trim(), '10000');
    assert.equal(await m.unmount(), 0, await m.log());
    assert.doesNotMatch(m.stderr(), /Closing file descriptor .* on garbage collection/);
    assert.doesNotMatch(await m.log(), /EMFILE|too many open files/i);
    m = undefined;
    const listed = (await fx.rclone('lsf secret:many')).stdout.split('\n').filter((l) => l !== '');
    assert.equal(listed.length, 10000);
    for (const i of [1, 1024, 5000, 10000]) assert.equal((await fx.rclone(`cat secret:many/f${i}`)).stdout, `file ${i}\n`);
  });

  it('a 64 MiB tmpfs cache and a 200 MiB write: ENOSPC for the writer, then the mount recovers by itself', async () => {
    assert.equal(process.getuid?.(), 0, 'this test mounts a tmpfs and needs root');
    const fx = await fixture('enospc');
    const M = join(fx.root, 'mnt');
    const T = fx.root;
    const cache = join(fx.root, 'tmpfs-cache');
    await mkdir(cache);
    const env = { M, T, C: cache, RCLONE: rcloneBinary(), CONF: fx.config };
    await checked('tmpfs', 'mount -t tmpfs -o size=64m,mode=0700 cryptfs-test-cache "$C"', env);
    try {
      m = await startMount(fx, M, [...WRITES, '--vfs-write-back', '1s'], { cacheRoot: cache });
      await checked('sources', 'head -c 200M /dev/urandom > "$T/big.src"; head -c 20M /dev/urandom > "$T/small.src"', env);
      const dd = await sh('dd if="$T/big.src" of="$M/big.bin" bs=1M', env, 300_000);
      assert.notEqual(dd.code, 0, 'a 200 MiB write into a 64 MiB cache cannot succeed');
      assert.match(dd.stderr, /No space left on device/);
      // The partial file goes up after the write-back delay and frees the cache.
      await until('big.bin uploaded', async () => (await fx.rclone('lsf secret:')).stdout.includes('big.bin'), 120_000);
      await until('the cache emptied', async () => {
        const used = Number((await sh('du -sk "$C" | cut -f1', env)).stdout.trim());
        return used < 8 * 1024;
      });
      await checked('a write after the mount recovered', 'cp "$T/small.src" "$M/small.bin"', env);
      assert.equal(await m.unmount(), 0, await m.log());
      const log = await m.log();
      m = undefined;
      assert.doesNotMatch(log, /is truncated|failed authentication/);
      await checked('small.bin', '"$RCLONE" --config "$CONF" cat secret:small.bin | cmp - "$T/small.src"', env);
      // What the writer got acknowledged is what the remote holds: a prefix of the source.
      const size = Number((await sh('"$RCLONE" --config "$CONF" size --json secret:big.bin', env)).stdout.match(/"bytes":(\d+)/)![1]);
      assert.ok(size > 0 && size < 200 * 1024 * 1024, `big.bin has ${size} bytes`);
      await checked('big.bin prefix', `"$RCLONE" --config "$CONF" cat secret:big.bin | cmp - <(head -c ${size} "$T/big.src")`, env);
    } finally {
      await forceStop(m);
      m = undefined;
      await sh('umount "$C"', env);
    }
  });
});

/** Every log file of the fixture's mounts. */
async function readLog(fx: CryptFixture): Promise<string> {
  const r = await sh('cat "$R"/mount-*.log', { R: fx.root });
  return r.stdout;
}
