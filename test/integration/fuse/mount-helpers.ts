// Helpers for tests through a real `cryptfs mount`: the daemon runs as a child
// process (`node dist/src/cli/cryptfs.cjs mount ...`) and every file operation runs
// in further child processes (sh, git, sqlite3, python3), never in this
// process's event loop. A crypt remote over a local directory, with a config
// file that the real rclone reads as well.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { obscure } from '../../../src/crypt/obscure.js';
import { cryptfsMain, rcloneBinary, scrubbedEnv } from '../../helpers/cli.js';
import { requireTool } from '../../helpers/require-tool.js';

export const haveFuse = existsSync('/dev/fuse') && existsSync('/usr/bin/fusermount3');

/** For tests that mount: undefined with FUSE; without it the file fails (or skips under --allow-skip). */
export function fuseSkipReason(): string | undefined {
  return requireTool('FUSE', haveFuse, 'needs /dev/fuse and /usr/bin/fusermount3');
}

export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a bash script in a child process (never in this event loop). Never rejects. */
export function sh(script: string, env: Record<string, string> = {}, timeoutMs = 120_000): Promise<ShResult> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-c', `set -euo pipefail\n${script}`],
      // scrubbedEnv: no RCLONE_*/CRYPTFS_* settings, no AWS_CA_BUNDLE (rclone's S3 fails with it set).
      { env: scrubbedEnv(env), maxBuffer: 256 * 1024 * 1024, encoding: 'utf8', timeout: timeoutMs },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Whether a process of ours (a daemon a test started) still runs. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function isMounted(path: string): Promise<boolean> {
  return (await mountIds(path)).length > 0;
}

/** The mount ids of whatever is mounted on `path` (a stale mount of a killed daemon included). */
async function mountIds(path: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f[4] === path)
    .map((f) => f[0]);
}

/** Where the crypt remote stores its data when not in a local directory. */
export interface UnderlyingRemote {
  /** Config sections of the underlying remote(s). */
  configText: string;
  /** The crypt remote's `remote =` value, e.g. `s3:bucket/data`. */
  target: string;
  cleanup(): Promise<void>;
}

/**
 * A crypt remote named `secret`, in a config file rclone reads too: over a local
 * directory (remoteDir), or over an object store remote.
 */
export class CryptFixture {
  private constructor(
    readonly root: string,
    readonly remoteDir: string,
    readonly config: string,
    readonly cacheRoot: string,
    private readonly underlying?: UnderlyingRemote,
  ) {}

  static async create(label: string, underlying?: UnderlyingRemote): Promise<CryptFixture> {
    const root = await mkdtemp(join(tmpdir(), `cryptfs-mount-${label}-`));
    const remoteDir = join(root, 'remote');
    await mkdir(remoteDir);
    const config = join(root, 'rclone.conf');
    await writeFile(
      config,
      [
        underlying?.configText ?? '',
        '[secret]',
        'type = crypt',
        `remote = ${underlying?.target ?? remoteDir}`,
        `password = ${obscure(`pw-${randomBytes(6).toString('hex')}`)}`,
        `password2 = ${obscure(`salt-${randomBytes(6).toString('hex')}`)}`,
        '',
      ].join('\n'),
    );
    return new CryptFixture(root, remoteDir, config, join(root, 'cache'), underlying);
  }

  /** Runs the real rclone with this config. */
  rclone(args: string, timeoutMs = 120_000): Promise<ShResult> {
    return sh(`"${rcloneBinary()}" --config "${this.config}" ${args}`, { TZ: 'UTC' }, timeoutMs);
  }

  async cleanup(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
    await this.underlying?.cleanup();
  }
}

export interface Mounted {
  mountpoint: string;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the daemon's exit code (or signal name). */
  exited: Promise<number | string>;
  /** Unmounts with fusermount3 -u (retrying while busy) and waits for the daemon to exit. */
  unmount(): Promise<number | string>;
  log(): Promise<string>;
  /** What the daemon wrote to stderr so far (Node's own warnings land here, not in the log file). */
  stderr(): string;
}

/** Starts `cryptfs mount secret: <mountpoint>` and waits until the mount is up. */
export async function startMount(
  fx: CryptFixture,
  mountpoint: string,
  args: string[] = [],
  options: {
    openFileLimit?: number;
    config?: string;
    cacheRoot?: string;
    /** Mount this spec instead of secret: (e.g. a plain local directory). */
    source?: string;
    /** Added to the daemon's (scrubbed) environment. */
    env?: NodeJS.ProcessEnv;
    /** How long the mount may take to come up (default 20 s). */
    upTimeoutMs?: number;
  } = {},
): Promise<Mounted> {
  // A stale mount (killed daemon) answers ENOTCONN: the mount command clears it.
  await mkdir(mountpoint, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOTCONN') throw err;
  });
  const logFile = join(fx.root, `mount-${randomBytes(3).toString('hex')}.log`);
  const staleIds = await mountIds(mountpoint);
  // With openFileLimit the daemon runs under `ulimit -n` (a shell execs it: same pid).
  const [command, prefix] =
    options.openFileLimit === undefined
      ? [process.execPath, []]
      : ['bash', ['-c', `ulimit -n ${options.openFileLimit} && exec "$0" "$@"`, process.execPath]];
  const child = spawn(
    command,
    [
      ...prefix,
      cryptfsMain(),
      '--config',
      options.config ?? fx.config,
      'mount',
      options.source ?? 'secret:',
      mountpoint,
      '--cache-dir',
      options.cacheRoot ?? fx.cacheRoot,
      '-v',
      '--log-file',
      logFile,
      ...args,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: scrubbedEnv(options.env) },
  );
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code ?? -1)),
  );
  let done: number | string | undefined;
  void exited.then((c) => (done = c));
  const readLog = () => readFile(logFile, 'utf8').catch(() => '');
  const deadline = Date.now() + (options.upTimeoutMs ?? 20_000);
  // Up means a mount of this daemon, not the stale one a killed daemon left (which it clears first,
  // and whose mount id the new mount may reuse): then wait for the daemon's own "mounted on" line too.
  const isNewMount = async () =>
    (await isMounted(mountpoint)) && (staleIds.length === 0 || (await readLog()).includes(`mounted on ${mountpoint}`));
  while (!(await isNewMount())) {
    if (done !== undefined) throw new Error(`mount exited (${done}) before mounting:\n${stderr}\n${await readLog()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`mount did not come up:\n${stderr}\n${await readLog()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    mountpoint,
    child,
    logFile,
    exited,
    log: readLog,
    stderr: () => stderr,
    async unmount() {
      for (let i = 0; (await isMounted(mountpoint)) && i < 50; i++) {
        const r = await sh(`fusermount3 -u "${mountpoint}"`);
        if (r.code === 0) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Last-resort cleanup: lazy unmount and kill by pid. */
export async function forceStop(m: Mounted | undefined): Promise<void> {
  if (!m) return;
  if (await isMounted(m.mountpoint)) await sh(`fusermount3 -u -z "${m.mountpoint}" || umount -l "${m.mountpoint}"`);
  if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGKILL');
}
