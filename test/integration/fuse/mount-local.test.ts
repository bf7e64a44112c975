// `cryptfs mount` through the kernel, on a crypt remote over a local directory:
// the workloads of mount-workloads.ts (git, sqlite3, tar, mv, random writes,
// rm -r, rclone reads back); a daemon killed with SIGKILL right after a write
// returned; a unique marker that must reach no local file in --vfs-cache-mode
// full; --daemon and SIGTERM; --read-only. The daemon is a child process; all
// file operations run in further child processes, never in this test's event loop.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CryptFixture, forceStop, fuseSkipReason, isMounted, sh, startMount, type Mounted, processAlive } from './mount-helpers.js';
import { workloadSuite } from './mount-workloads.js';
import { cryptfsMain, rcloneSkipReason } from '../../helpers/cli.js';
import { requireTool } from '../../helpers/require-tool.js';
import { pollUntil } from '../../helpers/poll.js';

const skip = fuseSkipReason() ?? rcloneSkipReason();

workloadSuite('cryptfs mount on crypt over local (--vfs-cache-mode writes)', () => CryptFixture.create('local'), {
  skip,
  local: true,
});

describe('cryptfs mount: crash, marker, read-only', { skip }, () => {
  let fx: CryptFixture;
  let m: Mounted | undefined;
  let M: string;
  const run = (script: string, env: Record<string, string> = {}) => sh(script, { M, T: fx.root, ...env });
  const ok = async (script: string, env: Record<string, string> = {}) => {
    const r = await run(script, env);
    assert.equal(r.code, 0, `script failed (${r.code}):\n${script}\n${r.stderr}\nlog: ${(await m?.log())?.slice(-3000)}`);
    return r.stdout;
  };

  before(async () => {
    fx = await CryptFixture.create('crash');
    M = join(fx.root, `mnt-${randomBytes(4).toString('hex')}`);
  });

  // A test that failed midway leaves its mount: stopped here, so the next test can mount at M.
  afterEach(async () => {
    await forceStop(m);
    m = undefined;
  });

  after(async () => {
    await forceStop(m);
    await fx?.cleanup();
  });

  it('kill -9 of the daemon right after a write returned: the next mount uploads the data', async () => {
    m = await startMount(fx, M, ['--vfs-cache-mode', 'writes', '--vfs-write-back', '1h']);
    await ok('head -c 3000000 /dev/urandom > "$T/killed.src" && echo "small" > "$M/first.txt"');
    // The write returned (dd exited); the upload is an hour away when the daemon dies.
    await ok('dd if="$T/killed.src" of="$M/killed.bin" bs=64k status=none && printf "appended" >> "$M/first.txt"');
    // The kernel sends a closed file's RELEASE after close() has returned; until the daemon has
    // journaled it, the file counts as still open for writing, and recovery would rightly keep its
    // contents aside under a side name. Creating a file journals behind those records (one
    // chain, in order) and answers only once its own record is written: past it, both are.
    await ok(': > "$M/barrier"');
    m.child.kill('SIGKILL');
    assert.equal(await m.exited, 'SIGKILL');
    const stale = await run('stat "$M"');
    assert.match(stale.stderr, /Transport endpoint is not connected/);
    assert.equal((await fx.rclone('lsf secret:')).stdout, '', 'nothing was uploaded before the kill');
    // The new mount clears the stale one and re-uploads what the journal lists.
    m = await startMount(fx, M, ['--vfs-cache-mode', 'writes']);
    await pollUntil(
      'the journaled files re-uploaded (rclone lsf secret: lists killed.bin and first.txt)',
      async () => {
        const names = (await fx.rclone('lsf secret:')).stdout.split('\n');
        return names.includes('killed.bin') && names.includes('first.txt');
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    assert.equal((await fx.rclone('cat secret:first.txt')).stdout, 'small\nappended');
    await ok(`"${process.env.RCLONE_BIN || 'rclone'}" --config "${fx.config}" cat secret:killed.bin | cmp - "$T/killed.src"`);
    await ok('cmp "$T/killed.src" "$M/killed.bin"');
    assert.equal(await m.unmount(), 0, await m.log());
    m = undefined;
  });

  const marker = `MARKER-${randomBytes(16).toString('hex')}`;

  it('--vfs-cache-mode full: a unique marker written through the mount reaches no local file', async () => {
    await writeFile(join(fx.root, 'scan-start'), '');
    await new Promise((r) => setTimeout(r, 20));
    m = await startMount(fx, M, ['--vfs-cache-mode', 'full', '--vfs-write-back', '1h']);
    // Small and multi-block files, rewritten in the middle; all still dirty in the cache while we look.
    await ok(
      `printf '%s' "$MARKER" > "$M/marker.txt"
       for i in $(seq 1 40000); do printf '%s\\n' "$MARKER"; done | cat > "$M/marker-big.txt"
       printf '%s' "$MARKER" | dd of="$M/marker-big.txt" bs=1 seek=100000 conv=notrunc status=none
       cat "$M/marker.txt" "$M/marker-big.txt" | grep -c "$MARKER"`,
      { MARKER: marker },
    );
    // Every file written since the test began anywhere under /tmp, /var/tmp and ~/.cache, and
    // everything in the cache and remote directories (not the mount itself).
    const scan = async (paths: string[]) => {
      const r = await run(
        `{ find /tmp /var/tmp "\${HOME:-/root}/.cache" -xdev -type f -newer "$T/scan-start" -not -path "$M/*" -print0 2>/dev/null
           find ${paths.map((p) => `"${p}"`).join(' ')} -xdev -type f -not -path "$M/*" -print0 2>/dev/null; } |
         xargs -0 -r grep -lF --binary-files=text -e "$MARKER" 2>/dev/null || true`,
        { MARKER: marker },
      );
      return r.stdout.split('\n').filter(Boolean);
    };
    // The scan finds the marker where it is (a control file), and nowhere else.
    await writeFile(join(fx.root, 'control.txt'), `x${marker}x`);
    assert.deepEqual(await scan([fx.cacheRoot, fx.remoteDir]), [join(fx.root, 'control.txt')]);
    await rm(join(fx.root, 'control.txt'));
    assert.deepEqual(await scan([fx.cacheRoot, fx.remoteDir]), []);
    assert.equal(await m.unmount(), 0, await m.log());
    m = undefined;
    assert.deepEqual(await scan([fx.root]), [], 'nor after the unmount');
    const back = await fx.rclone('cat secret:marker.txt');
    assert.equal(back.stdout, marker);
  });

  it('--daemon returns once mounted; SIGTERM uploads the dirty files, unmounts and exits 0', async () => {
    const logFile = join(fx.root, 'daemon.log');
    const started = await sh(
      `"${process.execPath}" "${cryptfsMain()}" --config "${fx.config}" mount secret: "$M" --daemon -v --log-file "${logFile}" ` +
        `--cache-dir "${fx.cacheRoot}" --vfs-cache-mode writes --vfs-write-back 1h`,
      { M },
    );
    assert.equal(started.code, 0, started.stderr);
    assert.ok(await isMounted(M), 'mounted when --daemon returns');
    const pid = Number(/mount daemon running as process (\d+)/.exec(await readFile(logFile, 'utf8'))?.[1]);
    assert.ok(pid > 0);
    await ok('head -c 1000000 /dev/urandom > "$T/term.src" && cp "$T/term.src" "$M/term.bin"');
    assert.doesNotMatch((await fx.rclone('lsf secret:')).stdout, /term\.bin/, 'upload is an hour away');
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 200 && (await isMounted(M)); i++) await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 200 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(processAlive(pid), false, 'exited');
    assert.equal(await isMounted(M), false);
    await ok(`"${process.env.RCLONE_BIN || 'rclone'}" --config "${fx.config}" cat secret:term.bin | cmp - "$T/term.src"`);
    assert.match(await readFile(logFile, 'utf8'), /SIGTERM received/);
  });

  it('a full cache disk answers ENOSPC', async (t) => {
    const small = join(fx.root, 'small-cache');
    const made = await sh(`mkdir -p "${small}" && mount -t tmpfs -o size=1m,mode=0700 tmpfs "${small}"`);
    // Fails here (or skips under --allow-skip) when a tmpfs cannot be mounted (not root).
    const noTmpfs = requireTool('tmpfs mount (root)', made.code === 0, made.stderr.trim());
    if (noTmpfs) {
      t.skip(noTmpfs);
      return;
    }
    try {
      m = await startMount(fx, M, ['--vfs-cache-mode', 'writes', '--vfs-write-back', '1h', '--cache-dir', small]);
      const r = await run('dd if=/dev/zero of="$M/too-big.bin" bs=64k count=64 status=none');
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /No space left on device/);
      await run('rm -f "$M/too-big.bin"');
      assert.equal(await m.unmount(), 0, await m.log());
      m = undefined;
    } finally {
      await forceStop(m);
      m = undefined;
      await sh(`umount "${small}"`);
    }
  });

  it('--read-only: changes fail with EROFS, reads work', async () => {
    m = await startMount(fx, M, ['--read-only']);
    assert.equal(await ok('cat "$M/marker.txt"'), marker);
    const touch = await run('touch "$M/new-file"');
    assert.notEqual(touch.code, 0);
    assert.match(touch.stderr, /Read-only file system/);
    assert.equal(await m.unmount(), 0);
    m = undefined;
  });
});

