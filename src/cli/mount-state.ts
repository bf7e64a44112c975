// Where `cryptfs umount DIR` finds the daemon serving DIR: one small JSON file
// per mount point in a per-user runtime directory ($XDG_RUNTIME_DIR/cryptfs,
// else a 0700 directory of ours in the temp dir). The daemon writes it when
// mounted and updates the count of uploads still to do after the unmount. A
// daemon that uploaded everything removes the file as it exits (so a missing
// file after the daemon's exit means success); one that did not leaves its
// result there for `cryptfs umount`, which reads it and removes it.
//
// Only counts are kept, never file names: the temp directory may be on disk,
// and names are as private as contents.
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { CryptfsError, errorMessage } from '../errors.js';

export type MountPhase = 'serving' | 'uploading' | 'exited';

export interface MountState {
  version: 1;
  pid: number;
  /** The daemon's start time (/proc/<pid>/stat), so that a reused pid is not taken for it. */
  startTicks: string | undefined;
  mountpoint: string;
  remote: string;
  phase: MountPhase;
  /** Files not on the remote yet (uploading: still to do). */
  pending: number;
  /** Files whose upload failed (kept in the cache for the next mount). */
  failed: number;
  /** Mode off: files still open for writing at the unmount, whose new contents were dropped. */
  abandoned: number;
  /** Set when phase is "exited". */
  exitCode?: number;
  updatedAt: string;
}

/** The state directory cannot be made safe (wrong owner or permissions), or a state file is unreadable. */
export class MountStateError extends CryptfsError {}

const uid = () => process.getuid?.() ?? 0;

/** The per-user directory holding the state files. */
export function mountStateDir(): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime && isAbsolute(runtime)) return join(runtime, 'cryptfs', 'mounts');
  return join(tmpdir(), `cryptfs-${uid()}`, 'mounts');
}

export function mountStateFile(mountpoint: string): string {
  const id = createHash('sha256').update(mountpoint).digest('hex').slice(0, 32);
  return join(mountStateDir(), `${id}.json`);
}

/** Makes the state directory; refuses one that someone else could write (a shared temp dir). */
async function ensureStateDir(): Promise<string> {
  const dir = mountStateDir();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const d of [join(dir, '..'), dir]) {
    const st = await lstat(d);
    if (!st.isDirectory() || st.uid !== uid() || (st.mode & 0o077) !== 0) {
      throw new MountStateError(`${d}: not a directory of this user with mode 0700; not keeping mount state there`);
    }
  }
  return dir;
}

/** Start time of a process in clock ticks since boot, or undefined when it does not exist. */
export function processStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (in parentheses, may hold spaces): state is 3rd, starttime 22nd.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether the process that wrote `state` still runs. */
export function daemonAlive(state: MountState): boolean {
  const now = processStartTicks(state.pid);
  return now !== undefined && (state.startTicks === undefined || now === state.startTicks);
}

export async function readMountState(mountpoint: string): Promise<MountState | undefined> {
  let text: string;
  try {
    text = await readFile(mountStateFile(mountpoint), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MountStateError(`cannot read the state of ${mountpoint}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const state = JSON.parse(text) as MountState;
    if (state.version !== 1 || state.mountpoint !== mountpoint || !Number.isInteger(state.pid)) throw new Error('unexpected contents');
    return state;
  } catch (err) {
    throw new MountStateError(`state file of ${mountpoint} is damaged: ${errorMessage(err)}`, { cause: err });
  }
}

export async function removeMountState(mountpoint: string): Promise<void> {
  await rm(mountStateFile(mountpoint), { force: true });
}

/**
 * The daemon's side: writes the state file of one mount, replacing it whole
 * each time (rename), so that a reader never sees half of it.
 */
export class MountStateWriter {
  private state: MountState;
  private writing: Promise<void> = Promise.resolve();

  constructor(mountpoint: string, remote: string) {
    this.state = {
      version: 1,
      pid: process.pid,
      startTicks: processStartTicks(process.pid),
      mountpoint,
      remote,
      phase: 'serving',
      pending: 0,
      failed: 0,
      abandoned: 0,
      updatedAt: new Date().toISOString(),
    };
  }

  /** Merges `changes` and writes the file (writes are serialized). Rejects with MountStateError. */
  update(changes: Partial<Omit<MountState, 'version' | 'pid' | 'startTicks' | 'mountpoint'>>): Promise<void> {
    this.state = { ...this.state, ...changes, updatedAt: new Date().toISOString() };
    const snapshot = JSON.stringify(this.state, null, 2) + '\n';
    const file = mountStateFile(this.state.mountpoint);
    const next = this.writing.then(async () => {
      try {
        await ensureStateDir();
        const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
        await writeFile(temp, snapshot, { mode: 0o600 });
        await rename(temp, file);
      } catch (err) {
        if (err instanceof MountStateError) throw err;
        throw new MountStateError(`cannot write the mount state ${file}: ${errorMessage(err)}`, { cause: err });
      }
    });
    this.writing = next.catch(() => undefined);
    return next;
  }

  /** After a clean exit: the file goes (waits for writes in progress). */
  async remove(): Promise<void> {
    await this.writing;
    try {
      await removeMountState(this.state.mountpoint);
    } catch (err) {
      throw new MountStateError(`cannot remove the mount state of ${this.state.mountpoint}: ${errorMessage(err)}`, { cause: err });
    }
  }

  get current(): Readonly<MountState> {
    return this.state;
  }
}
