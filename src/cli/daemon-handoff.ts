// `mount --daemon`: the foreground process hands the mount over to a
// background child through a socket pair on the child's fd 3, never through
// argv or the environment: every local user can read /proc/PID/cmdline (and
// the owner /proc/PID/environ) for as long as the mount lives, and an inline
// remote (":crypt,...,password=...:") or RCLONE_CONFIG_PASS would sit there.
//
// The parent sends one JSON line: the arguments, its environment, and the
// key of an encrypted config (derived in the parent, which asked for the
// password on its terminal before detaching). The child answers one line on
// the same fd once mounted: "ready" or "error: <message>".
import type { ChildProcess } from 'node:child_process';
import { childProcess } from '../lazy-builtin.js';
import { closeSync, readSync, writeSync } from 'node:fs';
import { CryptfsError } from '../errors.js';

/** Set in the child's environment: the fd of the socket to the parent. */
export const DAEMON_FD_ENV = 'CRYPTFS_MOUNT_READY_FD';
const DAEMON_FD = 3;

export interface DaemonHandoff {
  /** The command line as the user gave it, without --daemon. */
  argv: string[];
  /** The parent's environment (the child starts with only STARTUP_ENV of it). */
  env: Record<string, string>;
  /** The encrypted config's key; the config password itself never leaves the parent. */
  configKey?: Buffer;
}

export class DaemonHandoffError extends CryptfsError {}

/**
 * What the child starts with: enough for Node to start and find its locale;
 * nothing cryptfs, rclone or a backend is configured with.
 */
const STARTUP_ENV = /^(PATH|HOME|USER|LOGNAME|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TMPDIR|NODE_[A-Z_]+|UV_THREADPOOL_SIZE)$/;

/** Config passwords are not handed over: the child gets the derived key instead. */
const NOT_HANDED_OVER = new Set(['CRYPTFS_CONFIG_PASS', 'RCLONE_CONFIG_PASS']);

/**
 * Starts the background child and sends it the handoff. Its stdout and stderr
 * go to `output` (the log file's fd) or nowhere. Returns the child and the
 * parent's end of the socket, on which the child's one-line answer arrives.
 */
export function spawnDaemon(
  handoff: DaemonHandoff,
  output: number | 'ignore',
  shownArgs: string[],
): { child: ChildProcess; socket: NodeJS.ReadWriteStream } {
  const startupEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && STARTUP_ENV.test(k)) startupEnv[k] = v;
  const child = childProcess().spawn(process.execPath, [...process.execArgv, process.argv[1], ...shownArgs], {
    detached: true,
    stdio: ['ignore', output, output, 'pipe'],
    env: { ...startupEnv, [DAEMON_FD_ENV]: String(DAEMON_FD) },
  });
  const socket = child.stdio[DAEMON_FD] as unknown as NodeJS.ReadWriteStream;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(handoff.env)) if (!NOT_HANDED_OVER.has(k)) env[k] = v;
  socket.write(
    `${JSON.stringify({ argv: handoff.argv, env, configKey: handoff.configKey?.toString('base64') })}\n`,
  );
  return { child, socket };
}

/** Whether this process is the background child of `mount --daemon`. */
export function isDaemonChild(): boolean {
  return process.env[DAEMON_FD_ENV] !== undefined;
}

/**
 * In the child, first thing: reads the handoff from the parent (blocking), puts
 * the parent's environment into process.env (setenv: not in /proc/PID/environ,
 * which shows the environment the process was started with).
 */
export function receiveDaemonHandoff(timeoutMs = 30_000): DaemonHandoff {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  const deadline = Date.now() + timeoutMs;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    let n: number;
    try {
      n = readSync(DAEMON_FD, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') {
        throw new DaemonHandoffError(`cannot read the mount request from the parent: ${(err as Error).message}`, { cause: err });
      }
      if (Date.now() > deadline) throw new DaemonHandoffError('the parent sent no mount request');
      Atomics.wait(sleeper, 0, 0, 10);
      continue;
    }
    if (n === 0) throw new DaemonHandoffError('the parent closed the connection before sending the mount request');
    chunks.push(Buffer.from(buf.subarray(0, n)));
    if (buf.subarray(0, n).includes(0x0a)) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let parsed: { argv?: unknown; env?: unknown; configKey?: unknown };
  try {
    parsed = JSON.parse(text.slice(0, text.indexOf('\n'))) as typeof parsed;
  } catch (err) {
    throw new DaemonHandoffError('the mount request from the parent is not JSON', { cause: err });
  }
  if (!Array.isArray(parsed.argv) || !parsed.argv.every((a) => typeof a === 'string')) {
    throw new DaemonHandoffError('the mount request from the parent has no arguments');
  }
  const env = (parsed.env ?? {}) as Record<string, string>;
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string' && process.env[k] === undefined) process.env[k] = v;
  return {
    argv: parsed.argv as string[],
    env,
    configKey: typeof parsed.configKey === 'string' ? Buffer.from(parsed.configKey, 'base64') : undefined,
  };
}

/** In the child: the one-line answer to the parent ("ready" or "error: ..."); later calls do nothing. */
export function reportToParent(line: string): void {
  if (!isDaemonChild()) return;
  try {
    writeSync(DAEMON_FD, `${line.replace(/\n/g, ' ')}\n`);
    closeSync(DAEMON_FD);
  } catch {
    // the parent is gone
  }
  delete process.env[DAEMON_FD_ENV];
}
