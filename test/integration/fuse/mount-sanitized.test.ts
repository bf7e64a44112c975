// The FUSE addon built with sanitizers (scripts/build-sanitized-addon.sh) under
// a real `cryptfs mount` on crypt over a local directory: a short workload
// touching every kind of request the binding marshals (names, handles,
// payloads, setattr, readdirplus, forgets, bad names, many requests in flight
// from the loop thread to the JS thread), then an unmount. Once with
// AddressSanitizer + UBSan (a report aborts the daemon), once with
// ThreadSanitizer (reports go to the daemon's stderr); both must stay silent.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CryptFixture, forceStop, fuseSkipReason, sh, startMount, type Mounted } from './mount-helpers.js';
import { requireTool } from '../../helpers/require-tool.js';

const repoRoot = resolve(import.meta.dirname, '..', '..', '..', '..');

/** A gcc sanitizer runtime (libasan.so, libtsan.so), or undefined without gcc or the library. */
function gccRuntime(library: string): string | undefined {
  const r = spawnSync('gcc', [`-print-file-name=${library}`], { encoding: 'utf8' });
  const path = r.status === 0 ? r.stdout.trim() : '';
  return path.startsWith('/') && existsSync(path) ? path : undefined;
}

const libasan = gccRuntime('libasan.so');
const libtsan = gccRuntime('libtsan.so');
const skip =
  fuseSkipReason() ??
  requireTool('gcc with AddressSanitizer and ThreadSanitizer', libasan !== undefined && libtsan !== undefined);

function buildSanitizedAddon(kind: 'address' | 'thread'): Promise<string> {
  return new Promise((resolveBuild, reject) => {
    const script = join(repoRoot, 'scripts', 'build-sanitized-addon.sh');
    execFile('bash', [script, kind], { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`build-sanitized-addon.sh ${kind} failed: ${stderr}`, { cause: err }));
      else resolveBuild(join(repoRoot, stdout.trim()));
    });
  });
}

// Requests that may legitimately fail here (ops being added, kernel-dependent
// ones) still travel through the binding both ways: their result is not the point.
const workload = `
  cd "$M"
  head -c 3000000 /dev/urandom > "$T/src"
  dd if="$T/src" of=f bs=64k status=none conv=fsync
  cmp "$T/src" f
  for i in 1 2 3 4; do cat f > /dev/null & done; wait
  mkdir -p d/e
  for i in $(seq 1 40); do echo "$i" > "d/e/n$i" & done; wait
  ls -la d/e > /dev/null
  mv d/e/n1 d/e/m1
  mv -T d/e/m1 d/e/n2
  truncate -s 1000 f
  truncate -s 5000 f
  touch -d '2001-02-03 04:05:06.123456789' f
  chmod 600 f
  stat f > /dev/null
  test -r f && test -w f
  df . > /dev/null
  python3 -c 'import os; fd = os.open("d", os.O_RDONLY); os.fsync(fd); os.close(fd)' || true
  ln -s f link 2>/dev/null && readlink link > /dev/null || true
  ln f hard 2>/dev/null || true
  mkfifo p && mknod c c 1 3 2>/dev/null || true
  fallocate -l 10000 f 2>/dev/null || true
  ! touch "$(printf 'bad\\xffname')" 2>/dev/null
  ! cat nonexistent 2>/dev/null
  sync; echo 2 > /proc/sys/vm/drop_caches
  ls -lR . > /dev/null
  rm -r d
  rm -f f link hard p c
  ls -la
`;

const sanitizers = [
  {
    kind: 'address' as const,
    name: 'AddressSanitizer and UBSan',
    runtime: libasan,
    // V8 keeps its memory to the end: leaks are not what this looks for.
    options: { ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1', UBSAN_OPTIONS: 'print_stacktrace=1' },
    report: /AddressSanitizer|runtime error|UndefinedBehaviorSanitizer/,
  },
  {
    kind: 'thread' as const,
    name: 'ThreadSanitizer',
    runtime: libtsan,
    options: { TSAN_OPTIONS: `suppressions=${join(repoRoot, 'native', 'tsan.supp')}:history_size=2` },
    report: /ThreadSanitizer/,
  },
];

for (const sanitizer of sanitizers) {
  describe(`FUSE addon under ${sanitizer.name}`, { skip }, () => {
    let fx: CryptFixture;
    let m: Mounted | undefined;
    let addon: string;

    before(async () => {
      addon = await buildSanitizedAddon(sanitizer.kind);
      fx = await CryptFixture.create(`sanitized-${sanitizer.kind}`);
    });

    after(async () => {
      await forceStop(m);
      await fx?.cleanup();
    });

    it('serves a mount workload with no sanitizer report, and unmounts cleanly', async () => {
      const mountpoint = join(fx.root, 'mnt');
      m = await startMount(fx, mountpoint, ['--vfs-cache-mode', 'writes', '--vfs-write-back', '0s'], {
        env: { LD_PRELOAD: sanitizer.runtime!, CRYPTFS_FUSE_ADDON: addon, ...sanitizer.options },
        // Node starts slowly with every allocation intercepted.
        upTimeoutMs: 60_000,
      });
      // The daemon really runs the instrumented addon with the runtime loaded.
      const maps = await readFile(`/proc/${m.child.pid}/maps`, 'utf8');
      assert.ok(maps.includes(addon), 'the daemon did not load the sanitized addon');
      // gcc names the runtime through a symlink; the maps show the file itself.
      assert.ok(maps.includes(realpathSync(sanitizer.runtime!)), 'the daemon runs without the sanitizer runtime');

      const r = await sh(workload, { M: mountpoint, T: fx.root });
      assert.equal(r.code, 0, `workload failed:\n${r.stderr}\n${m.stderr()}`);
      const code = await m.unmount();
      const report = m.stderr();
      assert.doesNotMatch(report, sanitizer.report, report);
      assert.equal(code, 0, `daemon exited ${code}:\n${report}\n${(await m.log()).slice(-3000)}`);
    });
  });
}
