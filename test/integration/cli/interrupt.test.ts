// Ctrl-C (or SIGTERM) during a copy: the command's AbortController ends the transfer in flight,
// the destination is left with neither the file nor a temporary file, and the exit status is
// rclone's (128 + the signal's number: SIGINT 130, SIGTERM 143).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cryptfsMain, scrubbedEnv } from '../../helpers/cli.js';

for (const [signal, status, words] of [
  ['SIGINT', 130, 'interrupt'],
  ['SIGTERM', 143, 'terminated'],
] as const) test(`${signal} during copy aborts the transfer, leaves nothing behind and exits ${status}`, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cryptfs-interrupt-'));
  try {
    const src = join(dir, 'src');
    const dst = join(dir, 'dst');
    await rm(src, { force: true });
    await import('node:fs/promises').then((f) => Promise.all([f.mkdir(src), f.mkdir(dst)]));
    await writeFile(join(src, 'big'), Buffer.alloc(16 * 1024 * 1024, 5));
    await writeFile(join(dir, 'empty.conf'), '');
    // --bwlimit keeps the transfer running (16 MiB at 1 MiB/s) long enough to interrupt it.
    const child = spawn(process.execPath, [cryptfsMain(), '--config', join(dir, 'empty.conf'), 'copy', src, dst, '--bwlimit', '1M', '-v'], {
      env: scrubbedEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Wait for the transfer to be under way: its temporary file exists.
    const t0 = Date.now();
    for (;;) {
      const names = await readdir(dst);
      if (names.some((n) => n.startsWith('.cryptfs-partial-'))) break;
      assert.ok(Date.now() - t0 < 20_000, `the copy did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const sent = Date.now();
    child.kill(signal);
    const code = await exited;
    assert.equal(code, status, stderr);
    assert.match(stderr, new RegExp(`INFO  : Signal received: ${words}`));
    // Well inside the 10 s grace period: the transfer itself stopped.
    assert.ok(Date.now() - sent < 5000, `took ${Date.now() - sent} ms to stop`);
    assert.deepEqual(await readdir(dst), []);
    assert.doesNotMatch(stderr, /Failed to copy/);
    // No final stats block (-v shows them on a finished copy), as rclone exits from its handler.
    assert.doesNotMatch(stderr, /Transferred:/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
