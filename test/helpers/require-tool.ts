// The one rule for tests that need something outside Node (rclone, FUSE, the loopback
// object store, util-linux `script`, ...): when it is missing the test FAILS, with a
// message naming what is missing. Only a run started with `--allow-skip`
// (scripts/run-tests.mjs sets CRYPTFS_ALLOW_SKIP=1 for the test processes) turns that
// into a skip, with the same message, counted in the run's summary.
import { spawnSync } from 'node:child_process';

/** Whether this run allows tests whose required tool is missing to skip. */
export function skipsAllowed(): boolean {
  return process.env.CRYPTFS_ALLOW_SKIP === '1';
}

/** Raised (at load time, failing the test file) when a required tool is missing. */
export class MissingToolError extends Error {
  override name = 'MissingToolError';
}

const warned = new Set<string>();

/**
 * For a test (or a file of tests) that needs `name`. Returns the node:test `skip` option:
 * undefined when the tool is available. When it is missing: throws a MissingToolError
 * naming it (so the file fails), unless skips are allowed, in which case it warns once and
 * returns the reason as the skip message.
 *
 *   describe('mount', { skip: requireTool('FUSE', haveFuse, 'no /dev/fuse or fusermount3') }, ...)
 */
export function requireTool(name: string, available: boolean, reason = `${name} is not installed`): string | undefined {
  if (available) return undefined;
  const message = `required tool missing: ${name} (${reason})`;
  if (!skipsAllowed()) {
    throw new MissingToolError(`${message}; install it, or run the tests with --allow-skip (CRYPTFS_ALLOW_SKIP=1) to skip`);
  }
  if (!warned.has(message)) {
    warned.add(message);
    console.warn(`WARNING: --allow-skip: skipping: ${message}`);
  }
  return message;
}

/** Whether `command args...` can be run and exits 0. */
export function commandRuns(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

/** For tests that drive a pseudo-terminal through util-linux `script`. */
export function scriptSkipReason(): string | undefined {
  return requireTool('script (util-linux)', commandRuns('script', ['--version']), '`script --version` cannot be run; install util-linux');
}
