// The small native helper (native/fs_times.c, built as cryptfs_fs.node): exact
// file times and extended attributes for the local remote, and process hardening at start. Loaded
// once; undefined when the addon is not built.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface OsNativeBinding {
  futimensNs(fd: number, mtimeNs: bigint): void;
  hardenProcess(): void;
  /** The code (e.g. 'EROFS') errors of this addon carry for errno `n`; undefined when Linux has none. */
  errnoName(n: number): string | undefined;
  /** Every user.<key> extended attribute of `path` (not following a symlink), keyed without the prefix; {} where the filesystem has none. */
  userXattrs(path: string): Record<string, string>;
  /** Sets extended attribute `name` (full name) of `path`; throws Node-style errors (code 'ENOTSUP', ...). */
  setXattr(path: string, name: string, value: string): void;
  /** Removes extended attribute `name`; no error when absent. */
  removeXattr(path: string, name: string): void;
  /**
   * In one thread-pool job, for each file in turn: creates `temp` (O_EXCL, mode 0644 less the
   * umask), writes `bytes`, sets the xattrs, sets atime and mtime to `mtimeNs`, stats it, closes it
   * and renames it to `target`; on failure its temporary file is removed. Resolves with one result
   * per file, in order: its stat, or a Node-style error (code, syscall 'open' when the create failed, path).
   */
  writeSmallFiles(files: SmallFileJob[]): Promise<Array<SmallFileStat | Error>>;
  /** 2 and later apply a job's uid, gid and mode (absent from older builds, which ignore them). */
  writeSmallFilesVersion?: number;
  /**
   * The addon's two hash threads (native/hash_threads.c): where their events go, once per process.
   * Events: (thread, 'ack', id, bytes) once a chunk is hashed, (thread, 'digest', id, hex[]) once a job ended.
   * Absent from older builds.
   */
  hashInit?(onEvent: (thread: number, kind: 'ack' | 'digest', id: number, value: number | string[]) => void): void;
  /** op 0 starts job `id` (arg: algorithm names), 1 hashes a copy of arg (taken before it returns), 2 ends it, 3 drops it. */
  hashSend?(thread: number, op: 0 | 1 | 2 | 3, id: number, arg?: Uint8Array | string[]): void;
  /**
   * The lower-case hex digest of the whole file at `path`, read and hashed in one thread-pool job
   * (native/file_hash.c); rejects with a Node-style error (code, syscall 'open' or 'read', path).
   * Absent from older builds.
   */
  hashFile?(path: string, algorithm: 'md5' | 'sha1' | 'sha256'): Promise<string>;
}

/** One file for writeSmallFiles. */
export interface SmallFileJob {
  temp: string;
  target: string;
  bytes: Uint8Array;
  /** Full names and values: name, value, name, value, ... */
  xattrs: string[];
  mtimeNs: bigint;
  /** Owner and mode to give it (chown only when they differ, a refusal left; the mode last). */
  uid?: number;
  gid?: number;
  mode?: number;
}

/** What writeSmallFiles' statx of the new file said. */
export interface SmallFileStat {
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  atimeNs: bigint;
  /** 0n where the filesystem does not report it. */
  birthtimeNs: bigint;
}

/** Loads build/Release/<file> from the package root above this module; undefined when not built or not loadable. */
export function loadNativeAddon<T>(file: string): T | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'build', 'Release', file);
    if (existsSync(candidate)) {
      try {
        return createRequire(import.meta.url)(candidate) as T;
      } catch {
        return undefined;
      }
    }
    const parent = dirname(dir);
    if (parent === dir || existsSync(join(dir, 'package.json'))) return undefined;
    dir = parent;
  }
}

export const osNative = loadNativeAddon<OsNativeBinding>('cryptfs_fs.node');

/**
 * No core dumps, not dumpable (no ptrace or /proc/PID/mem by other processes
 * of the user): keys and decrypted bytes never reach a core file. Returns false
 * when the addon is missing (the caller says so).
 */
export function hardenProcess(): boolean {
  if (!osNative) return false;
  osNative.hardenProcess();
  return true;
}
