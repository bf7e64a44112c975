// `cryptfs umount DIR`: unmounts a cryptfs mount and waits until its daemon has
// uploaded every modified file and exited. `fusermount3 -u` returns as soon as
// the kernel lets go, while the daemon may still be uploading for minutes;
// shutdown scripts and service managers need to know when the data is safe.
// The daemon is found through its state file (mount-state.ts). Exit 0 only
// when the daemon reported every upload done (it removes its state file only
// then; one that failed leaves its result there).
import { execFile } from 'node:child_process';
import { resolve as resolvePath } from 'node:path';
import { flagString, type FlagSpec } from '../args.js';
import { registerCommand, type CommandContext } from '../command.js';
import { CommandFailedError, writeOut } from '../util.js';
import { UsageError, errorMessage } from '../../errors.js';
import { parseDuration } from '../../remote/registry.js';
import { mountTable } from '../../fuse/mount-table.js';
import { daemonAlive, readMountState, removeMountState, type MountState } from '../mount-state.js';

const POLL_MS = 100;

const umountFlags: FlagSpec[] = [
  {
    name: 'timeout',
    type: 'string',
    help: 'Give up waiting for the uploads after this long and exit 1 (0: wait as long as they take)',
    default: '0s',
  },
];

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** `fusermount3 -u`: not lazy, so a mount still in use is refused (EBUSY) rather than hidden. */
function fusermountUnmount(mountpoint: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('fusermount3', ['-u', mountpoint], (err, _stdout, stderr) => {
      if (!err) resolve();
      else reject(new CommandFailedError(`cannot unmount ${mountpoint}: ${stderr.trim() || err.message}`, undefined, { cause: err }));
    });
  });
}

/** What the daemon's final state says, as the command's outcome. */
function outcome(state: MountState): { ok: boolean; message: string } {
  const problems: string[] = [];
  if (state.failed > 0) {
    problems.push(`${plural(state.failed, 'file')} could not be uploaded (kept in the cache for the next mount of ${state.remote})`);
  }
  if (state.abandoned > 0) {
    problems.push(`${plural(state.abandoned, 'file')} still open for writing lost their new contents (the remote keeps the previous versions)`);
  }
  if (problems.length === 0 && state.exitCode !== 0) problems.push(`the daemon exited with status ${state.exitCode ?? 'unknown'}`);
  return problems.length > 0 ? { ok: false, message: problems.join('; ') } : { ok: true, message: '' };
}

async function runUmount(ctx: CommandContext, dirArg: string): Promise<number> {
  const mountpoint = resolvePath(dirArg);
  const timeoutText = flagString(ctx.flags, 'timeout');
  let timeoutMs: number;
  try {
    timeoutMs = parseDuration(timeoutText, '--timeout');
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  const say = (line: string) => writeOut(ctx.stdout, `${line}\n`);

  let state = await readMountState(mountpoint);
  const entry = (await mountTable()).get(mountpoint);
  if (!state || (!daemonAlive(state) && state.phase !== 'exited')) {
    // No daemon to wait for: unmount a cryptfs mount anyway (a shutdown must not hang on it), but say so.
    const why = state
      ? `its daemon (process ${state.pid}) ended without finishing; the next mount of ${state.remote} uploads what its cache holds`
      : 'no running cryptfs daemon is registered for it';
    if (entry && entry.fsType !== 'fuse.cryptfs') throw new CommandFailedError(`${mountpoint} is not a cryptfs mount (${entry.fsType})`);
    if (entry) await fusermountUnmount(mountpoint);
    if (state) await removeMountState(mountpoint);
    throw new CommandFailedError(`${entry ? `unmounted ${mountpoint}, but ` : `${mountpoint} is not mounted and `}${why}`);
  }

  if (entry) {
    await fusermountUnmount(mountpoint);
    await say(`Unmounted ${mountpoint}`);
  } else if (daemonAlive(state)) {
    await say(`${mountpoint} is already unmounted`);
  }

  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
  let shown: string | undefined;
  while (daemonAlive(state)) {
    const line =
      state.phase === 'uploading'
        ? `Waiting for the cryptfs daemon (process ${state.pid}) to upload ${plural(state.pending, 'file')} to ${state.remote}`
        : `Waiting for the cryptfs daemon (process ${state.pid}) to finish`;
    if (line !== shown) {
      await say(line);
      shown = line;
    }
    if (Date.now() > deadline) {
      throw new CommandFailedError(
        `gave up after ${timeoutText}: the daemon (process ${state.pid}) is still running with ${plural(state.pending, 'file')} to upload`,
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
    state = (await readMountState(mountpoint).catch(() => state)) ?? state;
  }

  const remote = state.remote;
  const pid = state.pid;
  const final = await readMountState(mountpoint);
  if (final && final.pid === pid) {
    if (final.phase !== 'exited') {
      throw new CommandFailedError(`the daemon (process ${pid}) ended without reporting its uploads done`);
    }
    await removeMountState(mountpoint);
    const result = outcome(final);
    if (!result.ok) throw new CommandFailedError(result.message);
  }
  // No file left: the daemon removed it after a clean exit.
  await say(`All modified files are on ${remote}; the daemon has exited`);
  return 0;
}

registerCommand({
  name: 'umount',
  use: '/path/to/mountpoint',
  short: 'Unmount a cryptfs mount and wait until every modified file is uploaded.',
  long:
    'Unmounts a directory mounted with `cryptfs mount` (as fusermount3 -u does) and waits until the\n' +
    'mount process has uploaded every modified file and exited, printing what it waits for.\n' +
    'fusermount3 -u and umount return while uploads still run; use this in shutdown scripts and\n' +
    'service units (ExecStop=) so that nothing is cut off.\n' +
    '\n' +
    'Exits 0 only when every upload is done. Exits 1 when the mount is busy, when no cryptfs\n' +
    'mount process is found for the directory, when uploads failed (the files stay in the cache\n' +
    'and are uploaded by the next mount of the same remote), or when --timeout passed.',
  minArgs: 1,
  maxArgs: 1,
  flags: umountFlags,
  async run(ctx, [dir]) {
    return runUmount(ctx, dir);
  },
});
