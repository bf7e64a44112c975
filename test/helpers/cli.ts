// Runs the built cryptfs CLI and the real rclone as child processes, for
// integration tests. Both get a scrubbed environment (no config password, no
// RCLONE_*/CRYPTFS_* settings leaking in from the caller's shell) and always an
// explicit --config, so a developer's own rclone.conf is never read or written.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireTool } from './require-tool.js';

export interface RunOptions {
  /** Config file passed as --config; an empty temporary one when absent. */
  config?: string;
  /** Extra environment variables, added to the scrubbed environment. */
  env?: NodeJS.ProcessEnv;
  /** Bytes written to the child's stdin (stdin is closed either way). */
  input?: Buffer | string;
  cwd?: string;
  /** Kill the child after this many milliseconds (default 120 s) and fail. */
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** The repository root: the nearest directory above this file holding package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/**
 * The program as installed (package.json's bin) of the same build as this helper:
 * <outDir>/src/cli/cryptfs.cjs, which runs the bundled CLI (scripts/build.mjs), next to
 * <outDir>/test/helpers/cli.js (dist/ normally). Tests that import modules use the unbundled
 * files; the CLI they run is what users run.
 */
export function cryptfsMain(): string {
  return fileURLToPath(new URL('../../src/cli/cryptfs.cjs', import.meta.url));
}

/** The rclone binary: $RCLONE_BIN, else `rclone` from PATH. */
export function rcloneBinary(): string {
  return process.env.RCLONE_BIN || 'rclone';
}

let rcloneChecked: boolean | undefined;

/** Whether rclone can be run at all. */
export function rcloneAvailable(): boolean {
  if (rcloneChecked === undefined) {
    const r = spawnSync(rcloneBinary(), ['version'], { stdio: 'ignore', env: scrubbedEnv() });
    rcloneChecked = r.status === 0;
  }
  return rcloneChecked;
}

/**
 * For tests that need rclone: undefined when rclone runs. When it cannot, the test file
 * fails naming it, or (run with --allow-skip) this returns the skip reason.
 */
export function rcloneSkipReason(): string | undefined {
  return requireTool('rclone', rcloneAvailable(), `${rcloneBinary()} cannot be run; install the rclone package`);
}

/** process.env without anything that would change what either tool reads or where. */
export function scrubbedEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(RCLONE_|CRYPTFS_)/.test(k)) continue;
    if (k === 'AWS_CA_BUNDLE' || k === 'NODE_OPTIONS' || k === 'NODE_TEST_CONTEXT') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

let emptyConfig: string | undefined;

/** An empty config file in a temporary directory, removed when the process exits. */
function defaultConfig(): string {
  if (!emptyConfig) {
    const dir = mkdtempSync(join(tmpdir(), 'cryptfs-cli-'));
    emptyConfig = join(dir, 'empty.conf');
    writeFileSync(emptyConfig, '');
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return emptyConfig;
}

function run(command: string, lead: string[], argv: string[], opts: RunOptions): Promise<RunResult> {
  const args = [...lead, '--config', opts.config ?? defaultConfig(), ...argv];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: scrubbedEnv(opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      if (signal) {
        reject(new Error(`${command} ${argv.join(' ')}: killed by ${signal}\n${stderr}`));
        return;
      }
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr });
    });
    child.stdin.on('error', () => undefined); // the child may exit without reading stdin
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs `node dist/src/cli/cryptfs.cjs --config <cfg> ...args`. */
export function runCryptfs(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, [cryptfsMain()], args, opts);
}

/** Runs `rclone --config <cfg> ...args`. */
export function runRclone(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(rcloneBinary(), [], args, opts);
}

/** A short description of a run for assertion messages. */
export function describeRun(what: string, r: RunResult): string {
  const out = r.stdout.length > 2000 ? `${r.stdout.length} bytes` : JSON.stringify(r.stdout.toString('utf8'));
  return `${what}: exit ${r.code}\nstdout: ${out}\nstderr: ${r.stderr.slice(0, 4000)}`;
}

/** Throws with the run's output unless it exited 0. */
export function expectSuccess(what: string, r: RunResult): RunResult {
  if (r.code !== 0) throw new Error(describeRun(what, r));
  return r;
}
