// The rename engine of the VFS, for remotes with or without a rename: a file
// (its object moved, then its file object and cache file follow the name),
// and a whole directory (atomic moves undone on failure, or copy everything
// then delete on object stores; then the files, virtual directories and cached
// listings below it follow); and the single-object moves and copies they use.
// Also the removal of a file (unlink), which shares the rename's view of files
// that are open, dirty or still streaming.
import { AlreadyExistsError, DirNotEmptyError, ErrnoError, errorMessage, IsDirectoryError, NotDirectoryError } from '../errors.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import type { Metadata, Remote, RemoteEntry } from '../remote/remote.js';
import { metadataOfPosix, posixAttrsOf } from '../remote/metadata.js';
import { baseName, parentPath } from '../remote/remote.js';
import type { DirCache } from './dir-cache.js';
import { type VfsAttr, type VfsFile } from './file-handle.js';
import { liveFile } from './file-cache.js';
import { isNotFound, under } from './names.js';
import type { VfsOptions } from './options.js';
import { mapLimit } from '../concurrency.js';
import type { Uploads } from './uploads.js';
import type { CacheStore } from './write-cache.js';

/** What a rename asks of the VFS. */
export interface RenameHost {
  readonly remote: Remote;
  readonly options: VfsOptions;
  readonly dirCache: DirCache;
  /** The VFS's file objects by path (renamed ones move with their names). */
  readonly files: Map<string, VfsFile>;
  /** Directories kept only by the VFS (those below the directory move with it). */
  readonly virtualDirs: Set<string>;
  readonly uploads: Uploads;
  store(): CacheStore;
  lookup(path: string): Promise<VfsAttr | undefined>;
  dirHasEntries(dir: string): Promise<boolean>;
  validateName(path: string, isDir: boolean): void;
  /** Drops a file whose name went away (replaced by the rename). */
  discard(file: VfsFile): Promise<void>;
}

/**
 * unlink(2) of the file at `path`: its object goes from the remote (a file still streaming loses
 * it when its upload ends), its cache file with its name; open descriptors keep reading.
 */
export async function removeFile(host: RenameHost, path: string): Promise<void> {
  await host.uploads.withBarrier([path], async () => {
    const file = liveFile(host.files, path);
    if (file?.writer) {
      // Still streaming: the object is removed once the upload ends (streamFinished).
      file.unlinked = true;
      host.files.delete(path);
    } else {
      if (file?.cache && file.handles > 0 && file.cache.sourceSize > 0) {
        // Open descriptors keep reading the contents after the name is gone.
        await file.cache.fillFromSource();
      }
      const onRemote = file ? file.existsOnRemote : true;
      if (onRemote) {
        try {
          await host.remote.delete(path);
        } catch (err) {
          if (!(isNotFound(err) && file)) throw err;
        }
      }
      if (file) await host.discard(file);
    }
    host.dirCache.remove(parentPath(path), baseName(path));
  });
}

/** Renames a file (rename(2) semantics: replaces a file at `to` unless `noReplace`). */
export async function renameFile(host: RenameHost, from: string, to: string, src: VfsAttr, noReplace: boolean): Promise<void> {
  const dst = await host.lookup(to);
  if (dst?.isDir) throw new IsDirectoryError(to);
  if (dst && noReplace) throw new AlreadyExistsError(to);
  host.validateName(to, false);
  if (liveFile(host.files, from)?.writer || liveFile(host.files, to)?.writer) {
    throw new ErrnoError('EBUSY', `${logPath(from)}: can't rename a file open for writing without --vfs-cache-mode >= writes`);
  }
  await host.uploads.withBarrier([from, to], async () => {
    const srcFile = liveFile(host.files, from);
    const dstFile = liveFile(host.files, to);
    const srcOnRemote = srcFile ? srcFile.existsOnRemote : true;
    const dstOnRemote = dst !== undefined && (dstFile ? dstFile.existsOnRemote : true);
    if (srcOnRemote) {
      try {
        await moveObject(host.remote, from, to);
      } catch (err) {
        // A dirty file whose old object is gone: its upload will make the new one.
        if (!(isNotFound(err) && srcFile?.dirty)) throw err;
      }
    }
    if (dstFile && dstFile !== srcFile) await host.discard(dstFile);
    if (srcFile) {
      host.files.delete(from);
      srcFile.path = to;
      srcFile.existsOnRemote = srcOnRemote || dstOnRemote;
      host.files.set(to, srcFile);
      if (srcFile.cache) {
        srcFile.cache.path = to;
        if (srcFile.cache.journaled) await host.store().markDirty(srcFile.cache);
      }
    }
    host.dirCache.remove(parentPath(from), baseName(from));
    const now = srcFile ? srcFile.attr() : src;
    host.dirCache.upsert(parentPath(to), baseName(to), { isDir: false, size: now.size, mtime: now.mtime, metadata: now.metadata });
  });
}

/** Renames a directory and everything below it (`to` must be absent or an empty directory). */
export async function renameDir(host: RenameHost, from: string, to: string, noReplace: boolean): Promise<void> {
  if (to.startsWith(from + '/')) throw new ErrnoError('EINVAL', `can't move ${logPath(from)} into itself`);
  const dst = await host.lookup(to);
  if (dst) {
    if (!dst.isDir) throw new NotDirectoryError(to);
    if (noReplace) throw new AlreadyExistsError(to);
    if (await host.dirHasEntries(to)) throw new DirNotEmptyError(to);
  }
  host.validateName(to, true);
  for (const f of host.files.values()) {
    if (f.writer && under(f.path, [from])) {
      throw new ErrnoError('EBUSY', `${logPath(from)}: holds ${logPath(f.path)}, open for writing without --vfs-cache-mode >= writes`);
    }
  }
  await host.uploads.withBarrier([from, to], async () => {
    if (dst) await rmdirRemote(host.remote, to);
    const tree = await walkRemote(host.remote, from);
    const target = (p: string) => to + p.slice(from.length);
    const realDirs = host.remote.features.realDirectories;
    const parallel = Math.max(4, host.options.transfers * 2);
    await host.remote.mkdir(to);
    if (realDirs) for (const d of tree.dirs) await host.remote.mkdir(target(d));
    if (realDirs && host.remote.move) {
      // Renames within one file system: each move is atomic; undo them all if one fails.
      const moved: string[] = [];
      try {
        // Stops at the first failure (less to undo); every started move settles first.
        await mapLimit(tree.files, parallel, async (e) => {
          await host.remote.move!(e.path, target(e.path));
          moved.push(e.path);
        });
      } catch (err) {
        await mapLimit(moved, parallel, (p) => host.remote.move!(target(p), p), { continueOnError: true }).catch(
          (undo) => log.error(`${logPath(from)}: undoing a failed directory rename: ${errorMessage(undo)}`),
        );
        throw err;
      }
    } else {
      // Object stores: copy everything, and remove the old names only once every copy exists.
      const copied: string[] = [];
      try {
        await mapLimit(tree.files, parallel, async (e) => {
          await copyObject(host.remote, e.path, target(e.path));
          copied.push(target(e.path));
        });
      } catch (err) {
        await mapLimit(copied, parallel, (p) => host.remote.delete(p), { continueOnError: true }).catch(() => undefined);
        throw err;
      }
      await mapLimit(tree.files, parallel, (e) => host.remote.delete(e.path), { continueOnError: true });
    }
    const modes = realDirs && host.remote.setMetadata ? await copyDirModes(host.remote, [from, ...tree.dirs], target) : undefined;
    // Old directories (on object stores these are usually gone with their last object).
    for (const d of [from, ...tree.dirs].reverse()) {
      await rmdirRemote(host.remote, d).catch((err) => log.error(`${logPath(d)}: removing after rename: ${errorMessage(err)}`));
    }
    // Files not uploaded yet (or uploading later) follow the directory.
    for (const [p, f] of [...host.files]) {
      if (!under(p, [from])) continue;
      host.files.delete(p);
      f.path = target(p);
      host.files.set(f.path, f);
      if (f.cache) {
        f.cache.path = f.path;
        if (f.cache.journaled) await host.store().markDirty(f.cache);
      }
    }
    for (const d of [...host.virtualDirs]) {
      if (!under(d, [from])) continue;
      host.virtualDirs.delete(d);
      host.virtualDirs.add(target(d));
    }
    if (!realDirs) host.virtualDirs.add(to);
    host.dirCache.renameTree(from, to);
    host.dirCache.remove(parentPath(from), baseName(from));
    host.dirCache.upsert(parentPath(to), baseName(to), { isDir: true, size: -1, mtime: new Date(), metadata: modes });
    log.info(`${logPath(from)}: renamed to ${logPath(to)} (${tree.files.length} objects)`);
  });
}

/**
 * The directories made for a renamed tree get the old ones' mode and owner (local remote;
 * set once the files are in, so a read-only directory does not refuse them).
 */
async function copyDirModes(remote: Remote, dirs: string[], target: (p: string) => string): Promise<Metadata | undefined> {
  let top: Metadata | undefined;
  for (const d of dirs) {
    const md = metadataOfPosix(posixAttrsOf((await remote.stat(d)).metadata), true);
    if (Object.keys(md).length > 0) await remote.setMetadata!(target(d), md, { isDir: true });
    top ??= md;
  }
  return top;
}

/** Moves one object by the cheapest means the remote has. */
export async function moveObject(remote: Remote, from: string, to: string): Promise<void> {
  if (remote.move) {
    await remote.move(from, to);
    return;
  }
  await copyObject(remote, from, to);
  await remote.delete(from);
}

/** Copies one object by the cheapest means the remote has. */
export async function copyObject(remote: Remote, from: string, to: string): Promise<void> {
  if (remote.copy) {
    await remote.copy(from, to);
    return;
  }
  const e = await remote.stat(from);
  await remote.write(to, await remote.openRead(from), { mtime: e.mtime, size: e.size });
}

/** Every object and directory below `dir` on the remote (breadth first). */
export async function walkRemote(remote: Remote, dir: string): Promise<{ files: RemoteEntry[]; dirs: string[] }> {
  const files: RemoteEntry[] = [];
  const dirs: string[] = [];
  const queue = [dir];
  while (queue.length > 0) {
    const d = queue.shift()!;
    try {
      for await (const e of remote.list(d)) {
        if (e.isDir) {
          dirs.push(e.path);
          queue.push(e.path);
        } else files.push(e);
      }
    } catch (err) {
      if (d === dir && isNotFound(err)) continue;
      throw err;
    }
  }
  return { files, dirs };
}

/** Removes a directory on the remote; one the remote does not have is already gone. */
export async function rmdirRemote(remote: Remote, path: string): Promise<void> {
  try {
    await remote.rmdir(path);
  } catch (err) {
    // An object store's empty "directory" is only a name we kept.
    if (isNotFound(err)) return;
    throw err;
  }
}
