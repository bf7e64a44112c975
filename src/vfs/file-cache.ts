// The VFS cache and the life of its files: opening the cache directory, the
// file object for a path (dropping a stale clean copy), attaching a cache
// file, letting go of files unlinked or no longer used, and eviction: mode
// full's clean cached copies go after --vfs-cache-max-age or beyond
// --vfs-cache-max-size, and a full cache disk is made room on by dropping
// clean copies and starting pending uploads early.
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../errors.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import type { Remote } from '../remote/remote.js';
import { VfsFile, type VfsAttr } from './file-handle.js';
import { cacheKeyFor, checkCacheDirSafe } from './cache-key.js';
import { CacheSpace } from './cache-space.js';
import type { JournalEntry } from './journal.js';
import type { VfsOptions } from './options.js';
import type { RangeOpener } from './read-ahead.js';
import type { Uploads } from './uploads.js';
import { CacheStore } from './write-cache.js';

/**
 * Opens the cache directory (modes writes/full; in mode off only when its
 * journal lists files left dirty by an earlier run): its store, and the
 * journal's entries for files left dirty. Undefined when there is no cache.
 */
export async function openCache(
  remote: Remote,
  opts: VfsOptions,
  makeRoom: (bytes: number) => Promise<boolean>,
): Promise<{ store: CacheStore; dirty: JournalEntry[] } | undefined> {
  if (!opts.cacheDir || (opts.cacheMode === 'off' && !(await journalHasRecords(opts.cacheDir)))) return undefined;
  await fsp.mkdir(opts.cacheDir, { recursive: true, mode: 0o700 });
  await checkCacheDirSafe(opts.cacheDir);
  const { key, source } = await cacheKeyFor(remote, opts.cacheDir);
  log.debug(`vfs cache: ${opts.cacheDir} (key ${source === 'crypt' ? 'derived from the crypt keys' : 'from its key file'})`);
  const space = new CacheSpace(opts.cacheDir, { waitMs: opts.cacheSpaceWaitMs });
  const { store, dirty } = await CacheStore.open(opts.cacheDir, key, {
    space,
    maxOpenFiles: opts.cacheMaxOpenFiles,
    now: () => opts.clock.now(),
  });
  space.setMakeRoom(makeRoom);
  return { store, dirty };
}

async function journalHasRecords(cacheDir: string): Promise<boolean> {
  try {
    return (await fsp.stat(join(cacheDir, 'journal'))).size > 0;
  } catch {
    return false;
  }
}

/** What the file-cache functions ask of the VFS. */
export interface FileCacheHost {
  readonly remote: Remote;
  /** The VFS's file objects by path (files let go of leave it). */
  readonly files: Map<string, VfsFile>;
  readonly options: VfsOptions;
  readonly uploads: Uploads;
  store(): CacheStore | undefined;
  closing(): boolean;
}

/**
 * Unmount, after the last uploads: dirty files stay in the cache (journaled)
 * for the next mount; clean cached copies go. Then closes the store.
 */
export async function closeCache(host: FileCacheHost, store: CacheStore | undefined): Promise<void> {
  for (const f of host.files.values()) {
    if (f.uploadTimer) host.uploads.cancel(f);
    if (!f.cache) continue;
    // Dirty files stay (journaled) for the next mount; clean cached copies go.
    if (f.dirty && !f.unlinked) await f.cache.close();
    else await store!.remove(f.cache);
  }
  await store?.close();
}

/** The live (not unlinked) file object of a path, if any. */
export function liveFile(files: ReadonlyMap<string, VfsFile>, path: string): VfsFile | undefined {
  const f = files.get(path);
  return f && !f.unlinked ? f : undefined;
}

/** The file object for an existing path (attr from a listing or the file itself). */
export function fileFor(host: FileCacheHost, path: string, attr: VfsAttr): VfsFile {
  let file = liveFile(host.files, path);
  if (file && !file.active && file.cache?.source) {
    // A clean cached copy (mode full) is only good while the remote object is unchanged.
    const src = file.cache.source;
    if (src.size !== attr.size || src.mtimeMs !== attr.mtime.getTime()) {
      log.debug(`${logPath(path)}: remote object changed, dropping the cached copy`);
      const stale = file.cache;
      file.cache = undefined;
      void host.store()!.remove(stale).catch(() => undefined);
    }
  }
  if (!file) {
    file = new VfsFile(path, attr.size, attr.mtime, true);
    file.metadata = attr.metadata;
    host.files.set(path, file);
  } else if (!file.active) {
    file.size = attr.size;
    file.mtime = attr.mtime;
    file.metadata = attr.metadata;
  }
  return file;
}

export async function attachCache(host: FileCacheHost, file: VfsFile, attr: VfsAttr): Promise<void> {
  const onRemote = file.existsOnRemote;
  file.cache = await host.store()!.create({
    path: file.path,
    size: attr.size,
    sourceSize: onRemote ? attr.size : 0,
    source: onRemote ? { size: attr.size, mtimeMs: attr.mtime.getTime() } : undefined,
    mtime: attr.mtime,
    metadata: file.metadata,
  });
  file.cache.fetch = sourceOpener(host.remote, file);
}

/** Reads of the remote object a cache file fills its missing blocks from. */
export function sourceOpener(remote: Remote, file: VfsFile): RangeOpener {
  return (offset, length) => remote.openRead(file.path, { offset, length });
}

/** Drops a file whose name went away (unlink, replaced by rename). */
export async function discard(host: FileCacheHost, file: VfsFile): Promise<void> {
  file.unlinked = true;
  file.dirty = false;
  host.uploads.cancel(file);
  if (host.files.get(file.path) === file) host.files.delete(file.path);
  const item = file.cache;
  if (item) {
    await host.store()!.markClean(item);
    // A release finishing meanwhile may have let the cache file go already.
    if (file.handles === 0 && file.cache === item) {
      file.cache = undefined;
      await host.store()!.remove(item);
    }
  }
}

/** Lets go of a file object nothing needs any more. */
export function maybeForget(host: FileCacheHost, file: VfsFile): void {
  // The plaintext blocks kept for an open file's partial-block writes are no use once no handle is
  // open, even while its upload waits: 10,000 small files pending upload held 64 KiB each (~650 MB).
  if (file.handles === 0) file.cache?.dropHot();
  if (file.active) return;
  const keepCache = host.options.cacheMode === 'full' && !file.unlinked && file.cache !== undefined && !host.closing();
  if (file.cache && !keepCache) {
    const item = file.cache;
    file.cache = undefined;
    void host.store()!.remove(item).catch((err) => log.error(`vfs cache: remove ${item.id}: ${errorMessage(err)}`));
  }
  if (!keepCache && host.files.get(file.path) === file) host.files.delete(file.path);
  file.cache?.dropHot();
}

/** Clean cached copies nothing uses, least recently used first: all that may ever be dropped. */
function droppableCopies(host: FileCacheHost): VfsFile[] {
  return [...host.files.values()]
    .filter((f) => f.cache && !f.active && !f.dirty)
    .sort((a, b) => a.cache!.lastUsed - b.cache!.lastUsed);
}

/** Drops one clean cached copy; resolves to the bytes it held on disk. */
async function dropCopy(host: FileCacheHost, store: CacheStore, f: VfsFile): Promise<number> {
  const item = f.cache!;
  f.cache = undefined;
  if (host.files.get(f.path) === f) host.files.delete(f.path);
  await store.remove(item).catch(() => undefined);
  return item.diskBytes;
}

/** Mode full: removes clean cached files unused for --vfs-cache-max-age, then the oldest beyond --vfs-cache-max-size. */
export async function evict(host: FileCacheHost): Promise<void> {
  const store = host.store();
  if (!store || host.closing()) return;
  const now = host.options.clock.now();
  let total = 0;
  for (const f of host.files.values()) total += f.cache?.diskBytes ?? 0;
  for (const f of droppableCopies(host)) {
    const old = now - f.cache!.lastUsed > host.options.cacheMaxAgeMs;
    if (!old && total <= host.options.cacheMaxSizeBytes) continue;
    total -= await dropCopy(host, store, f);
    log.debug(`${logPath(f.path)}: removed from the VFS cache (${old ? 'old' : 'cache full'})`);
  }
}

/**
 * Makes room on a full cache disk: drops clean cached copies nothing uses,
 * and starts the uploads of closed files now instead of after the write-back
 * delay. Resolves true when something was freed or is on its way.
 */
export async function makeRoom(host: FileCacheHost, bytes: number): Promise<boolean> {
  const store = host.store();
  if (!store) return false;
  let freed = 0;
  let dropped = 0;
  for (const f of droppableCopies(host)) {
    if (freed >= bytes) break;
    freed += await dropCopy(host, store, f);
    dropped++;
  }
  if (dropped > 0) {
    log.debug(`vfs cache: cache disk full: dropped ${dropped} clean cached file(s)`);
    return true;
  }
  let waiting = false;
  for (const f of host.files.values()) {
    if (!f.dirty || f.unlinked || f.handles > 0 || !f.cache) continue;
    if (f.uploadTimer) {
      host.uploads.cancel(f);
      host.uploads.start(f);
    }
    waiting = true;
  }
  if (!waiting || host.closing()) return false;
  // Real time, not the VFS clock: a pause while real uploads free real disk space
  // (CacheSpace's --vfs-cache-space-wait deadline is wall time too).
  await new Promise((r) => setTimeout(r, 500).unref());
  return true;
}
