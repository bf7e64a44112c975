// xfstests' fsx (test/third_party/fsx, built by scripts/build-third-party.sh) on a file
// inside a real `cryptfs mount` of crypt over a local directory: random reads, writes,
// truncates, mapped reads and writes (on, and off with -R -W), closes and reopens (-c 50),
// operations up to 4 KiB (-o 4096), each run checking every read against its own copy.
// Cache modes `writes` and `full`, fixed seeds so a failure repeats. After the runs the
// mount is unmounted (everything uploaded) and the real rclone must read back exactly
// the bytes the mount last showed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CryptFixture, forceStop, fuseSkipReason, sh, startMount, type Mounted } from '../fuse/mount-helpers.js';
import { rcloneSkipReason, repoRoot } from '../../helpers/cli.js';
import { commandRuns, requireTool } from '../../helpers/require-tool.js';

const root = repoRoot();
const fsxBinary = join(root, '.tmp', 'third_party', 'fsx', 'fsx');
/** Operations per run: the issue's figure. */
const OPS = Number(process.env.FSX_OPS) || 20_000;
/** Fixed seeds (a failure repeats with the same -S), a different pair on each cache mode. */
const SEEDS: Record<string, [number, number]> = { writes: [11, 2026], full: [77777, 4242] };
/** Runs at once on one mount, each on its own file. */
const JOBS = Math.max(1, Number(process.env.FSX_JOBS) || 2);
const RUN_TIMEOUT_MS = 900_000;

const skip = fuseSkipReason() ?? rcloneSkipReason() ?? requireTool('cc', commandRuns('cc', ['--version']), 'builds fsx');

interface FsxRun {
  name: string;
  args: string[];
}

/** One run with mapped I/O and one without (-R: no mapped reads, -W: no mapped writes). */
const runsFor = (mode: string): FsxRun[] => [
  { name: `mmap-seed${SEEDS[mode][0]}`, args: ['-S', String(SEEDS[mode][0])] },
  { name: `nommap-seed${SEEDS[mode][1]}`, args: ['-S', String(SEEDS[mode][1]), '-R', '-W'] },
];

interface FsxOutcome {
  code: number;
  output: string;
  seconds: number;
}

function runFsx(file: string, logDir: string, args: string[]): Promise<FsxOutcome> {
  const t0 = Date.now();
  const fullArgs = ['-N', String(OPS), '-o', '4096', '-c', '50', '-q', '-P', logDir, ...args, file];
  return new Promise((resolve) => {
    execFile(fsxBinary, fullArgs, { timeout: RUN_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, output: `fsx ${fullArgs.join(' ')}\n${stdout}${stderr}`, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

for (const mode of ['writes', 'full']) {
  describe(`fsx on cryptfs mount (crypt over local, --vfs-cache-mode ${mode})`, { skip }, () => {
    const RUNS = runsFor(mode);
    let fx: CryptFixture;
    let m: Mounted | undefined;
    let M: string;
    const outcomes = new Map<string, FsxOutcome>();
    const shown = new Map<string, string>();

    before(async () => {
      const build = await sh(`bash "${join(root, 'scripts', 'build-third-party.sh')}"`, {}, 600_000);
      assert.equal(build.code, 0, `building fsx failed:\n${build.stdout}\n${build.stderr}`);
      fx = await CryptFixture.create(`fsx-${mode}`);
      M = join(fx.root, `mnt-${randomBytes(4).toString('hex')}`);
      m = await startMount(fx, M, ['--vfs-cache-mode', mode]);
      const queue = [...RUNS];
      const t0 = Date.now();
      const worker = async () => {
        for (let run = queue.shift(); run !== undefined; run = queue.shift()) {
          outcomes.set(run.name, await runFsx(join(M, `fsx-${run.name}`), fx.root, run.args));
        }
      };
      await Promise.all(Array.from({ length: JOBS }, worker));
      const lines = [...outcomes].map(([name, o]) => `#   ${name.padEnd(20)} ${o.code === 0 ? 'ok' : `exit ${o.code}`} ${o.seconds.toFixed(0)} s`);
      console.log(`# fsx -N ${OPS} on --vfs-cache-mode ${mode}: ${((Date.now() - t0) / 1000).toFixed(0)} s, ${JOBS} at once\n${lines.join('\n')}`);
      // What the mount shows at the end of each run, to compare with what rclone reads after the upload.
      for (const run of RUNS) {
        const r = await sh(`sha256sum < "$F"`, { F: join(M, `fsx-${run.name}`) });
        shown.set(run.name, r.code === 0 ? r.stdout.split(' ')[0] : `unreadable: ${r.stderr}`);
      }
    });

    after(async () => {
      await forceStop(m);
      await fx?.cleanup();
    });

    for (const run of RUNS) {
      it(`fsx ${run.args.join(' ')}: every operation reads back what was written`, async () => {
        const o = outcomes.get(run.name);
        assert.ok(o, 'did not run');
        if (o.code !== 0) {
          const log = await readFile(join(fx.root, `fsx-${run.name}.fsxlog`), 'utf8').catch(() => '(no .fsxlog)');
          assert.fail(`fsx failed (exit ${o.code}):\n${o.output.slice(-4000)}\n--- last operations:\n${log.slice(-4000)}\n--- mount log:\n${(await m?.log())?.slice(-3000)}`);
        }
      });
    }

    it('after unmount, rclone reads exactly the bytes the mount showed', async () => {
      const code = await m!.unmount();
      assert.equal(code, 0, `unmount exited ${code}:\n${(await m!.log()).slice(-3000)}`);
      m = undefined;
      for (const run of RUNS) {
        const r = await fx.rclone(`cat "secret:fsx-${run.name}" | sha256sum`);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.split(' ')[0], shown.get(run.name), `fsx-${run.name}`);
      }
    });
  });
}
