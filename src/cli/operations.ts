// Operations on single objects (rclone's fs/operations): how remotes are named
// in messages, the hash two remotes share, server-side moves, whether a file
// needs transferring, and copy/move/delete of one object with the low-level
// retry loop; also copyto/moveto of one file.
import { abortableSleep, asAborted } from '../abort.js';
import { entryHash, hashless } from './entry-hash.js';
import * as fsp from 'node:fs/promises';
import { CryptfsError, DirNotFoundError, ObjectNotFoundError, RemoteIOError, errorMessage } from '../errors.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import type { ByteSource, HashType, Metadata, ReadOptions, Remote, RemoteEntry } from '../remote/remote.js';
import { baseName, joinPath, parentPath, PieceReuse } from '../remote/remote.js';
import { SubRemote } from '../remote/sub-remote.js';
import { LocalRemote } from '../remote/local.js';
import { CryptRemote } from '../remote/crypt.js';
import { backoffDelay, defaultRetryPolicy, isRetryableError } from '../remote/retry.js';
import { sizeSuffix } from './stats.js';
import type { TransferOptions } from './transfer-flags.js';

/** The remote under any sub-path layers, and the path prefix they add. */
export function unwrap(remote: Remote): { base: Remote; prefix: string } {
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

/**
 * A hash type both remotes can report, if any: the first of `a`'s that `b` has (rclone's order,
 * MD5 first), except against a crypt remote's sealed records, which state SHA-256 at no cost:
 * then SHA-256 when both have it (the record's own hash, and faster to compute than MD5 here).
 */
export function commonHash(a: Remote, b: Remote): HashType | undefined {
  if (!a.hash || !b.hash) return undefined;
  const both = (h: HashType) => a.features.hashes.includes(h) && b.features.hashes.includes(h);
  const sealed = (r: Remote) => {
    const base = unwrap(r).base;
    return base instanceof CryptRemote && !base.options.noDataEncryption;
  };
  if ((sealed(a) || sealed(b)) && both('sha256')) return 'sha256';
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
 * `entry` with its stored modification time: as listed, unless the listing left it unread
 * (RemoteEntry.mtimeUnread: S3 and Swift listed without a HEAD per object), then a stat's (a HEAD,
 * as rclone's ModTime makes one, only for the files whose times are compared).
 */
export async function storedTimes(remote: Remote, entry: RemoteEntry): Promise<RemoteEntry> {
  if (!entry.mtimeUnread) return entry;
  return { ...(await remote.stat(entry.path)), path: entry.path };
}

/**
 * rclone's decision whether a destination file needs the source copied over it
 * (operations.NeedTransfer + Equal): size, then modtime (or hash with --checksum);
 * same contents with a different modtime only gets the modtime fixed.
 */
export async function needsTransfer(
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
  // Only compared times are read (the listings may have left them unread).
  if (opts.update || (s.size === d.size && !opts.sizeOnly && !opts.checksum)) {
    [s, d] = await Promise.all([storedTimes(src, s), storedTimes(dst, d)]);
  }
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
    const same = await sameHash(src, s, dst, d, ht, rel);
    if (same === undefined) {
      // One side has no hash for this object (an unsealed crypt object): sizes decide, as without a common hash.
      hashless.count++;
      log.debug(`${logPath(rel)}: Sizes identical (no ${ht} for this object)`);
      return false;
    }
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
  if (!(await sameHash(src, s, dst, d, ht, rel))) return true;
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

/** Whether both objects have the same hash; undefined when one side has none for its object. */
async function sameHash(src: Remote, s: RemoteEntry, dst: Remote, d: RemoteEntry, ht: HashType, rel: string): Promise<boolean | undefined> {
  const [a, b] = await Promise.all([entryHash(src, s, ht), entryHash(dst, d, ht)]);
  if (a === undefined || b === undefined) return undefined;
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
  opts: Pick<TransferOptions, 'dryRun' | 'stats' | 'bwlimit' | 'metadata' | 'signal'>,
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
        const signal = opts.signal;
        // The source may refill its buffers if the destination allows it (counting bytes keeps none).
        const reuse = new PieceReuse();
        const { source, stored } = await openSource(src, srcEntry, { signal, reuse });
        const written = await dst.write(dstPath, stats.account(t, source, opts.bwlimit), {
          signal,
          reusePieces: reuse.allow,
          mtime: stored.mtime,
          mtimeNs: stored.mtimeNs,
          // A local source can be read twice cheaply (crypt over S3 uses it to hash the ciphertext first).
          reopen: src.type === 'local' ? (again) => src.openRead(srcEntry.path, undefined, { signal, reuse: again?.reuse }) : undefined,
          size: srcEntry.size >= 0 ? srcEntry.size : undefined,
          metadata: opts.metadata ? await metadataOf(src, stored) : undefined,
          // Only the first attempt: a broken one may have left an object behind.
          absent: attempt === 1 && info.replacing === false ? true : undefined,
        });
        if (srcEntry.size >= 0 && written.size !== srcEntry.size) {
          // Never leave a file that looks complete but is not.
          await dst.delete(dstPath).catch(() => undefined);
          throw new RemoteIOError(`corrupted on transfer: sizes differ ${srcEntry.size} vs ${written.size}`, { retryable: true });
        }
        break;
      } catch (err) {
        if (attempt >= defaultRetryPolicy.attempts || !isRetryableError(err) || opts.signal?.aborted) throw asAborted(err, opts.signal);
        log.debug(`${logPath(name)}: Received error: ${errorMessage(err)} - low level retry ${attempt}/${defaultRetryPolicy.attempts}`);
        // The bytes of the broken attempt do not count.
        stats.bytes = Math.max(0, stats.bytes - t.done);
        t.done = 0;
        await abortableSleep(backoffDelay(attempt, defaultRetryPolicy), opts.signal);
      }
    }
    ok = true;
  } finally {
    stats.endTransfer(t, ok);
  }
  log.info(`${logPath(name)}: Copied (${info.replacing ? 'replaced existing' : 'new'})${renamed}`);
}

/**
 * Opens a copy's source, and its entry with the stored time and metadata: the listed one, or where
 * the listing left them unread (mtimeUnread), the read's own response's (S3/Swift: the GET's
 * headers, as rclone's Open takes them; no HEAD), else a stat's.
 */
async function openSource(src: Remote, entry: RemoteEntry, options: ReadOptions): Promise<{ source: ByteSource; stored: RemoteEntry }> {
  if (!entry.mtimeUnread) return { source: await src.openRead(entry.path, undefined, options), stored: entry };
  if (src.openReadWithInfo) {
    const { source, entry: stored } = await src.openReadWithInfo(entry.path, undefined, options);
    return { source, stored };
  }
  const stored = await storedTimes(src, entry);
  return { source: await src.openRead(entry.path, undefined, options), stored };
}

/**
 * The source object's metadata for -M: what its listing carried, else what a stat says
 * (S3/Swift listings taken without a HEAD per object). The mtime goes as the write's own time.
 */
async function metadataOf(src: Remote, entry: RemoteEntry): Promise<Metadata | undefined> {
  const md = entry.metadata ?? (src.setMetadata ? (await src.stat(entry.path)).metadata : undefined);
  if (!md) return undefined;
  const { mtime: _mtime, ...rest } = md;
  return rest;
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
export async function removeDirs(remote: Remote, dirs: Iterable<string>, opts: Pick<TransferOptions, 'dryRun' | 'stats'>): Promise<void> {
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

/**
 * Moves one object to `dstPath` of `dst`: a server-side move when `mover` is
 * given (and works), else copy, then delete the source once the copy is complete.
 */
export async function moveObject(
  src: Remote,
  srcEntry: RemoteEntry,
  dst: Remote,
  dstPath: string,
  opts: Pick<TransferOptions, 'dryRun' | 'stats' | 'bwlimit' | 'metadata' | 'signal'>,
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
