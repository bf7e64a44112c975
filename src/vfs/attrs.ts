// chmod, chown and a file's mtime on the VFS. The new mode and owner become the object's
// rclone metadata (metadata.ts): the file's real attributes on a local remote,
// user metadata on S3 and Swift, passed through crypt. A file not uploaded yet
// (dirty in the cache, streaming, uploading) keeps them with its upload, and
// the cache journal keeps them across a crash. Directories keep them where the
// remote has real directories (local); on object stores a directory is only a
// prefix, so its mode is not stored and stays --dir-perms.
import type { Remote } from '../remote/remote.js';
import { baseName, parentPath } from '../remote/remote.js';
import { fileTypeOf, mergeMetadata, metadataOfPosix, type PosixAttrs } from '../remote/metadata.js';
import type { DirCache } from './dir-cache.js';
import { liveFile } from './file-cache.js';
import type { VfsAttr, VfsFile } from './file-handle.js';
import type { CacheStore } from './write-cache.js';

/** What setting attributes asks of the VFS. */
export interface AttrsHost {
  readonly remote: Remote;
  readonly dirCache: DirCache;
  readonly files: ReadonlyMap<string, VfsFile>;
  store(): CacheStore;
}

/**
 * Stores `changes` (permission bits, owner) for the entry `attr` describes and
 * returns its attributes after. Where nothing can be stored (the root, a remote
 * without metadata, a directory on an object store) the change is accepted
 * and not kept, as rclone's mount does.
 */
export async function setOwnerAndMode(host: AttrsHost, attr: VfsAttr, changes: PosixAttrs): Promise<VfsAttr> {
  const { remote } = host;
  const path = attr.path;
  if (path === '' || !remote.setMetadata) return attr;
  // The mode keeps the entry's type bits (a FIFO's stays "10xxx").
  const md = metadataOfPosix(changes, attr.isDir ? true : fileTypeOf(attr.metadata));
  if (Object.keys(md).length === 0) return attr;
  if (attr.isDir) {
    if (!remote.features.realDirectories) return attr;
    await remote.setMetadata(path, md, { isDir: true });
    const metadata = mergeMetadata(attr.metadata, md);
    host.dirCache.upsert(parentPath(path), baseName(path), { isDir: true, size: -1, mtime: attr.mtime, metadata });
    return { ...attr, metadata };
  }
  const file = liveFile(host.files, path);
  const metadata = mergeMetadata(file ? file.metadata : attr.metadata, md);
  if (file?.cache && file.dirty) {
    // The upload to come carries it; the journal keeps it until then.
    file.metadata = metadata;
    if (!file.unlinked) await host.store().markDirty(file.cache);
    return file.attr();
  }
  if (file?.writer) {
    file.metadata = metadata;
    file.pendingMetadata = mergeMetadata(file.pendingMetadata, md);
    return file.attr();
  }
  if (file?.inFlight || file?.uploadLock.locked) {
    // The upload sets it once done (it compares the metadata it sent).
    file.metadata = metadata;
    return file.attr();
  }
  await remote.setMetadata(path, md);
  if (file) file.metadata = metadata;
  host.dirCache.upsert(parentPath(path), baseName(path), { isDir: false, size: attr.size, mtime: attr.mtime, metadata });
  return { ...attr, metadata };
}

/**
 * Sets a file's mtime (not a directory's or a link's): a file whose bytes are
 * still to be uploaded keeps it for its upload; a clean one has it set on the
 * remote at once.
 */
export async function setFileMtime(host: AttrsHost, attr: VfsAttr, mtime: Date): Promise<VfsAttr> {
  const path = attr.path;
  const file = liveFile(host.files, path);
  if (file?.cache && file.dirty) {
    // The upload to come carries it.
    file.mtime = mtime;
    // Wall clock, not options.clock: recovery compares it with the block file's mtime.
    file.cache.mtimeSetAt = Date.now();
    await host.store().markDirty(file.cache);
    return file.attr();
  }
  if (file?.writer) {
    file.mtime = mtime;
    file.pendingMtime = mtime;
    return file.attr();
  }
  if (file?.inFlight || file?.uploadLock.locked) {
    // The upload sets it once done (it compares the time it sent).
    file.mtime = mtime;
    return file.attr();
  }
  // Clean (possibly open, e.g. touch's futimens): straight to the remote.
  await host.remote.setMtime(path, mtime);
  if (file) file.mtime = mtime;
  if (file?.cache) file.cache.mtimeSetAt = Date.now();
  if (file?.cache?.source) file.cache.source = { ...file.cache.source, mtimeMs: mtime.getTime() };
  host.dirCache.upsert(parentPath(path), baseName(path), { isDir: false, size: attr.size, mtime, metadata: attr.metadata });
  return { ...attr, mtime };
}
