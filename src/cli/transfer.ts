// Copying, syncing and moving between remotes the way rclone does (fs/march,
// fs/sync, fs/operations in rclone 1.60): list source and destination side by
// side one directory at a time, compare pairs with --checkers workers, copy
// with --transfers workers, and for sync delete what the source lacks only
// after every transfer succeeded. Also the command wrapper rclone's cmd.Run is:
// stats/progress output, retries of the whole command, the final error line
// and exit code.
import * as fsp from 'node:fs/promises';
import { CryptfsError, DirNotFoundError, ExitCode, ObjectNotFoundError, RemoteIOError, errorMessage } from '../errors.js';
import { log, type LogLevel } from '../log.js';
import { logPath } from '../log-names.js';
import type { HashType, Remote, RemoteEntry } from '../remote/remote.js';
import { baseName, joinPath, parentPath } from '../remote/remote.js';
import { SubRemote } from '../remote/sub-remote.js';
import { LocalRemote } from '../remote/local.js';
import { backoffDelay, defaultRetryPolicy, isRetryableError } from '../remote/retry.js';
import { flagBool, flagNumber, flagString, type FlagSpec, type FlagValues } from './args.js';
import type { CommandContext } from './command.js';
import { Filter, filterFromFlags } from './filter.js';
import { startStatsOutput } from './progress.js';
import { assertWritable } from './write-guard.js';
import { FlagValueError, TransferStats, parseDuration, parseSizeSuffix, sizeSuffix } from './stats.js';

// ---- options ----

export type DeleteMode = 'before' | 'during' | 'after';
export type RenameStrategy = 'hash' | 'modtime' | 'leaf';

export interface TransferOptions {
  transfers: number;
  checkers: number;
  dryRun: boolean;
  /** Skip files that exist on the destination, whatever they hold. */
  ignoreExisting: boolean;
  /** Compare by size only. */
  sizeOnly: boolean;
  /** Transfer even when size and time match. */
  ignoreTimes: boolean;
  /** Compare by size and hash instead of size and time (--checksum). */
  checksum: boolean;
  /** Skip files that are newer on the destination (--update). */
  update: boolean;
  /** Don't fix up a differing mtime on the destination when the contents are the same. */
  noUpdateModTime: boolean;
  /** Levels to descend; negative = unlimited. */
  maxDepth: number;
  filter: Filter;
  stats: TransferStats;
  /** Create empty source directories on the destination. */
  createEmptySrcDirs: boolean;
  /** move: remove source directories left empty. */
  deleteEmptySrcDirs: boolean;
  /** sync: when to delete destination files the source lacks. */
  deleteMode: DeleteMode;
  /** sync: move renamed files on the destination instead of delete + copy. */
  trackRenames: boolean;
  trackRenamesStrategy: RenameStrategy[];
  /** Shared bandwidth limit, if any. */
  bwlimit?: TokenBucket;
}

/**
 * A token bucket for --bwlimit: `take` waits while the bytes already let through
 * are ahead of the rate. Pieces may be larger than the bucket: the debt is paid
 * by waiting before the next piece.
 */
export class TokenBucket {
  private available = 0;
  private last = Date.now();
  /** Unused allowance kept for later bursts: a tenth of a second's worth. Debt is paid by waiting. */
  private readonly burst: number;

  constructor(readonly bytesPerSecond: number) {
    this.burst = bytesPerSecond / 10;
  }

  /** Lets `n` bytes through, waiting as long as they take at the rate. */
  async take(n: number): Promise<void> {
    const now = Date.now();
    this.available = Math.min(this.burst, this.available + ((now - this.last) * this.bytesPerSecond) / 1000) - n;
    this.last = now;
    if (this.available < 0) {
      await new Promise((r) => setTimeout(r, Math.ceil((-this.available * 1000) / this.bytesPerSecond)));
    }
  }
}

/** Global flags of the transfer commands (rclone's names and defaults). */
export const transferFlags: FlagSpec[] = [
  { name: 'checksum', short: 'c', type: 'bool', help: 'Check for changes with size & checksum (if available, or fallback to size only).' },
  { name: 'update', short: 'u', type: 'bool', help: 'Skip files that are newer on the destination' },
  { name: 'no-update-modtime', type: 'bool', help: "Don't update destination mod-time if files identical" },
  { name: 'delete-before', type: 'bool', help: 'When synchronizing, delete files on destination before transferring' },
  { name: 'delete-during', type: 'bool', help: 'When synchronizing, delete files during transfer' },
  { name: 'delete-after', type: 'bool', help: 'When synchronizing, delete files on destination after transferring (default)' },
  { name: 'track-renames', type: 'bool', help: 'When synchronizing, track file renames and do a server-side move if possible' },
  { name: 'track-renames-strategy', type: 'string', default: 'hash', help: 'Strategies to use when synchronizing using track-renames hash|modtime|leaf' },
  { name: 'retries', type: 'int', default: 3, help: 'Retry operations this many times if they fail' },
  { name: 'retries-sleep', type: 'string', default: '0s', help: 'Interval between retrying operations if they fail, e.g. 500ms, 60s, 5m (0 to disable)' },
  { name: 'stats-one-line', type: 'bool', help: 'Make the stats fit on one line' },
  { name: 'stats-file-name-length', type: 'int', default: 45, help: 'Max file name length in stats (0 for no limit)' },
  { name: 'stats-log-level', type: 'string', default: 'INFO', help: 'Log level to show --stats output DEBUG|INFO|NOTICE|ERROR' },
  { name: 'bwlimit', type: 'string', default: 'off', help: 'Bandwidth limit in KiB/s, or use suffix B|K|M|G|T|P' },
  { name: 'create-empty-src-dirs', type: 'bool', help: 'Create empty source dirs on destination after sync' },
];

/**
 * A flag value rclone would refuse while parsing the command line: the message,
 * and whether it is shown with the usage (invalid arguments) or alone.
 */
export function flagValueProblem(flags: FlagValues): { message: string; usage: boolean } | undefined {
  const check = (name: string, parse: (v: string) => unknown): string | undefined => {
    const v = flags[name];
    if (v === undefined || v === '') return undefined;
    try {
      parse(String(v));
      return undefined;
    } catch (err) {
      return `invalid argument ${JSON.stringify(String(v))} for "--${name}" flag: ${errorMessage(err)}`;
    }
  };
  const level = (v: string) => {
    if (!['DEBUG', 'INFO', 'NOTICE', 'ERROR'].includes(v.toUpperCase())) throw new FlagValueError(`unknown log level ${JSON.stringify(v)}`);
  };
  const invalid =
    check('bwlimit', (v) => parseSizeSuffix(v)) ??
    check('min-size', (v) => parseSizeSuffix(v)) ??
    check('max-size', (v) => parseSizeSuffix(v)) ??
    check('stats', parseDuration) ??
    check('retries-sleep', parseDuration) ??
    check('min-age', parseDuration) ??
    check('max-age', parseDuration) ??
    check('stats-log-level', level);
  if (invalid) return { message: invalid, usage: true };
  if (['delete-before', 'delete-during', 'delete-after'].filter((f) => flagBool(flags, f)).length > 1) {
    return { message: 'Only one of --delete-before, --delete-during or --delete-after can be used.', usage: false };
  }
  return undefined;
}

/** The transfer settings the flags describe. Throws FlagValueError for bad values. */
export function transferOptionsFromFlags(flags: FlagValues, stats = new TransferStats()): TransferOptions {
  const deleteFlags = ['delete-before', 'delete-during', 'delete-after'].filter((f) => flagBool(flags, f));
  if (deleteFlags.length > 1) throw new FlagValueError('Only one of --delete-before, --delete-during or --delete-after can be used.');
  let deleteMode: DeleteMode = deleteFlags[0] === 'delete-before' ? 'before' : deleteFlags[0] === 'delete-during' ? 'during' : 'after';
  const trackRenames = flagBool(flags, 'track-renames');
  if (trackRenames) deleteMode = 'after'; // rclone: --track-renames forces --delete-after
  const strategies = (flagString(flags, 'track-renames-strategy') || 'hash').split(',').map((s) => s.trim());
  for (const s of strategies) {
    if (!['hash', 'modtime', 'leaf'].includes(s)) throw new FlagValueError(`unknown track renames strategy ${JSON.stringify(s)}`);
  }
  const bw = parseSizeSuffix(flagString(flags, 'bwlimit') || 'off');
  return {
    transfers: Math.max(1, flagNumber(flags, 'transfers') || 4),
    checkers: Math.max(1, flagNumber(flags, 'checkers') || 8),
    dryRun: flagBool(flags, 'dry-run'),
    ignoreExisting: flagBool(flags, 'ignore-existing'),
    sizeOnly: flagBool(flags, 'size-only'),
    ignoreTimes: flagBool(flags, 'ignore-times'),
    checksum: flagBool(flags, 'checksum'),
    update: flagBool(flags, 'update'),
    noUpdateModTime: flagBool(flags, 'no-update-modtime'),
    maxDepth: flags['max-depth'] === undefined ? -1 : flagNumber(flags, 'max-depth'),
    filter: filterFromFlags(flags),
    stats,
    createEmptySrcDirs: flagBool(flags, 'create-empty-src-dirs'),
    deleteEmptySrcDirs: flagBool(flags, 'delete-empty-src-dirs'),
    deleteMode,
    trackRenames,
    trackRenamesStrategy: strategies as RenameStrategy[],
    bwlimit: bw > 0 ? new TokenBucket(bw) : undefined,
  };
}

export const defaultTransferOptions = (): TransferOptions => ({
  transfers: 4,
  checkers: 8,
  dryRun: false,
  ignoreExisting: false,
  sizeOnly: false,
  ignoreTimes: false,
  checksum: false,
  update: false,
  noUpdateModTime: false,
  maxDepth: -1,
  filter: new Filter(),
  stats: new TransferStats(),
  createEmptySrcDirs: false,
  deleteEmptySrcDirs: false,
  deleteMode: 'after',
  trackRenames: false,
  trackRenamesStrategy: ['hash'],
});

// ---- small parts ----

/** A counting semaphore. */
export class Limiter {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiters.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiters.shift()?.();
    }
  }
}

/** Work started in the background whose end must be awaited (errors are handled by the work itself). */
class WorkSet {
  private readonly running = new Set<Promise<void>>();

  spawn(fn: () => Promise<void>): void {
    const p: Promise<void> = fn().finally(() => this.running.delete(p));
    this.running.add(p);
  }

  get size(): number {
    return this.running.size;
  }

  /** Waits until fewer than `n` jobs run (backpressure for the directory walk). */
  async below(n: number): Promise<void> {
    while (this.running.size >= n) await Promise.race(this.running);
  }

  async drain(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running]);
  }
}

/** The remote under any sub-path layers, and the path prefix they add. */
function unwrap(remote: Remote): { base: Remote; prefix: string } {
  let prefix = '';
  let r = remote;
  while (r instanceof SubRemote) {
    prefix = joinPath(r.base, prefix);
    r = r.inner;
  }
  return { base: r, prefix };
}

/** How rclone names a remote in messages: "Local file system at /x", "Encrypted drive 'secret:'". */
export function fsString(remote: Remote): string {
  const { base } = unwrap(remote);
  if (base instanceof LocalRemote) return `Local file system at ${base.root}`;
  const name = remote.displayName;
  switch (remote.type) {
    case 'crypt':
      return `Encrypted drive '${name}'`;
    case 's3':
    case 'swift': {
      const path = name.includes(':') ? name.slice(name.indexOf(':') + 1) : name;
      const [bucket, ...rest] = path.split('/').filter(Boolean);
      const kind = remote.type === 's3' ? 'S3 bucket' : 'Swift container';
      if (!bucket) return remote.type === 's3' ? 'S3 root' : 'Swift root';
      return rest.length ? `${kind} ${bucket} path ${rest.join('/')}` : `${kind} ${bucket}`;
    }
    default:
      return name;
  }
}

/** rclone's "name:root" of a remote ("local:/tmp/x" for unnamed local paths). */
export function fsName(remote: Remote): string {
  const { base } = unwrap(remote);
  if (base instanceof LocalRemote && !remote.displayName.includes(':')) return `local:${base.root}`;
  return remote.displayName;
}

/** A hash type both remotes can report, if any. */
export function commonHash(a: Remote, b: Remote): HashType | undefined {
  if (!a.hash || !b.hash) return undefined;
  return a.features.hashes.find((h) => b.features.hashes.includes(h));
}

/** A server-side move from `src` to `dst` (same storage), if there is one. */
export function serverSideMove(src: Remote, dst: Remote): ((from: string, to: string) => Promise<RemoteEntry>) | undefined {
  const a = unwrap(src);
  const b = unwrap(dst);
  if (a.base === b.base && a.base.move) {
    const move = a.base.move.bind(a.base);
    return (from, to) => move(joinPath(a.prefix, from), joinPath(b.prefix, to));
  }
  // Two local paths: a rename, unless they are on different filesystems.
  if (a.base instanceof LocalRemote && b.base instanceof LocalRemote) {
    const la = a.base;
    const lb = b.base;
    return async (from, to) => {
      const target = lb.abs(joinPath(b.prefix, to));
      await fsp.mkdir(lb.abs(joinPath(b.prefix, parentPath(to))), { recursive: true });
      try {
        await fsp.rename(la.abs(joinPath(a.prefix, from)), target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EXDEV') throw new CrossDeviceError(from, err);
        throw new RemoteIOError(`${from}: ${(err as Error).message}`, { cause: err });
      }
      return dst.stat(to);
    };
  }
  return undefined;
}

/** The server-side move could not be done here; copy and delete instead. */
class CrossDeviceError extends CryptfsError {
  constructor(path: string, cause: unknown) {
    super(`${path}: can't move across filesystems`, { cause });
  }
}

/** Modification times equal within 1 ms (the precision every remote here keeps). */
/**
 * Modification times equal: to the nanosecond when both remotes keep nanoseconds
 * (rclone compares local times exactly), else within our common 1 ms.
 */
export function sameTime(a: RemoteEntry, b: RemoteEntry): boolean {
  if (a.mtimeNs !== undefined && b.mtimeNs !== undefined) return a.mtimeNs === b.mtimeNs;
  return Math.abs(a.mtime.getTime() - b.mtime.getTime()) < 1;
}

/** Quick size + modtime comparison (no hashes): whether `dst` already holds what `src` has. */
export function unchanged(src: RemoteEntry, dst: RemoteEntry, opts: Pick<TransferOptions, 'ignoreTimes' | 'sizeOnly'>): boolean {
  if (opts.ignoreTimes) return false;
  if (src.size !== dst.size) return false;
  if (opts.sizeOnly) return true;
  return sameTime(src, dst);
}

/**
 * rclone's decision whether a destination file needs the source copied over it
 * (operations.NeedTransfer + Equal): size, then modtime (or hash with --checksum);
 * same contents with a different modtime only gets the modtime fixed.
 */
async function needsTransfer(
  src: Remote,
  s: RemoteEntry,
  dst: Remote,
  d: RemoteEntry,
  rel: string,
  opts: TransferOptions,
): Promise<boolean> {
  if (opts.ignoreExisting) {
    log.debug(`${logPath(rel)}: Destination exists, skipping`);
    return false;
  }
  if (opts.ignoreTimes) return true;
  if (opts.update) {
    const dt = d.mtime.getTime() - s.mtime.getTime();
    if (dt > 0) {
      log.debug(`${logPath(rel)}: Destination is newer than source, skipping`);
      return false;
    }
    if (dt === 0 && s.size === d.size) {
      log.debug(`${logPath(rel)}: Destination mod time is within 1ms of source and sizes identical, skipping`);
      return false;
    }
  }
  if (s.size !== d.size) {
    log.debug(`${logPath(rel)}: Sizes differ (src ${s.size} vs dst ${d.size})`);
    return true;
  }
  if (opts.sizeOnly) {
    log.debug(`${logPath(rel)}: Sizes identical`);
    log.debug(`${logPath(rel)}: Unchanged skipping`);
    return false;
  }
  const ht = commonHash(src, dst);
  if (opts.checksum) {
    if (!ht) {
      log.debug(`${logPath(rel)}: Sizes identical (no common hash)`);
      return false;
    }
    const same = await sameHash(src, s.path, dst, d.path, ht, rel);
    if (same) log.debug(`${logPath(rel)}: Unchanged skipping`);
    return !same;
  }
  if (sameTime(s, d)) {
    log.debug(`${logPath(rel)}: Size and modification time the same (differ by ${Math.abs(s.mtime.getTime() - d.mtime.getTime())}ms, within tolerance 1ms)`);
    log.debug(`${logPath(rel)}: Unchanged skipping`);
    return false;
  }
  log.debug(`${logPath(rel)}: Modification times differ by ${d.mtime.getTime() - s.mtime.getTime()}ms: ${s.mtime.toISOString()}, ${d.mtime.toISOString()}`);
  if (!ht) return true; // no way to tell the contents are the same
  if (!(await sameHash(src, s.path, dst, d.path, ht, rel))) return true;
  if (opts.noUpdateModTime) return false;
  if (opts.dryRun) {
    log.notice(`${logPath(rel)}: Skipped set modification time as --dry-run is set`);
    return false;
  }
  await dst.setMtime(d.path, s.mtime, s.mtimeNs);
  log.info(`${logPath(rel)}: Updated modification time in destination`);
  log.debug(`${logPath(rel)}: Unchanged skipping`);
  return false;
}

async function sameHash(src: Remote, sp: string, dst: Remote, dp: string, ht: HashType, rel: string): Promise<boolean> {
  const [a, b] = await Promise.all([src.hash!(sp, ht), dst.hash!(dp, ht)]);
  if (a === undefined || b === undefined) return false;
  if (a === b) log.debug(`${logPath(rel)}: ${ht} = ${a} OK`);
  else log.debug(`${logPath(rel)}: ${ht} = ${a} (${fsString(src)}) ${ht} = ${b} (${fsString(dst)})`);
  return a === b;
}

/**
 * Copies one object, streamed, with its modification time; verifies the size
 * that arrived. `name` is the path shown in messages (the source path).
 */
export async function copyObject(
  src: Remote,
  srcEntry: RemoteEntry,
  dst: Remote,
  dstPath: string,
  opts: Pick<TransferOptions, 'dryRun' | 'stats' | 'bwlimit'>,
  info: { name?: string; replacing?: boolean } = {},
): Promise<void> {
  const stats = opts.stats;
  const name = info.name ?? dstPath;
  const renamed = baseName(dstPath) !== baseName(name) ? ` to: ${logPath(dstPath)}` : '';
  if (opts.dryRun) {
    log.notice(`${logPath(name)}: Skipped copy as --dry-run is set (size ${sizeSuffix(srcEntry.size)})`);
    const t = stats.startTransfer(name, srcEntry.size);
    stats.countBytes(srcEntry.size);
    stats.endTransfer(t, true);
    return;
  }
  const t = stats.startTransfer(name, srcEntry.size);
  let ok = false;
  try {
    // As rclone's low-level retries: a file whose upload broke off is sent again on its own,
    // not only by a next pass of the whole command.
    for (let attempt = 1; ; attempt++) {
      try {
        const source = await src.openRead(srcEntry.path);
        const written = await dst.write(dstPath, stats.account(t, source, opts.bwlimit), {
          mtime: srcEntry.mtime,
          mtimeNs: srcEntry.mtimeNs,
          // A local source can be read twice cheaply (crypt over S3 uses it to hash the ciphertext first).
          reopen: src.type === 'local' ? () => src.openRead(srcEntry.path) : undefined,
          size: srcEntry.size >= 0 ? srcEntry.size : undefined,
        });
        if (srcEntry.size >= 0 && written.size !== srcEntry.size) {
          // Never leave a file that looks complete but is not.
          await dst.delete(dstPath).catch(() => undefined);
          throw new RemoteIOError(`corrupted on transfer: sizes differ ${srcEntry.size} vs ${written.size}`, { retryable: true });
        }
        break;
      } catch (err) {
        if (attempt >= defaultRetryPolicy.attempts || !isRetryableError(err)) throw err;
        log.debug(`${logPath(name)}: Received error: ${errorMessage(err)} - low level retry ${attempt}/${defaultRetryPolicy.attempts}`);
        // The bytes of the broken attempt do not count.
        stats.bytes = Math.max(0, stats.bytes - t.done);
        t.done = 0;
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, defaultRetryPolicy)));
      }
    }
    ok = true;
  } finally {
    stats.endTransfer(t, ok);
  }
  log.info(`${logPath(name)}: Copied (${info.replacing ? 'replaced existing' : 'new'})${renamed}`);
}

/** Deletes one destination object, counted as a check and a delete (dry-run: only said). */
export async function deleteObject(remote: Remote, entry: RemoteEntry, name: string, opts: Pick<TransferOptions, 'dryRun' | 'stats'>): Promise<void> {
  const stats = opts.stats;
  stats.startCheck(name);
  try {
    if (opts.dryRun) {
      log.notice(`${logPath(name)}: Skipped delete as --dry-run is set (size ${sizeSuffix(entry.size)})`);
      stats.deletes++;
      return;
    }
    await remote.delete(entry.path);
    stats.deletes++;
    log.info(`${logPath(name)}: Deleted`);
  } catch (err) {
    stats.error(err);
    log.error(`${logPath(name)}: Couldn't delete: ${errorMessage(err)}`);
    throw err;
  } finally {
    stats.endCheck(name);
  }
}

/** Removes directories deepest first; ones that are not empty stay (rclone's deleteEmptyDirectories). */
async function removeDirs(remote: Remote, dirs: Iterable<string>, opts: Pick<TransferOptions, 'dryRun' | 'stats'>): Promise<void> {
  const sorted = [...new Set(dirs)].filter((d) => d !== '').sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? 1 : -1));
  for (const d of sorted) {
    if (opts.dryRun) {
      log.notice(`${logPath(d)}: Skipped remove directory as --dry-run is set`);
      opts.stats.deletedDirs++;
      continue;
    }
    try {
      await remote.rmdir(d);
      opts.stats.deletedDirs++;
      log.info(`${logPath(d)}: Removing directory`);
    } catch (err) {
      log.debug(`${logPath(d)}: Failed to Rmdir: ${errorMessage(err)}`);
    }
  }
}

// ---- the march ----

/** One name in a directory, as found on either side. */
export interface MarchItem {
  /** Path relative to both roots. */
  rel: string;
  src?: RemoteEntry;
  dst?: RemoteEntry;
}

export interface MarchOptions {
  filter: Filter;
  /** Directory listings in flight. */
  checkers: number;
  /** Levels to descend; negative = unlimited. */
  maxDepth: number;
  stats: TransferStats;
  /** Don't filter the destination side (--delete-excluded). */
  unfilteredDst?: boolean;
}

/**
 * Lists `src` and `dst` side by side, directory by directory, and hands each
 * file pair, file on one side, and directory to `visit` (in name order within a
 * directory). For directories `visit` returns whether to descend. Listing errors
 * are logged and counted; a missing source root is thrown (rclone exits 3).
 */
export async function march(
  src: Remote | undefined,
  dst: Remote | undefined,
  opts: MarchOptions,
  visit: (item: MarchItem) => boolean | Promise<boolean>,
): Promise<void> {
  const listLimiter = new Limiter(Math.max(1, opts.checkers));
  const maxDepth = opts.maxDepth >= 0 ? opts.maxDepth : Infinity;
  let rootError: unknown;

  const list = async (remote: Remote | undefined, dir: string, side: 'source' | 'destination'): Promise<RemoteEntry[] | undefined> => {
    if (!remote) return [];
    try {
      return await listLimiter.run(async () => {
        const out: RemoteEntry[] = [];
        for await (const e of remote.list(dir)) out.push(e);
        return out;
      });
    } catch (err) {
      const missing = err instanceof DirNotFoundError || err instanceof ObjectNotFoundError;
      if (side === 'destination' && missing) return [];
      let error = err;
      if (missing) {
        // rclone's wording: the bare "directory not found" (exit 3).
        error = new DirNotFoundError(dir, { cause: err });
        (error as Error).message = 'directory not found';
      }
      opts.stats.error(error);
      if (dir === '') {
        log.error(`${fsString(remote)}: error reading ${side} root directory: ${missing ? 'directory not found' : errorMessage(err)}`);
        if (side === 'source') rootError = error;
      } else {
        log.error(`${fsString(remote)}: error reading ${side} directory ${JSON.stringify(dir)}: ${errorMessage(err)}`);
      }
      return undefined;
    }
  };

  const rel = (dir: string, path: string) => (dir === '' ? path : path.slice(dir.length + 1));

  const marchDir = async (dir: string, depth: number, hasSrc: boolean, hasDst: boolean): Promise<void> => {
    const [srcList, dstList] = await Promise.all([
      hasSrc ? list(src, dir, 'source') : Promise.resolve([] as RemoteEntry[]),
      hasDst ? list(dst, dir, 'destination') : Promise.resolve([] as RemoteEntry[]),
    ]);
    // A directory that cannot be listed on one side must not look empty there (no deletes, no copies).
    if (srcList === undefined || dstList === undefined) return;
    const files = new Map<string, MarchItem>();
    const dirs = new Map<string, MarchItem>();
    const take = (entries: RemoteEntry[], side: 'src' | 'dst') => {
      for (const e of entries) {
        const name = rel(dir, e.path);
        const path = joinPath(dir, name);
        if (side === 'src' || !opts.unfilteredDst) {
          if (e.isDir ? !opts.filter.includeDir(path) : !opts.filter.includeFile(path, e.size, e.mtime)) continue;
        }
        const map = e.isDir ? dirs : files;
        const item = map.get(name) ?? { rel: path };
        item[side] = e;
        map.set(name, item);
      }
    };
    take(srcList, 'src');
    take(dstList, 'dst');
    const byName = (a: [string, MarchItem], b: [string, MarchItem]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    for (const [, item] of [...files].sort(byName)) await visit(item);
    const subdirs: Promise<void>[] = [];
    for (const [, item] of [...dirs].sort(byName)) {
      const descend = await visit(item);
      if (descend && depth < maxDepth) subdirs.push(marchDir(item.rel, depth + 1, item.src !== undefined, item.dst !== undefined));
    }
    await Promise.all(subdirs);
  };

  await marchDir('', 1, src !== undefined, dst !== undefined);
  if (rootError) throw rootError;
}

// ---- copy / sync / move ----

export type SyncMode = 'copy' | 'sync' | 'move';

/** Most transfers/checks decided but not finished before the directory walk waits (rclone's --max-backlog). */
const MAX_BACKLOG = 10_000;

/**
 * Makes `dst` hold what `src` holds: `copy` adds and replaces, `sync` also
 * deletes what the source lacks (after all transfers succeeded, by default),
 * `move` deletes each source file once it is safely on the destination.
 * Per-file errors are logged and counted in `opts.stats`; the walk goes on.
 * Throws only when the source root cannot be listed.
 */
export async function syncTree(src: Remote, dst: Remote, opts: TransferOptions, mode: SyncMode): Promise<void> {
  if (mode !== 'copy' && overlapping(src, dst, opts.filter)) {
    const err = new OverlappingError('can\'t sync or move files on overlapping remotes (try excluding the destination with a filter rule)');
    opts.stats.error(err);
    throw err;
  }
  await new SyncRun(src, dst, opts, mode).run();
}

/** Syncing or moving a tree into itself: rclone refuses with a fatal error (exit 7). */
class OverlappingError extends CryptfsError {
  override exitCode: number = ExitCode.fatalError;
}

/**
 * Whether `src` and `dst` are the same storage with one path inside the other
 * (unless the filter keeps the destination out of the source walk).
 */
function overlapping(src: Remote, dst: Remote, filter: Filter): boolean {
  const a = unwrap(src);
  const b = unwrap(dst);
  let pa: string;
  let pb: string;
  if (a.base instanceof LocalRemote && b.base instanceof LocalRemote) {
    pa = a.base.abs(a.prefix);
    pb = b.base.abs(b.prefix);
  } else if (a.base === b.base) {
    pa = `/${a.prefix}`;
    pb = `/${b.prefix}`;
  } else return false;
  const inside = (inner: string, outer: string) => inner === outer || inner.startsWith(outer.endsWith('/') ? outer : `${outer}/`);
  if (inside(pb, pa) && pb !== pa) {
    // The destination is a directory of the source: fine if the filter leaves it out.
    const rel = pb.slice(pa.length).replace(/^\/+/, '');
    return filter.includeDir(rel);
  }
  return inside(pb, pa) || inside(pa, pb);
}

interface RenameCandidate {
  item: MarchItem & { src: RemoteEntry };
}

class SyncRun {
  private readonly stats: TransferStats;
  private readonly checkers: Limiter;
  private readonly transfers: Limiter;
  private readonly work = new WorkSet();
  /** move: source to destination on the same storage. */
  private readonly mover?: (from: string, to: string) => Promise<RemoteEntry>;
  /** --track-renames: destination to destination. */
  private readonly renamer?: (from: string, to: string) => Promise<RemoteEntry>;
  /** sync, delete-after: destination files the source lacks. */
  private readonly dstOnly: RemoteEntry[] = [];
  /** sync: destination directories the source lacks (removed at the end if empty). */
  private readonly dstOnlyDirs: string[] = [];
  /** Every source directory (move --delete-empty-src-dirs). */
  private readonly srcDirs: string[] = [];
  /** Source directories with nothing in them, missing on the destination (--create-empty-src-dirs). */
  private readonly emptySrcDirs = new Set<string>();
  private readonly renameCandidates: RenameCandidate[] = [];
  private trackRenames: boolean;

  constructor(
    private readonly src: Remote,
    private readonly dst: Remote,
    private readonly opts: TransferOptions,
    private readonly mode: SyncMode,
  ) {
    this.stats = opts.stats;
    this.checkers = new Limiter(opts.checkers);
    this.transfers = new Limiter(opts.transfers);
    this.mover = mode === 'move' ? serverSideMove(src, dst) : undefined;
    this.renamer = mode === 'sync' && opts.trackRenames ? serverSideMove(dst, dst) : undefined;
    this.trackRenames = mode === 'sync' && opts.trackRenames;
  }

  private marchOptions(): MarchOptions {
    return {
      filter: this.opts.filter,
      checkers: this.opts.checkers,
      maxDepth: this.opts.maxDepth,
      stats: this.stats,
      unfilteredDst: this.mode === 'sync' && this.opts.filter.deleteExcluded,
    };
  }

  async run(): Promise<void> {
    if (this.opts.checksum && !commonHash(this.src, this.dst)) {
      log.notice(`${fsString(this.dst)}: --checksum is in use but the source and destination have no hashes in common; falling back to --size-only`);
    }
    if (this.trackRenames) this.checkTrackRenames();
    if (this.mode === 'sync' && this.opts.deleteMode === 'before') {
      await this.deleteOnlyPass();
      if (this.stats.errored()) {
        log.error(`${fsString(this.dst)}: not deleting files as there were IO errors`);
        return;
      }
    }
    let marchError: unknown;
    try {
      await march(this.src, this.dst, this.marchOptions(), (item) => this.visit(item));
    } catch (err) {
      marchError = err;
    }
    await this.work.drain();
    if (this.trackRenames) await this.doRenames();
    await this.work.drain();

    if (this.opts.createEmptySrcDirs) await this.makeEmptyDirs();
    if (this.mode === 'sync') {
      if (this.opts.deleteMode === 'after') {
        if (this.stats.errored()) log.error(`${fsString(this.dst)}: not deleting files as there were IO errors`);
        else await this.deleteFiles(this.dstOnly);
      }
      if (this.stats.errored()) log.error(`${fsString(this.dst)}: not deleting directories as there were IO errors`);
      else if (this.dst.features.realDirectories) await removeDirs(this.dst, this.dstOnlyDirs, this.opts);
    }
    if (this.mode === 'move' && this.opts.deleteEmptySrcDirs) {
      await removeDirs(this.src, this.srcDirs, this.opts);
    }
    if (this.stats.transfers === 0) log.info('There was nothing to transfer');
    if (marchError) throw marchError;
  }

  /** --track-renames needs a server-side move and (for the hash strategy) a common hash. */
  private checkTrackRenames(): void {
    if (!this.renamer) {
      log.error(`${fsString(this.dst)}: Ignoring --track-renames as the destination does not support server-side move or copy`);
      this.trackRenames = false;
      return;
    }
    if (this.opts.trackRenamesStrategy.includes('hash') && !commonHash(this.src, this.dst)) {
      log.error(`${fsString(this.dst)}: Ignoring --track-renames as the source and destination do not have a common hash`);
      this.trackRenames = false;
    }
  }

  /** --delete-before: a walk that only deletes, before anything is copied. */
  private async deleteOnlyPass(): Promise<void> {
    const dirs: string[] = [];
    try {
      await march(this.src, this.dst, this.marchOptions(), (item) => {
        if (item.dst && !item.src) {
          if (item.dst.isDir) {
            dirs.push(item.rel);
            return true;
          }
          const entry = item.dst;
          this.work.spawn(() => this.checkers.run(() => deleteObject(this.dst, entry, item.rel, this.opts)).catch(() => undefined));
          return false;
        }
        return item.src?.isDir === true && item.dst !== undefined;
      });
    } catch {
      // counted by the march
    }
    await this.work.drain();
    this.dstOnlyDirs.push(...dirs);
  }

  private async visit(item: MarchItem): Promise<boolean> {
    const { src, dst } = item;
    const parent = parentPath(item.rel);
    if (src) this.emptySrcDirs.delete(parent);
    // Directories
    if (src?.isDir || (!src && dst?.isDir)) {
      if (src) {
        this.srcDirs.push(item.rel);
        if (!dst) this.emptySrcDirs.add(item.rel);
        return true;
      }
      // Only on the destination: for sync, everything in it goes.
      if (this.mode === 'sync') {
        this.dstOnlyDirs.push(item.rel);
        return true;
      }
      return false;
    }
    // Backpressure: don't run ahead of the workers without bound.
    await this.work.below(MAX_BACKLOG);
    if (src && dst) {
      this.stats.queueCheck();
      this.work.spawn(() => this.checkers.run(() => this.checkPair(item as Required<MarchItem>)));
    } else if (src) {
      if (this.trackRenames) this.renameCandidates.push({ item: item as MarchItem & { src: RemoteEntry } });
      else this.queueTransfer(item.rel, src, false);
    } else if (dst && this.mode === 'sync') {
      if (this.opts.deleteMode === 'during') {
        this.work.spawn(() => this.checkers.run(() => deleteObject(this.dst, dst, item.rel, this.opts)).catch(() => undefined));
      } else if (this.opts.deleteMode === 'after') {
        this.dstOnly.push(dst);
      }
    }
    return false;
  }

  /** A file on both sides: transfer it, or leave it (and for move, delete the source). */
  private async checkPair(item: Required<MarchItem>): Promise<void> {
    const { rel, src, dst } = item;
    this.stats.startCheck(rel);
    let transfer = false;
    try {
      transfer = await needsTransfer(this.src, src, this.dst, dst, rel, this.opts);
    } catch (err) {
      this.stats.error(err);
      log.error(`${logPath(rel)}: Failed to check: ${errorMessage(err)}`);
      return;
    } finally {
      this.stats.endCheck(rel);
    }
    if (transfer) {
      this.queueTransfer(rel, src, true, dst);
    } else if (this.mode === 'move') {
      // Already there: the source copy is surplus.
      await deleteObject(this.src, src, rel, this.opts).catch(() => undefined);
    }
  }

  private queueTransfer(rel: string, src: RemoteEntry, replacing: boolean, dstEntry?: RemoteEntry): void {
    this.stats.queueTransfer(src.size);
    this.work.spawn(() =>
      this.transfers.run(async () => {
        this.stats.unqueueTransfer(src.size);
        try {
          if (this.mode === 'move') await this.moveOne(rel, src, replacing);
          else await copyObject(this.src, src, this.dst, dstEntry?.path ?? rel, this.opts, { name: rel, replacing });
        } catch (err) {
          this.stats.error(err);
          log.error(`${logPath(rel)}: Failed to ${this.mode === 'move' ? 'move' : 'copy'}: ${errorMessage(err)}`);
        }
      }),
    );
  }

  /** Moves one file: server-side where the storage allows it, else copy then delete the source. */
  private async moveOne(rel: string, src: RemoteEntry, replacing: boolean): Promise<void> {
    await moveObject(this.src, src, this.dst, rel, this.opts, { name: rel, replacing, mover: this.mover });
  }

  private async deleteFiles(entries: RemoteEntry[]): Promise<void> {
    // Destination paths are relative to the destination root, which is what messages show.
    for (const e of entries) {
      this.work.spawn(() => this.checkers.run(() => deleteObject(this.dst, e, e.path, this.opts)).catch(() => undefined));
    }
    await this.work.drain();
  }

  private async makeEmptyDirs(): Promise<void> {
    for (const d of [...this.emptySrcDirs].sort()) {
      if (this.opts.dryRun) {
        log.notice(`${logPath(d)}: Skipped make directory as --dry-run is set`);
        continue;
      }
      try {
        await this.dst.mkdir(d);
        log.debug(`${logPath(d)}: Making directory`);
      } catch (err) {
        this.stats.error(err);
        log.error(`${logPath(d)}: Failed to make directory: ${errorMessage(err)}`);
      }
    }
  }

  /** --track-renames: a new source file that matches a destination file about to be deleted is moved there. */
  private async doRenames(): Promise<void> {
    log.info(`${fsString(this.dst)}: Making map for --track-renames`);
    const strategies = this.opts.trackRenamesStrategy;
    const ht = strategies.includes('hash') ? commonHash(this.src, this.dst) : undefined;
    const keyOf = async (remote: Remote, e: RemoteEntry): Promise<string | undefined> => {
      const parts = [String(e.size)];
      if (strategies.includes('modtime')) parts.push(String(e.mtime.getTime()));
      if (strategies.includes('leaf')) parts.push(baseName(e.path));
      if (ht) {
        const h = await remote.hash!(e.path, ht).catch(() => undefined);
        if (!h) return undefined;
        parts.push(h);
      }
      return parts.join('\0');
    };
    const byKey = new Map<string, RemoteEntry[]>();
    for (const d of this.dstOnly) {
      const key = await this.checkers.run(() => keyOf(this.dst, d));
      if (key === undefined) continue;
      const list = byKey.get(key) ?? [];
      list.push(d);
      byKey.set(key, list);
    }
    log.info(`${fsString(this.dst)}: Finished making map for --track-renames`);
    for (const { item } of this.renameCandidates) {
      const key = await this.checkers.run(() => keyOf(this.src, item.src));
      const match = key === undefined ? undefined : byKey.get(key)?.shift();
      if (!match) {
        this.queueTransfer(item.rel, item.src, false);
        continue;
      }
      this.dstOnly.splice(this.dstOnly.indexOf(match), 1);
      this.work.spawn(() =>
        this.transfers.run(async () => {
          this.stats.startCheck(item.rel);
          try {
            if (this.opts.dryRun) {
              log.notice(`${logPath(match.path)}: Skipped move as --dry-run is set (size ${sizeSuffix(match.size)})`);
            } else {
              await this.renamer!(match.path, item.rel);
              log.info(`${logPath(match.path)}: Moved (server-side) to: ${logPath(item.rel)}`);
              log.info(`${logPath(item.rel)}: Renamed from ${JSON.stringify(logPath(match.path))}`);
            }
            this.stats.renames++;
            this.stats.countBytes(match.size);
          } catch (err) {
            this.stats.error(err);
            log.error(`${logPath(item.rel)}: Failed to rename: ${errorMessage(err)}`);
          } finally {
            this.stats.endCheck(item.rel);
          }
        }),
      );
    }
  }
}

/**
 * Moves one object to `dstPath` of `dst`: a server-side move when `mover` is
 * given (and works), else copy, then delete the source once the copy is complete.
 */
export async function moveObject(
  src: Remote,
  srcEntry: RemoteEntry,
  dst: Remote,
  dstPath: string,
  opts: Pick<TransferOptions, 'dryRun' | 'stats' | 'bwlimit'>,
  info: { name: string; replacing?: boolean; mover?: (from: string, to: string) => Promise<RemoteEntry> },
): Promise<void> {
  const stats = opts.stats;
  const name = info.name;
  const to = baseName(dstPath) !== baseName(name) ? ` to: ${logPath(dstPath)}` : '';
  if (opts.dryRun) {
    stats.startCheck(name);
    log.notice(`${logPath(name)}: Skipped move as --dry-run is set (size ${sizeSuffix(srcEntry.size)})`);
    stats.renames++;
    stats.countBytes(srcEntry.size);
    stats.endCheck(name);
    return;
  }
  if (info.mover) {
    stats.startCheck(name);
    try {
      await info.mover(srcEntry.path, dstPath);
      stats.renames++;
      stats.countBytes(srcEntry.size);
      log.info(`${logPath(name)}: Moved (server-side)${to}`);
      return;
    } catch (err) {
      if (!(err instanceof CrossDeviceError)) throw err;
      log.debug(`${logPath(name)}: Server-side move failed, copying instead: ${errorMessage(err)}`);
    } finally {
      stats.endCheck(name);
    }
  }
  await copyObject(src, srcEntry, dst, dstPath, opts, { name, replacing: info.replacing });
  stats.renames++;
  await deleteObject(src, srcEntry, name, opts);
}

/** Error to end a command with when some files failed: rclone's "Failed to copy with N errors". */
export function summariseErrors(verb: string, stats: TransferStats): CryptfsError | undefined {
  if (!stats.errors) return undefined;
  const last = stats.lastError;
  const err = new CryptfsError(
    stats.errors <= 1 ? `${verb}: ${errorMessage(last)}` : `${verb} with ${stats.errors} errors: last error was: ${errorMessage(last)}`,
    { cause: last },
  );
  err.exitCode = exitCodeOf(last);
  return err;
}

/** rclone's exit code for the error a command ended with. */
export function exitCodeOf(err: unknown): number {
  return err instanceof CryptfsError ? err.exitCode : ExitCode.uncategorized;
}

// ---- the command wrapper (rclone's cmd.Run) ----

/** The command's final error, printed by main as "Failed to <cmd>...". */
class CommandError extends CryptfsError {
  constructor(message: string, exitCode: number, cause: unknown) {
    super(message, { cause });
    this.exitCode = exitCode;
  }
}

export interface RunOptions {
  /** Repeat the whole command on errors (--retries): copy, sync, move, touch. */
  retry: boolean;
  /** Print stats at the end (and periodically with --stats). */
  showStats: boolean;
}

/** The level stats are logged at: --stats-log-level, raised to NOTICE by --dry-run. */
export function statsLogLevel(flags: FlagValues): LogLevel {
  if (flagBool(flags, 'dry-run')) return 'notice';
  const l = flagString(flags, 'stats-log-level').toLowerCase();
  return (['debug', 'info', 'notice', 'error'].includes(l) ? l : 'info') as LogLevel;
}

function logAt(level: LogLevel, message: string): void {
  log[level](message);
}

/**
 * Runs a command body the way rclone's cmd.Run does: starts the stats or
 * progress output, retries the whole body on errors, prints the final stats,
 * and turns the outcome into the exit code (throwing the "Failed to <cmd>" error).
 * Text the body returns goes to stdout after the progress display has stopped.
 * Returns the exit code for success paths (0, or 9 with --error-on-no-transfer).
 */
export async function runCommand(
  ctx: CommandContext,
  name: string,
  run: RunOptions,
  body: (stats: TransferStats) => Promise<string | void>,
): Promise<number> {
  const flags = ctx.flags;
  const stats = new TransferStats();
  const statsInterval = parseDuration(flagString(flags, 'stats') || '1m0s');
  const statsGiven = flagString(flags, 'stats') !== '1m0s' && flagString(flags, 'stats') !== '';
  const showStats = run.showStats || statsGiven;
  const stop = startStatsOutput(ctx, stats, { showStats, statsInterval, level: statsLogLevel(flags) });
  const retries = Math.max(1, flagNumber(flags, 'retries') || 1);
  const retriesSleep = parseDuration(flagString(flags, 'retries-sleep') || '0');
  let cmdErr: unknown;
  /** What the body has for stdout: written once -P has stopped drawing, so the two don't mix. */
  let output: string | void = undefined;
  try {
    for (let attempt = 1; attempt <= retries; attempt++) {
      cmdErr = undefined;
      try {
        output = await body(stats);
      } catch (err) {
        cmdErr = err;
        if (!stats.isCounted(err)) stats.error(err);
      }
      const lastErr = stats.lastError;
      cmdErr ??= lastErr;
      if (!run.retry || !stats.errored()) {
        if (attempt > 1) log.error(`Attempt ${attempt}/${retries} succeeded`);
        break;
      }
      if (stats.fatalError) {
        log.error('Fatal error received - not attempting retries');
        break;
      }
      if (!stats.retryError) {
        log.error("Can't retry any of the errors - not attempting retries");
        break;
      }
      log.error(
        lastErr !== undefined
          ? `Attempt ${attempt}/${retries} failed with ${stats.errors} errors and: ${errorMessage(lastErr)}`
          : `Attempt ${attempt}/${retries} failed with ${stats.errors} errors`,
      );
      if (attempt < retries) stats.resetErrors();
      if (retriesSleep > 0 && attempt < retries) await new Promise((r) => setTimeout(r, retriesSleep));
    }
  } finally {
    await stop();
  }
  if (output) await new Promise<void>((resolve, reject) => ctx.stdout.write(output as string, (err) => (err ? reject(err) : resolve())));
  if (showStats && (stats.errored() || statsInterval > 0)) {
    const level = statsLogLevel(flags);
    const oneLine = flagBool(flags, 'stats-one-line');
    const text = stats.string({ oneLine, fileNameLength: flagNumber(flags, 'stats-file-name-length') });
    logAt(level, text);
  }
  if (cmdErr === undefined && stats.lastError !== undefined) cmdErr = stats.lastError;
  if (cmdErr !== undefined) {
    const n = stats.errors;
    const message =
      n <= 1 ? `Failed to ${name}: ${errorMessage(cmdErr)}` : `Failed to ${name} with ${n} errors: last error was: ${errorMessage(cmdErr)}`;
    throw new CommandError(message, exitCodeOf(cmdErr), cmdErr);
  }
  if (flagBool(flags, 'error-on-no-transfer') && stats.transfers === 0) return ExitCode.noFilesTransferred;
  return 0;
}

/**
 * copyto/moveto of one file: `srcFile` of `src` to `dstPath` of `dst`, unless
 * the destination already holds it (then moveto just deletes the source).
 */
export async function transferFile(
  src: Remote,
  srcFile: string,
  dst: Remote,
  dstPath: string,
  opts: TransferOptions,
  mode: 'copy' | 'move',
): Promise<void> {
  const stats = opts.stats;
  const s = { ...(await src.stat(srcFile)), path: srcFile };
  let d: RemoteEntry | undefined;
  try {
    d = await dst.stat(dstPath);
  } catch (err) {
    if (!(err instanceof ObjectNotFoundError || err instanceof DirNotFoundError)) throw err;
  }
  if (d?.isDir) throw new NotAFileError('is a directory not a file');
  if (d) {
    stats.startCheck(srcFile);
    let transfer: boolean;
    try {
      transfer = await needsTransfer(src, s, dst, { ...d, path: dstPath }, srcFile, opts);
    } finally {
      stats.endCheck(srcFile);
    }
    if (!transfer) {
      if (mode === 'move') await deleteObject(src, s, srcFile, opts);
      return;
    }
  }
  if (mode === 'move') {
    await moveObject(src, s, dst, dstPath, opts, { name: srcFile, replacing: d !== undefined, mover: serverSideMove(src, dst) });
  } else {
    await copyObject(src, s, dst, dstPath, opts, { name: srcFile, replacing: d !== undefined });
  }
}

/** The destination of copyto/moveto is a directory. */
class NotAFileError extends CryptfsError {}

/** A single-file source cannot be combined with filters (rclone refuses too). */
export class SingleFileFilterError extends CryptfsError {}

/**
 * copy/sync/move SRC DST as commands: a file source is limited to that file
 * (rclone's single-file filter); a directory source is marched against DST.
 */
export async function runTreeCommand(
  ctx: CommandContext,
  name: string,
  mode: SyncMode,
  srcSpec: string,
  dstSpec: string,
): Promise<number> {
  transferOptionsFromFlags(ctx.flags); // flag errors before anything starts
  const { remote: src, file } = await ctx.factory.openTarget(srcSpec);
  const dst = await ctx.factory.open(dstSpec);
  await assertWritable(ctx, dst);
  return runCommand(ctx, name, { retry: true, showStats: true }, async (stats) => {
    const opts = transferOptionsFromFlags(ctx.flags, stats);
    if (file !== undefined) {
      if (opts.filter.active) throw new SingleFileFilterError(`Can't limit to single files when using filters: ${srcSpec}`);
      opts.filter = opts.filter.withSingleFile(file);
    }
    await syncTree(src, dst, opts, mode);
  });
}

/** copyto/moveto SRC DST: a file source goes to exactly DST; a directory source is like copy/move. */
export async function runToCommand(
  ctx: CommandContext,
  name: string,
  mode: 'copy' | 'move',
  srcSpec: string,
  dstSpec: string,
  splitSpec: (spec: string) => { parentSpec: string; leaf: string },
): Promise<number> {
  transferOptionsFromFlags(ctx.flags);
  const { remote: src, file } = await ctx.factory.openTarget(srcSpec);
  if (file === undefined) return runTreeCommand(ctx, name, mode, srcSpec, dstSpec);
  const { parentSpec, leaf } = splitSpec(dstSpec);
  const dst = await ctx.factory.open(parentSpec);
  await assertWritable(ctx, dst);
  return runCommand(ctx, name, { retry: true, showStats: true }, async (stats) => {
    const opts = transferOptionsFromFlags(ctx.flags, stats);
    await transferFile(src, file, dst, leaf, opts, mode);
  });
}
