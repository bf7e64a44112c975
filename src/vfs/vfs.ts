// The virtual file system between FUSE (or tests) and a Remote, with rclone's
// VFS semantics: cached directory listings, streamed reads with read-ahead,
// --vfs-cache-mode off|writes|full for writes, uploads on close (after the
// write-back delay), a journal of dirty files for crash recovery, and
// renames of files and whole directories on remotes that have no rename.
//
// This file is the namespace (lookup, mkdir, unlink, rename, ...) and the
// open-file surface; the jobs behind it have their own modules: listings.ts
// and dir-reader.ts (directory listings), uploads.ts (write-back and the upload
// queue), file-cache.ts (cache files, eviction), recovery.ts (crash recovery),
// rename.ts (the rename engine), names.ts (name checks), links.ts (symlinks),
// attrs.ts (chmod, chown, a file's mtime), statfs.ts.
//
// Paths are the remote's ('/'-separated, no leading '/', '' = root). Errors are
// typed (errors.ts); fuse/errno-map.ts gives the errno each answers at the mount.
import {
  AlreadyExistsError,
  CryptfsError,
  DirNotEmptyError,
  AbortedError,
  ErrnoError,
  DirNotFoundError,
  IsDirectoryError,
  NotDirectoryError,
  ReadOnlyError,
} from '../errors.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import type { Remote, RemoteEntry } from '../remote/remote.js';
import { baseName, parentPath } from '../remote/remote.js';
import {
  attachCache,
  closeCache,
  discard,
  evict,
  fileFor,
  liveFile,
  makeRoom,
  maybeForget,
  openCache,
  sourceOpener,
  type FileCacheHost,
} from './file-cache.js';
import { DirCache, type DirEntryInfo, type DirListing } from './dir-cache.js';
import { removeFile, renameDir, renameFile, rmdirRemote, type RenameHost } from './rename.js';
import { DirReader, type VfsDirEntry } from './dir-reader.js';
import {
  attachHandle,
  CachedHandle,
  RemoteReadHandle,
  StreamWriteHandle,
  StreamWriter,
  VfsFile,
  type FileHandle,
  type FileHost,
  type OpenFlags,
  type VfsAttr,
} from './file-handle.js';
import { isLinkObjectName, linkAttrIn, Links } from './links.js';
import { Listings, type ListingHost } from './listings.js';
import { NodeTimes } from './node-times.js';
import { isNotFound, missingNameErrno, nameMax, notFound, validateName } from './names.js';
import { DEFAULT_VFS_OPTIONS, type CacheMode, type VfsOptions } from './options.js';
import { Recovery, type RecoveryHost } from './recovery.js';
import { Uploads, type UploadHost } from './uploads.js';
import { setFileMtime, setOwnerAndMode } from './attrs.js';
import { statfsOf, type VfsStatfs } from './statfs.js';
import { fileTypeOf, isSpecialType, type Metadata, type PosixAttrs } from '../remote/metadata.js';
import type { CacheStore } from './write-cache.js';
import type { ClockTimer } from './clock.js';
import { sharedAbortController } from '../abort.js';

export { VfsFile, type FileHandle, type OpenFlags, type VfsAttr } from './file-handle.js';
export { DirReader, type VfsDirEntry } from './dir-reader.js';
export type { VfsStatfs } from './statfs.js';

export class Vfs {
  readonly options: VfsOptions;
  readonly readAheadBytes: number;
  /** atime, ctime and directory mtimes, kept in memory while mounted (node-times.ts). */
  readonly times = new NodeTimes();
  private readonly dirCache: DirCache;
  /** Files open, dirty, uploading, or (mode full) cached, by current path. */
  private readonly files = new Map<string, VfsFile>();
  /** Directories made on a remote without real directories and not (yet) holding objects. */
  private readonly virtualDirs = new Set<string>();
  private store: CacheStore | undefined;
  /** What the modules below ask of the VFS (each takes the part its host interface names). */
  private readonly host: UploadHost & RecoveryHost & FileCacheHost & RenameHost & ListingHost;
  private readonly uploads: Uploads;
  private readonly handleHost: FileHost & { startStream(file: VfsFile): StreamWriter };
  private readonly recovery: Recovery;
  private readonly listings: Listings;
  private readonly links: Links;
  private evictTimer: ClockTimer | undefined;
  private closing = false;
  private closed = false;
  /**
   * Reads through read-only handles and listings: aborted when the VFS closes. Not cache fills
   * (a dirty file's upload may need the remote's blocks) nor uploads: dirty data is never dropped.
   */
  private requests = sharedAbortController();
  private readonly startTime = new Date();
  private nameMaxCache: number | undefined;

  private constructor(
    readonly remote: Remote,
    options: VfsOptions,
  ) {
    this.options = options;
    this.readAheadBytes = options.readAheadBytes;
    this.dirCache = new DirCache(options.dirCacheTimeMs, () => options.clock.now());
    const uploads = (): Uploads => this.uploads;
    const requestSignal = (): AbortSignal => this.requests.signal;
    this.host = {
      remote,
      options,
      dirCache: this.dirCache,
      files: this.files,
      virtualDirs: this.virtualDirs,
      get uploads() {
        return uploads();
      },
      store: () => this.store!,
      closing: () => this.closing,
      get requestSignal() {
        return requestSignal();
      },
      maybeForget: (file) => maybeForget(this.host, file),
      evict: () => this.evict(),
      sourceOpener: (file) => sourceOpener(this.remote, file),
      discard: (file) => discard(this.host, file),
      validateName: (path, isDir) => this.validateName(path, isDir),
      lookup: (path) => this.lookup(path),
      dirHasEntries: (dir) => this.dirHasEntries(dir),
    };
    this.uploads = new Uploads(this.host);
    // What open handles ask of the VFS: the write-back side (uploads.ts), and the signal their
    // remote reads stop with (see `requests`).
    const ups = this.uploads;
    this.handleHost = {
      remote,
      readAheadBytes: options.readAheadBytes,
      get requestSignal() {
        return requestSignal();
      },
      markDirty: (file, writing = false) => ups.markDirty(file, writing),
      released: (file, writable) => ups.released(file, writable),
      syncFile: (file) => ups.syncFile(file),
      streamFinished: (file, entry) => ups.streamFinished(file, entry),
      startStream: (file) => ups.startStream(file),
    };
    this.recovery = new Recovery(this.host);
    this.listings = new Listings(this.host);
    const linkHost = { remote, dirCache: this.dirCache, enabled: options.links, unlinkFile: (p: string) => this.unlink(p) };
    this.links = new Links({ ...linkHost, lookup: (p) => this.lookup(p), requireDir: (d) => this.requireDir(d) });
  }

  /**
   * Makes a VFS over `remote`. With a cache directory, opens the cache (modes
   * writes/full; in mode off only when its journal lists files left dirty by
   * an earlier run) and starts re-uploading what the journal lists.
   */
  static async create(remote: Remote, options: Partial<VfsOptions> = {}): Promise<Vfs> {
    const opts: VfsOptions = { ...DEFAULT_VFS_OPTIONS, ...options };
    if (opts.cacheMode !== 'off' && !opts.cacheDir) {
      throw new CryptfsError(`--vfs-cache-mode ${opts.cacheMode} needs a cache directory`);
    }
    const vfs = new Vfs(remote, opts);
    const cache = await openCache(remote, opts, (bytes) => vfs.makeRoom(bytes));
    if (cache) {
      vfs.store = cache.store;
      // In the background: the mount answers at once, however much is pending.
      vfs.recovery.start(cache.dirty);
    }
    if (opts.cacheMode === 'full' && opts.cachePollIntervalMs > 0) {
      vfs.evictTimer = opts.clock.setInterval(() => void vfs.evict(), opts.cachePollIntervalMs).unref();
    }
    return vfs;
  }

  get cacheMode(): CacheMode {
    return this.options.cacheMode;
  }

  /** The cache directory in use, if any. */
  get cacheDir(): string | undefined {
    return this.store?.dir;
  }

  // ---- namespace ----

  async stat(path: string): Promise<VfsAttr> {
    const attr = await this.lookup(path);
    if (!attr) throw notFound(this.remote, path);
    return attr;
  }

  /** What a lookup of `path`, found missing by lookup(), answers: see missingNameErrno. */
  missingErrno(path: string): 'ENOENT' | 'ENAMETOOLONG' {
    return missingNameErrno(this.remote, path);
  }

  /** The attributes of `path`, or undefined when it does not exist. */
  async lookup(path: string): Promise<VfsAttr | undefined> {
    this.checkOpen();
    if (path === '') return { path, isDir: true, size: 0, mtime: this.startTime };
    if (this.recovery.active) await this.recovery.settle(path);
    const file = this.files.get(path);
    if (file && file.active && !file.unlinked && !this.isLinkObject(path)) return file.attr();
    let listing: DirListing;
    try {
      listing = await this.listDir(parentPath(path));
    } catch (err) {
      if (isNotFound(err) || err instanceof NotDirectoryError) return undefined;
      throw err;
    }
    return this.attrIn(listing, path);
  }

  /** lookup of `path` given its parent's listing (complete or not), without waiting. */
  attrIn(listing: DirListing, path: string): VfsAttr | undefined {
    // With links on, a file NAME.rclonelink is the link NAME, never a file of its own name.
    const linkObject = this.isLinkObject(path);
    const file = this.files.get(path);
    if (file && file.active && !file.unlinked && !linkObject) return file.attr();
    const info = listing.entries.get(baseName(path));
    if (info && !(linkObject && !info.isDir)) {
      return { path, isDir: info.isDir, size: info.isDir ? 0 : Math.max(0, info.size), mtime: info.mtime, metadata: info.metadata };
    }
    if (this.virtualDirs.has(path)) return { path, isDir: true, size: 0, mtime: this.startTime };
    return this.options.links && !linkObject ? linkAttrIn(listing, path) : undefined;
  }

  private isLinkObject = (path: string) => this.options.links && isLinkObjectName(baseName(path));

  /** symlink(2): a link at `path` to `target`, stored as `path`.rclonelink (links.ts). */
  async symlink(path: string, target: string, metadata?: Metadata): Promise<VfsAttr> {
    this.checkWritable();
    const attr = await this.links.create(path, target, metadata);
    this.times.added(path);
    return attr;
  }

  async readlink(path: string): Promise<string> {
    this.checkOpen();
    return this.links.read(await this.stat(path));
  }

  /** A directory's link count while its complete listing is cached (listings.ts). */
  dirLinkCount(dir: string): number | undefined {
    return this.listings.dirLinkCount(dir);
  }

  /** The complete listing of `dir` (cached for --dir-cache-time). */
  async listDir(dir: string): Promise<DirListing> {
    return (this.dirCache.get(dir) ?? this.listings.start(dir)).whenComplete();
  }

  /** Every entry of `dir`, including files not uploaded yet. */
  async readDir(dir: string): Promise<VfsDirEntry[]> {
    return (await this.openDir(dir)).all();
  }

  async openDir(dir: string): Promise<DirReader> {
    this.checkOpen();
    if (dir !== '') {
      const attr = await this.stat(dir);
      if (!attr.isDir) throw new NotDirectoryError(dir);
    }
    return new DirReader(this, dir, this.dirCache.get(dir) ?? this.listings.start(dir));
  }

  /** A directory was read to the end (readdir): list its subdirectories ahead (listings.ts). */
  prefetchSubdirs(dir: string, entries: VfsDirEntry[]): void {
    this.listings.prefetchSubdirs(dir, entries);
  }

  /** Files and directories that exist here but maybe not (yet) in the remote's listing. */
  overlayChildren(dir: string): VfsDirEntry[] {
    return this.listings.overlayChildren(dir);
  }

  async mkdir(path: string): Promise<VfsAttr> {
    this.checkWritable();
    this.validateName(path, true);
    if (await this.lookup(path)) throw new AlreadyExistsError(path);
    await this.requireDir(parentPath(path));
    await this.remote.mkdir(path);
    if (!this.remote.features.realDirectories) this.virtualDirs.add(path);
    const mtime = new Date();
    this.dirCache.upsert(parentPath(path), baseName(path), { isDir: true, size: -1, mtime });
    this.dirCache.setEmpty(path);
    this.times.added(path);
    // Its own times too: an object store lists no time for a directory.
    this.times.dirChanged(path);
    return { path, isDir: true, size: 0, mtime };
  }

  async rmdir(path: string): Promise<void> {
    this.checkWritable();
    if (path === '') throw new ErrnoError('EBUSY', "can't remove the root directory");
    const attr = await this.stat(path);
    if (!attr.isDir) throw new NotDirectoryError(path);
    if (await this.dirHasEntries(path)) throw new DirNotEmptyError(path);
    await rmdirRemote(this.remote, path);
    this.virtualDirs.delete(path);
    this.dirCache.invalidate(path, true);
    this.dirCache.remove(parentPath(path), baseName(path));
    this.times.removed(path);
  }

  async unlink(path: string): Promise<void> {
    this.checkWritable();
    const attr = await this.stat(path);
    if (attr.isDir) throw new IsDirectoryError(path);
    if (attr.isLink) {
      await this.links.remove(path);
      this.times.removed(path);
      return;
    }
    await removeFile(this.host, path);
    this.times.removed(path);
  }

  async rename(from: string, to: string, options: { noReplace?: boolean } = {}): Promise<void> {
    this.checkWritable();
    if (from === to) return;
    if (from === '' || to === '') throw new ErrnoError('EBUSY', "can't rename the root directory");
    const src = await this.stat(from);
    await this.requireDir(parentPath(to));
    const noReplace = options.noReplace === true;
    if (src.isLink) await this.links.rename(src, to, noReplace);
    else if (src.isDir) await renameDir(this.host, from, to, noReplace);
    else {
      const over = await this.lookup(to);
      await renameFile(this.host, from, to, src, noReplace);
      if (over?.isLink) await this.links.remove(to); // once the file has the name
    }
    this.times.renamed(from, to, src.isDir);
  }

  /**
   * utimensat: the times given (undefined = UTIME_OMIT). A file's mtime goes to
   * the remote as setMtime does; atime, ctime, nanoseconds and directory times
   * are kept in memory while mounted (node-times.ts).
   */
  async setTimes(path: string, times: { atimeNs?: bigint; mtimeNs?: bigint }): Promise<VfsAttr> {
    this.checkWritable();
    let attr = await this.stat(path);
    if (times.mtimeNs !== undefined && !attr.isDir) attr = await this.setMtime(path, new Date(Number(times.mtimeNs / 1_000_000n)));
    this.times.set(path, times);
    return attr;
  }

  async setMtime(path: string, mtime: Date): Promise<VfsAttr> {
    this.checkWritable();
    const attr = await this.stat(path);
    if (attr.isDir) return attr; // directory times live in this.times only (setTimes)
    if (attr.isLink) return this.links.setMtime(attr, mtime);
    return setFileMtime(this.host, attr, mtime);
  }

  /**
   * mknod(2). A FIFO, socket or device is an empty file whose stored mode carries its type (and
   * whose `rdev` its device number): `metadata` holds them, as metadataOfPosix makes them. A
   * regular file (mode without those type bits) is an ordinary empty file. Either is made as
   * create makes a file - the cache and its journal in cache modes (uploaded with write-back, kept
   * across a crash), a streamed upload in mode off - so what fails leaves nothing behind.
   */
  async mknod(path: string, metadata: Metadata): Promise<VfsAttr> {
    const handle = await this.create(path, { read: false, write: true, create: true, exclusive: true, metadata });
    try {
      await handle.release();
    } catch (err) {
      // Mode off: the empty upload failed. Take the name back so no half-made node stays listed.
      await this.unlink(path).catch(() => undefined);
      throw err;
    }
    return (await this.lookup(path)) ?? handle.file.attr();
  }

  /** chmod/chown: stores the permission bits and owner given (see attrs.ts). */
  async setOwnerAndMode(path: string, changes: PosixAttrs): Promise<VfsAttr> {
    this.checkWritable();
    const attr = await this.stat(path);
    if (attr.isLink) return this.links.setOwner(attr, changes);
    return setOwnerAndMode(this.host, attr, changes);
  }

  /** truncate(2) by name. */
  async truncate(path: string, size: number): Promise<VfsAttr> {
    this.checkWritable();
    const attr = await this.stat(path);
    if (attr.isDir) throw new IsDirectoryError(path);
    if (attr.size === size) return attr;
    const handle = await this.open(path, { read: false, write: true, truncate: size === 0 });
    try {
      if (size !== 0) await handle.truncate(size);
      await handle.flush();
    } finally {
      await handle.release();
    }
    return this.stat(path);
  }

  statfs(): Promise<VfsStatfs> {
    return statfsOf(this.remote, this.nameMax());
  }

  // ---- open files ----

  async open(path: string, flags: OpenFlags): Promise<FileHandle> {
    this.checkOpen();
    const writing = flags.write || flags.truncate === true;
    if (writing || flags.create) this.checkWritable();
    const attr = await this.lookup(path);
    if (!attr) {
      if (!flags.create) throw notFound(this.remote, path);
      return this.create(path, flags);
    }
    if (flags.create && flags.exclusive) throw new AlreadyExistsError(path);
    if (attr.isDir) throw new IsDirectoryError(path);
    if (attr.isLink) throw new ErrnoError('ELOOP', `${logPath(path)}: is a symlink`); // the kernel follows links before open
    // FIFOs, sockets and devices have no contents here: the kernel opens a FIFO or a device itself
    // and never asks the mount, and a socket can't be opened (ENXIO, as open(2) says for one).
    if (isSpecialType(fileTypeOf(attr.metadata))) throw new ErrnoError('ENXIO', `${logPath(path)}: is a special file`);
    const file = fileFor(this.host, path, attr);

    if (this.cacheMode === 'off') {
      if (!writing) return attachHandle(file, () => new RemoteReadHandle(this.handleHost, file));
      if (file.writer) throw new ErrnoError('EBUSY', `${logPath(path)}: already open for writing`);
      if (!flags.truncate) {
        // Streaming can only replace the whole object: an append or an in-place
        // edit would leave just the new bytes. Refused at open, as rclone does.
        log.error(
          `${logPath(path)}: can't open an existing file for writing without O_TRUNC in --vfs-cache-mode off ` +
            `(it would replace the file with only what is written): use --vfs-cache-mode writes`,
        );
        maybeForget(this.host, file);
        throw new ErrnoError('EPERM', `${logPath(path)}: open for writing without O_TRUNC needs --vfs-cache-mode writes or full`);
      }
      return attachHandle(file, () => new StreamWriteHandle(this.handleHost, file, flags.truncate === true && attr.size > 0), true);
    }
    if (!writing && !file.cache && this.cacheMode === 'writes') {
      return attachHandle(file, () => new RemoteReadHandle(this.handleHost, file));
    }
    if (!file.cache) {
      // Opens racing for the same file share one cache file.
      file.cacheReady ??= attachCache(this.host, file, attr).finally(() => (file.cacheReady = undefined));
      await file.cacheReady;
    }
    const handle = attachHandle(file, () => new CachedHandle(this.handleHost, file, flags.read, writing, flags.append === true), writing);
    this.uploads.cancel(file);
    if (flags.truncate) {
      try {
        await this.uploads.markDirty(file, true);
        await file.cache!.truncate(0);
        file.mtime = new Date();
        await this.uploads.markDirty(file, true);
      } catch (err) {
        await handle.release();
        throw err;
      }
    }
    return handle;
  }

  /** A new file (O_CREAT on a name that does not exist). */
  async create(path: string, flags: OpenFlags): Promise<FileHandle> {
    this.checkWritable();
    this.validateName(path, false);
    const existing = await this.lookup(path);
    if (existing) {
      if (flags.exclusive) throw new AlreadyExistsError(path);
      return this.open(path, { ...flags, create: false });
    }
    await this.requireDir(parentPath(path));
    const mtime = new Date();
    const old = this.files.get(path);
    if (old && old !== undefined) await discard(this.host, old);
    const file = new VfsFile(path, 0, mtime, false);
    file.metadata = flags.metadata;
    this.files.set(path, file);
    let handle: FileHandle;
    try {
      if (this.cacheMode === 'off') {
        handle = attachHandle(file, () => new StreamWriteHandle(this.handleHost, file, true), true);
      } else {
        file.cache = await this.store!.create({ path, size: 0, sourceSize: 0, mtime, metadata: flags.metadata });
        file.cache.fetch = sourceOpener(this.remote, file);
        await this.uploads.markDirty(file, true);
        handle = attachHandle(file, () => new CachedHandle(this.handleHost, file, flags.read, true, flags.append === true), true);
      }
    } catch (err) {
      if (this.files.get(path) === file) this.files.delete(path);
      if (file.cache) await this.store!.remove(file.cache).catch(() => undefined);
      throw err;
    }
    this.dirCache.upsert(parentPath(path), baseName(path), { isDir: false, size: 0, mtime, metadata: flags.metadata });
    this.times.added(path);
    return handle;
  }


  // ---- uploads (uploads.ts) ----

  /** Uploads every dirty file now; resolves to the paths that failed. */
  flushAll(): Promise<string[]> {
    return this.uploads.flushAll();
  }

  /** Resolves when no upload is scheduled, queued or running (for tests and unmount). */
  waitIdle(): Promise<void> {
    return this.uploads.waitIdle();
  }

  /** Dirty files (not yet uploaded), for tests and diagnostics. */
  dirtyPaths(): string[] {
    return [...this.files.values()].filter((f) => f.dirty && !f.unlinked).map((f) => f.path).sort();
  }

  /** Mode off: files open for writing, whose new contents an unmount now would drop. */
  streamingPaths(): string[] {
    return [...this.files.values()].filter((f) => f.writer && !f.unlinked).map((f) => f.path).sort();
  }

  /**
   * Ends the VFS (unmount): abandons uploads still streaming (their writers
   * are gone), uploads every dirty file, closes the cache. Resolves to the
   * paths whose upload failed: they stay in the journal for the next mount.
   */
  async close(): Promise<string[]> {
    if (this.closed) return [];
    this.closing = true;
    this.options.clock.clear(this.evictTimer);
    // Outstanding reads and listings answer nobody after unmount. Requests made from here on (the
    // flush below may look things up) get a fresh signal.
    const requests = this.requests;
    this.requests = sharedAbortController();
    requests.abort(new AbortedError('unmounted'));
    for (const f of this.files.values()) {
      if (f.writer) {
        log.error(`${logPath(f.path)}: unmounted while open for writing: upload abandoned`);
        f.writer.abort('unmounted while open for writing');
      }
    }
    // Recovery still running stops at the next file (the rest stays journaled); let it settle first.
    await this.uploads.settled();
    const failed = await this.flushAll();
    await this.uploads.settled();
    this.closed = true;
    await closeCache(this.host, this.store);
    return failed;
  }

  // ---- internals ----

  private checkOpen(): void {
    if (this.closed) throw new ErrnoError('EIO', 'the VFS is closed');
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.options.readOnly) throw new ReadOnlyError('read-only file system');
  }

  private async dirHasEntries(dir: string): Promise<boolean> {
    const listing = await this.listDir(dir);
    if (listing.entries.size > 0) return true;
    return this.overlayChildren(dir).length > 0;
  }

  private async requireDir(dir: string): Promise<void> {
    if (dir === '') return;
    const attr = await this.lookup(dir);
    if (!attr) throw new DirNotFoundError(dir);
    if (!attr.isDir) throw new NotDirectoryError(dir);
  }

  /** Mode full: removes clean cached files unused for --vfs-cache-max-age, then the oldest beyond --vfs-cache-max-size. */
  evict(): Promise<void> {
    return evict(this.host);
  }

  /** Makes room on a full cache disk (file-cache.ts). Resolves true when something was freed or is on its way. */
  makeRoom(bytes: number): Promise<boolean> {
    return makeRoom(this.host, bytes);
  }

  /** Throws NameTooLongError for a name the remote (or the crypt format over it) cannot hold. */
  validateName(path: string, isDir: boolean): void {
    if (!isDir && this.isLinkObject(path)) throw new ErrnoError('EINVAL', `${logPath(path)}: with --links a file can't be named *.rclonelink`);
    validateName(this.remote, path, isDir);
  }

  /** Longest name (bytes) that fits, for statfs. */
  private nameMax(): number {
    this.nameMaxCache ??= nameMax(this.remote);
    return this.nameMaxCache;
  }
}

export type { DirEntryInfo };
