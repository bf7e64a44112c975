// pjdfstest (test/third_party/pjdfstest, built by scripts/build-third-party.sh) against a
// real `cryptfs mount` of crypt over a local directory, in cache mode `writes` with
// --allow-other (so default_permissions: the kernel checks modes), run as root from inside
// the mount. Every case must pass except those in pjdfstest-expected-failures.txt, and a
// listed case that passes fails the run too (the list only shrinks; after a run,
// scripts/pjdfstest-shrink-list.mjs removes what passed). Prints a table of passed/total
// per directory. Each file's TAP is kept in .tmp/pjdfstest-tap/.
//
// Each test file runs in its own child `sh` with its own working directory on the mount;
// PJDFSTEST_JOBS files run at once (default 2).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CryptFixture, forceStop, fuseSkipReason, sh, startMount, type Mounted } from '../fuse/mount-helpers.js';
import { repoRoot } from '../../helpers/cli.js';
import { commandRuns, requireTool } from '../../helpers/require-tool.js';
import {
  judge,
  parseExpectedList,
  parseTap,
  verdictProblems,
  type ExpectedFailure,
  type FileResult,
} from '../../helpers/pjdfstest-results.js';

const root = repoRoot();
const sourceTests = join(root, 'test', 'third_party', 'pjdfstest', 'tests');
/** The built copy: pjdfstest finds its binary by walking up from the test script. */
const builtDir = join(root, '.tmp', 'third_party', 'pjdfstest');
const listFile = join(root, 'test', 'integration', 'posix', 'pjdfstest-expected-failures.txt');
/** Each file's raw TAP lands here (e.g. open-00.t.tap), to read after a failing run. */
const tapDir = join(root, '.tmp', 'pjdfstest-tap');
const FILE_TIMEOUT_MS = 900_000;
const jobs = Math.max(1, Number(process.env.PJDFSTEST_JOBS) || 2);

const skip =
  fuseSkipReason() ??
  requireTool('root', process.getuid?.() === 0, 'pjdfstest must run as root (it switches to other uids)') ??
  requireTool('autoreconf', commandRuns('autoreconf', ['--version']), 'builds pjdfstest; install autoconf and automake') ??
  requireTool('cc', commandRuns('cc', ['--version']), 'builds pjdfstest') ??
  requireTool('openssl', commandRuns('openssl', ['version']), 'pjdfstest names files with openssl md5');

/** The test directories (open, chmod, ...) and their files, from the vendored sources. */
const directories = existsSync(sourceTests)
  ? readdirSync(sourceTests, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort()
  : [];
const filesOf = (dir: string) =>
  readdirSync(join(sourceTests, dir))
    .filter((f) => f.endsWith('.t'))
    .sort()
    .map((f) => `${dir}/${f}`);

/** Runs one pjdfstest file with `sh` in cwd; resolves with its TAP result. Never rejects. */
function runFile(file: string, cwd: string): Promise<FileResult> {
  return new Promise((resolve) => {
    const child = spawn('sh', [join(builtDir, 'tests', file)], { cwd, detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL'); // the script and the pjdfstest it runs
      } catch {
        // already gone
      }
    }, FILE_TIMEOUT_MS);
    child.on('close', (_code, signal) => {
      clearTimeout(timer);
      const broken = timedOut ? `timed out after ${FILE_TIMEOUT_MS / 1000} s` : signal ? `killed by ${signal}` : undefined;
      void writeFile(join(tapDir, file.replace('/', '-') + '.tap'), out + (broken ? `# ${broken}\n` : ''))
        .catch(() => undefined)
        .then(() => resolve(parseTap(file, out, broken)));
    });
  });
}

describe('pjdfstest on cryptfs mount (crypt over local, --vfs-cache-mode writes, --allow-other)', { skip }, () => {
  let fx: CryptFixture;
  let m: Mounted | undefined;
  let expected: Map<string, ExpectedFailure>;
  const results = new Map<string, FileResult>();
  let seconds = 0;

  before(async () => {
    const build = await sh(`bash "${join(root, 'scripts', 'build-third-party.sh')}"`, {}, 600_000);
    assert.equal(build.code, 0, `building pjdfstest failed:\n${build.stdout}\n${build.stderr}`);
    expected = parseExpectedList(readFileSync(listFile, 'utf8'));
    await rm(tapDir, { recursive: true, force: true });
    await mkdir(tapDir, { recursive: true });
    fx = await CryptFixture.create('pjdfstest');
    const mountpoint = join(fx.root, `mnt-${randomBytes(4).toString('hex')}`);
    m = await startMount(fx, mountpoint, ['--vfs-cache-mode', 'writes', '--allow-other']);
    // Longest first (script size stands for case count), so that the workers finish together.
    const size = (f: string) => statSync(join(sourceTests, f)).size;
    const queue = directories.flatMap(filesOf).sort((a, b) => size(b) - size(a));
    const t0 = Date.now();
    // Each worker has its own directory on the mount: a test's checks of its parent
    // directory (link counts, times) must not see another test's files.
    const worker = async (w: number) => {
      const cwd = join(mountpoint, `worker-${w}`);
      await mkdir(cwd);
      for (let file = queue.shift(); file !== undefined; file = queue.shift()) results.set(file, await runFile(file, cwd));
    };
    await Promise.all(Array.from({ length: jobs }, (_, w) => worker(w)));
    seconds = (Date.now() - t0) / 1000;
  });

  after(async () => {
    if (m) {
      const code = await m.unmount();
      if (code !== 0) console.log(`unmount exited ${code}; log tail:\n${(await m.log()).slice(-3000)}`);
    }
    await forceStop(m);
    await fx?.cleanup();
  });

  for (const dir of directories) {
    it(`${dir}: every case passes except the listed ones, and no listed case passes`, () => {
      const problems: string[] = [];
      for (const file of filesOf(dir)) {
        const result = results.get(file);
        assert.ok(result, `${file} did not run`);
        problems.push(...verdictProblems(judge(result, expected.get(file)), result, expected.get(file)));
      }
      assert.deepEqual(problems, [], problems.join('\n'));
    });
  }

  it('the expected-failures list names only test files that exist', () => {
    const known = new Set(directories.flatMap(filesOf));
    const stale = [...expected.keys()].filter((f) => !known.has(f));
    assert.deepEqual(stale, [], `listed but no such pjdfstest file: ${stale.join(', ')}`);
  });

  it('prints passed cases per directory', () => {
    const rows = directories.map((dir) => {
      let total = 0;
      let failed = 0;
      for (const file of filesOf(dir)) {
        const r = results.get(file)!;
        total += Math.max(r.planned, r.failed.size);
        failed += r.failed.size;
      }
      return { dir, passed: total - failed, total };
    });
    const sum = rows.reduce((a, r) => ({ passed: a.passed + r.passed, total: a.total + r.total }), { passed: 0, total: 0 });
    const line = (name: string, p: number, t: number) => `#   ${name.padEnd(16)} ${String(p).padStart(5)} / ${String(t).padEnd(5)}`;
    console.log(
      [
        `# pjdfstest: passed / cases per directory (${seconds.toFixed(0)} s, ${jobs} at once)`,
        ...rows.map((r) => line(r.dir, r.passed, r.total)),
        line('total', sum.passed, sum.total),
      ].join('\n'),
    );
    assert.ok(sum.total > 0, 'no pjdfstest case ran');
  });
});
