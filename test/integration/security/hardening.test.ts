// A crashing cryptfs leaves no core file: every process sets RLIMIT_CORE 0 and
// PR_SET_DUMPABLE 0 at start (native helper), before any key exists. Checked
// on a mount daemon and on a CLI command, both started under `ulimit -c
// unlimited` in a directory of their own, then killed with SIGABRT (whose
// default action dumps core; this machine's core_pattern writes `core` files
// into the process's working directory, which the test checks first).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CryptFixture, fuseSkipReason, isMounted, sh } from '../fuse/mount-helpers.js';
import { cryptfsMain, scrubbedEnv } from '../../helpers/cli.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts `cryptfs ARGS` under `ulimit -c unlimited` in `cwd`; stdin from a pipe kept open. */
function startUnlimited(cwd: string, args: string[]) {
  const child = spawn('bash', ['-c', 'ulimit -c unlimited && exec "$0" "$@"', process.execPath, cryptfsMain(), ...args], {
    cwd,
    stdio: ['pipe', 'ignore', 'pipe'],
    env: scrubbedEnv(),
  });
  const exited = new Promise<string | number>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code ?? -1)));
  return { child, exited };
}

async function coreLimit(pid: number): Promise<string> {
  const limits = await readFile(`/proc/${pid}/limits`, 'utf8');
  return limits.split('\n').find((l) => l.startsWith('Max core file size'))!.replace(/\s+/g, ' ');
}

describe('process hardening: no core dumps', () => {
  let fx: CryptFixture | undefined;
  after(async () => {
    if (fx) await sh('fusermount3 -u -z "$R/mnt" 2>/dev/null || true', { R: fx.root });
    await fx?.cleanup();
  });

  it('this machine writes core files into the working directory (so their absence means something)', async () => {
    assert.equal((await readFile('/proc/sys/kernel/core_pattern', 'utf8')).trim(), 'core');
  });

  it('a CLI command killed with SIGABRT under ulimit -c unlimited leaves no core', async () => {
    fx = await CryptFixture.create('harden');
    const dir = join(fx.root, 'cli-cwd');
    await mkdir(dir);
    const { child, exited } = startUnlimited(dir, ['--config', fx.config, 'rcat', 'secret:waiting.txt']);
    // Hardening comes first (before any password is read): wait for it however slow the start is
    // on a loaded machine. The abort should come once the keys are in memory (scrypt runs from the
    // start, ~0.1 s; rcat then waits for stdin), which shows nowhere to poll for: a short pause
    // more. The assertions hold however early it comes.
    const deadline = Date.now() + 20_000;
    try {
      while (!/^Max core file size 0 0 bytes/.test(await coreLimit(child.pid!))) {
        assert.ok(Date.now() < deadline, `not hardened: ${await coreLimit(child.pid!)}`);
        await sleep(50);
      }
    } catch (err) {
      child.kill('SIGKILL'); // it waits on stdin: left running, it would keep the test file alive
      throw err;
    }
    await sleep(500);
    child.kill('SIGABRT');
    assert.equal(await exited, 'SIGABRT');
    assert.deepEqual(await readdir(dir), []);
  });

  it('a mount daemon killed with SIGABRT under ulimit -c unlimited leaves no core', async (t) => {
    const noFuse = fuseSkipReason(); // fails the test without FUSE, unless --allow-skip
    if (noFuse) return t.skip(noFuse);
    fx ??= await CryptFixture.create('harden');
    const dir = join(fx.root, 'daemon-cwd');
    const M = join(fx.root, 'mnt');
    await mkdir(dir);
    await mkdir(M);
    const { child, exited } = startUnlimited(dir, [
      '--config', fx.config, 'mount', 'secret:', M, '--cache-dir', join(fx.root, 'cache'),
    ]);
    const deadline = Date.now() + 20_000;
    while (!(await isMounted(M))) {
      assert.ok(Date.now() < deadline, 'the mount came up');
      await sleep(50);
    }
    assert.match(await coreLimit(child.pid!), /^Max core file size 0 0 bytes/);
    child.kill('SIGABRT');
    assert.equal(await exited, 'SIGABRT');
    assert.deepEqual(await readdir(dir), []);
  });
});
