// The virtual file system between FUSE (or tests) and a Remote, with rclone's
// VFS semantics: cached directory listings, streamed reads with read-ahead,
// --vfs-cache-mode off|writes|full for writes, uploads on close (after the
// write-back delay), a journal of dirty files for crash recovery, and
// renames of files and whole directories on remotes that have no rename.
//
// Paths are the remote's ('/'-separated, no leading '/', '' = root). Errors are
// typed (errors.ts) with the errno the FUSE frontend answers.
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import {
  AlreadyExistsError,
  CryptfsError,
  DirNotEmptyError,
  DirNotFoundError,
  IsDirectoryError,
  NameTooLongError,
  NotDirectoryError,
  ObjectNotFoundError,
  ReadOnlyError,
  errorMessage,
} from '../errors.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import type { Remote, RemoteEntry } from '../remote/remote.js';
import { baseName, joinPath, parentPath } from '../remote/remote.js';
import { SubRemote } from '../remote/sub-remote.js';
import { cacheKeyFor, checkCacheDirSafe, findCryptRemote } from './cache-key.js';
import { DirCache, type DirEntryInfo, type DirListing } from './dir-cache.js';
import {
  CachedHandle,
  RemoteReadHandle,
  StreamWriteHandle,
  StreamWriter,
  VfsError,
  VfsFile,
  type FileHandle,
  type FileHost,
  type VfsAttr,
} from './file-handle.js';
import type { JournalEntry } from './journal.js';
import { DEFAULT_VFS_OPTIONS, type CacheMode, type VfsOptions } from './options.js';
import type { RangeOpener } from './read-ahead.js';
import { deferred, forEachLimited, Semaphore } from './sync.js';
import { CacheSpace } from './cache-space.js';
import { CacheStore } from './write-cache.js';

export { VfsError, VfsFile, type FileHandle, type VfsAttr } from './file-handle.js';

export interface OpenFlags {
  read: boolean;
  write: boolean;
  /** O_TRUNC */
  truncate?: boolean;
  /** O_APPEND */
  append?: boolean;
  /** O_CREAT */
  create?: boolean;
  /** O_EXCL (with O_CREAT) */
  exclusive?: boolean;
}

export interface VfsStatfs {
  blockSize: number;
  blocks: number;
  blocksFree: number;
  blocksAvailable: number;
  files: number;
  filesFree: number;
  nameMax: number;
}

export interface VfsDirEntry {
  name: string;
  isDir: boolean;
}

/** How long a readdir waits for more names to fill its reply while a listing streams in. */
const BATCH_WAIT_MS = 20;

const isNotFound = (err: unknown) => err instanceof ObjectNotFoundError || err instanceof DirNotFoundError;
const under = (path: string, roots: string[]) =>
  roots.some((r) => r === '' || path === r || path.startsWith(r + '/'));

/** A directory being read (opendir/readdir): names stream in as the remote lists them. */
export class DirReader {
  private readonly names: VfsDirEntry[] = [];
  private readonly seen = new Set<string>();
  private pos = 0;
  private overlayDone = false;

  constructor(
    private readonly vfs: Vfs,
    readonly dir: string,
    private readonly listing: DirListing,
  ) {}

  /**
   * Entries from index `offset`, at most `max`. While the remote is still
   * listing, returns what has arrived within a short wait (at least one entry
   * unless at the end), so the first names of a huge directory come early.
   */
  async read(offset: number, max: number): Promise<VfsDirEntry[]> {
    let deadline: number | undefined;
    for (;;) {
      this.pull();
      if (this.names.length >= offset + max || this.overlayDone) return this.names.slice(offset, offset + max);
      if (this.names.length > offset) {
        deadline ??= Date.now() + BATCH_WAIT_MS;
        const left = deadline - Date.now();
        if (left <= 0 || this.listing.complete) {
          if (!this.listing.complete) return this.names.slice(offset, offset + max);
        } else {
          await Promise.race([this.listing.changed(), new Promise((r) => setTimeout(r, left))]);
          continue;
        }
      }
      if (this.listing.error !== undefined) throw this.listing.error;
      if (this.listing.complete) {
        for (const e of this.vfs.overlayChildren(this.dir)) {
          if (this.seen.has(e.name)) continue;
          this.seen.add(e.name);
          this.names.push(e);
        }
        this.overlayDone = true;
        this.vfs.prefetchSubdirs(this.dir, this.names);
        continue;
      }
      await this.listing.changed();
    }
  }

  /** Attributes of an entry this reader listed, as lookup would give them now (readdirplus). */
  attr(name: string): VfsAttr | undefined {
    return this.vfs.attrIn(this.listing, joinPath(this.dir, name));
  }

  /** Every entry (for tests and small directories). */
  async all(): Promise<VfsDirEntry[]> {
    const out: VfsDirEntry[] = [];
    for (;;) {
      const batch = await this.read(out.length, 1000);
      if (batch.length === 0) return out;
      out.push(...batch);
    }
  }

  private pull(): void {
    const order = this.listing.order;
    while (this.pos < order.length) {
      const name = order[this.pos++];
      const info = this.listing.entries.get(name);
      if (!info || this.seen.has(name)) continue;
      this.seen.add(name);
      this.names.push({ name, isDir: info.isDir });
    }
  }
}

export class Vfs implements FileHost {
  readonly options: VfsOptions;
  readonly readAheadBytes: number;
  private readonly dirCache: DirCache;
  /** Files open, dirty, uploading, or (mode full) cached, by current path. */
  private readonly files = new Map<string, VfsFile>();
  /** Directories made on a remote without real directories and not (yet) holding objects. */
  private readonly virtualDirs = new Set<string>();
  private store: CacheStore | undefined;
  private readonly uploadSlots: Semaphore;
  private readonly prefetchSlots = new Semaphore(4);
  private readonly barriers = new Set<{ paths: string[]; done: Promise<void> }>();
  private readonly background = new Set<Promise<void>>();
  private evictTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private closed = false;
  private readonly startTime = new Date();
  private nameMaxCache: number | undefined;
  /** Paths whose changes left by an unclean stop are being recovered. */
  private readonly recovering = new Map<string, () => Promise<void>>();

  private constructor(
    readonly remote: Remote,
    options: VfsOptions,
  ) {
    this.options = options;
    this.readAheadBytes = options.readAheadBytes;
    this.dirCache = new DirCache(options.dirCacheTimeMs);
    this.uploadSlots = new Semaphore(Math.max(1, options.transfers));
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
    if (opts.cacheDir && (opts.cacheMode !== 'off' || (await journalHasRecords(opts.cacheDir)))) {
      await fsp.mkdir(opts.cacheDir, { recursive: true, mode: 0o700 });
      await checkCacheDirSafe(opts.cacheDir);
      const { key, source } = await cacheKeyFor(remote, opts.cacheDir);
      log.debug(`vfs cache: ${opts.cacheDir} (key ${source === 'crypt' ? 'derived from the crypt keys' : 'from its key file'})`);
      const space = new CacheSpace(opts.cacheDir, { waitMs: opts.cacheSpaceWaitMs });
      const { store, dirty } = await CacheStore.open(opts.cacheDir, key, { space, maxOpenFiles: opts.cacheMaxOpenFiles });
      space.setMakeRoom((bytes) => vfs.makeRoom(bytes));
      vfs.store = store;
      // In the background: the mount answers at once, however much is pending.
      vfs.startRecovery(dirty);
    }
    if (opts.cacheMode === 'full' && opts.cachePollIntervalMs > 0) {
      vfs.evictTimer = setInterval(() => void vfs.evict(), opts.cachePollIntervalMs);
      vfs.evictTimer.unref();
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
    if (!attr) throw this.notFound(path);
    return attr;
  }

  /**
   * The error for a name that is not there: ENAMETOOLONG when no file or
   * directory could have it (checked only on a miss: it costs an encryption).
   */
  private notFound(path: string): CryptfsError {
    try {
      this.validateName(path, false);
      return new ObjectNotFoundError(path);
    } catch (err) {
      if (!(err instanceof NameTooLongError)) throw err;
      try {
        this.validateName(path, true);
        return new ObjectNotFoundError(path);
      } catch {
        return err;
      }
    }
  }

  /** The attributes of `path`, or undefined when it does not exist. */
  async lookup(path: string): Promise<VfsAttr | undefined> {
    this.checkOpen();
    if (path === '') return { path, isDir: true, size: 0, mtime: this.startTime };
    if (this.recovering.size > 0) await this.settle(path);
    const file = this.files.get(path);
    if (file && file.active && !file.unlinked) return file.attr();
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
    const file = this.files.get(path);
    if (file && file.active && !file.unlinked) return file.attr();
    const info = listing.entries.get(baseName(path));
    if (info) return { path, isDir: info.isDir, size: info.isDir ? 0 : Math.max(0, info.size), mtime: info.mtime };
    if (this.virtualDirs.has(path)) return { path, isDir: true, size: 0, mtime: this.startTime };
    return undefined;
  }

  /** The complete listing of `dir` (cached for --dir-cache-time). */
  async listDir(dir: string): Promise<DirListing> {
    return (this.dirCache.get(dir) ?? this.startListing(dir)).whenComplete();
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
    return new DirReader(this, dir, this.dirCache.get(dir) ?? this.startListing(dir));
  }

  /**
   * A directory was read to the end (readdir): list its subdirectories ahead,
   * a few at a time, since recursive walks (ls -R, find, du, rsync) go there
   * next. Bounded by --vfs-dir-prefetch subdirectories per directory.
   */
  prefetchSubdirs(dir: string, entries: VfsDirEntry[]): void {
    const limit = this.options.dirPrefetch;
    if (limit <= 0 || this.closing) return;
    // In name order: the order ls -R and most tree walkers that sort visit them in.
    const subdirs = entries.filter((e) => e.isDir).map((e) => e.name);
    subdirs.sort();
    for (const name of subdirs.slice(0, limit)) {
      const sub = joinPath(dir, name);
      if (this.dirCache.get(sub)) continue;
      void this.prefetchSlots.run(async () => {
        if (this.closing || this.dirCache.get(sub)) return;
        await this.startListing(sub).whenComplete().catch(() => undefined);
      });
    }
  }

  /** Files and directories that exist here but maybe not (yet) in the remote's listing. */
  overlayChildren(dir: string): VfsDirEntry[] {
    const out: VfsDirEntry[] = [];
    for (const f of this.files.values()) {
      if (f.active && !f.unlinked && parentPath(f.path) === dir && f.path !== dir) out.push({ name: baseName(f.path), isDir: false });
    }
    for (const d of this.virtualDirs) if (d !== '' && parentPath(d) === dir) out.push({ name: baseName(d), isDir: true });
    return out;
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
    return { path, isDir: true, size: 0, mtime };
  }

  async rmdir(path: string): Promise<void> {
    this.checkWritable();
    if (path === '') throw new VfsError('EBUSY', "can't remove the root directory");
    const attr = await this.stat(path);
    if (!attr.isDir) throw new NotDirectoryError(path);
    if (await this.dirHasEntries(path)) throw new DirNotEmptyError(path);
    await this.rmdirRemote(path);
    this.virtualDirs.delete(path);
    this.dirCache.invalidate(path, true);
    this.dirCache.remove(parentPath(path), baseName(path));
  }

  async unlink(path: string): Promise<void> {
    this.checkWritable();
    const attr = await this.stat(path);
    if (attr.isDir) throw new IsDirectoryError(path);
    await this.withBarrier([path], async () => {
      const file = this.liveFile(path);
      if (file?.writer) {
        // Still streaming: the object is removed once the upload ends (streamFinished).
        file.unlinked = true;
        this.files.delete(path);
      } else {
        if (file?.cache && file.handles > 0 && file.cache.sourceSize > 0) {
          // Open descriptors keep reading the contents after the name is gone.
          await file.cache.fillFromSource();
        }
        const onRemote = file ? file.existsOnRemote : true;
        if (onRemote) {
          try {
            await this.remote.delete(path);
          } catch (err) {
            if (!(isNotFound(err) && file)) throw err;
          }
        }
        if (file) await this.discard(file);
      }
      this.dirCache.remove(parentPath(path), baseName(path));
    });
  }

  async rename(from: string, to: string, options: { noReplace?: boolean } = {}): Promise<void> {
    this.checkWritable();
    if (from === to) return;
    if (from === '' || to === '') throw new VfsError('EBUSY', "can't rename the root directory");
    const src = await this.stat(from);
    await this.requireDir(parentPath(to));
    if (src.isDir) await this.renameDir(from, to, options.noReplace === true);
    else await this.renameFile(from, to, src, options.noReplace === true);
  }

  async setMtime(path: string, mtime: Date): Promise<VfsAttr> {
    this.checkWritable();
    const attr = await this.stat(path);
    if (attr.isDir) return attr; // directory times are not kept, as rclone
    const file = this.liveFile(path);
    if (file?.cache && file.dirty) {
      // The upload to come carries it.
      file.mtime = mtime;
      file.cache.mtimeSetAt = Date.now();
      await this.store!.markDirty(file.cache);
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
    await this.remote.setMtime(path, mtime);
    if (file) file.mtime = mtime;
    if (file?.cache) file.cache.mtimeSetAt = Date.now();
    if (file?.cache?.source) file.cache.source = { ...file.cache.source, mtimeMs: mtime.getTime() };
    this.dirCache.upsert(parentPath(path), baseName(path), { isDir: false, size: attr.size, mtime });
    return { ...attr, mtime };
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

  async statfs(): Promise<VfsStatfs> {
    const blockSize = 4096;
    let total = 2 ** 50;
    let free = 2 ** 50;
    const about = await this.remote.about?.().catch(() => undefined);
    if (about?.total !== undefined) {
      total = about.total;
      free = about.free ?? (about.used !== undefined ? Math.max(0, total - about.used) : total);
    } else if (about?.free !== undefined) {
      free = about.free;
      total = about.free + (about.used ?? 0);
    }
    const blocks = Math.floor(total / blockSize);
    const blocksFree = Math.floor(free / blockSize);
    return { blockSize, blocks, blocksFree, blocksAvailable: blocksFree, files: 1e9, filesFree: 1e9, nameMax: this.nameMax() };
  }

  // ---- open files ----

  async open(path: string, flags: OpenFlags): Promise<FileHandle> {
    this.checkOpen();
    const writing = flags.write || flags.truncate === true;
    if (writing || flags.create) this.checkWritable();
    const attr = await this.lookup(path);
    if (!attr) {
      if (!flags.create) throw this.notFound(path);
      return this.create(path, flags);
    }
    if (flags.create && flags.exclusive) throw new AlreadyExistsError(path);
    if (attr.isDir) throw new IsDirectoryError(path);
    const file = this.fileFor(path, attr);

    if (this.cacheMode === 'off') {
      if (!writing) return this.attach(file, () => new RemoteReadHandle(this, file));
      if (file.writer) throw new VfsError('EBUSY', `${logPath(path)}: already open for writing`);
      if (!flags.truncate) {
        // Streaming can only replace the whole object: an append or an in-place
        // edit would leave just the new bytes. Refused at open, as rclone does.
        log.error(
          `${logPath(path)}: can't open an existing file for writing without O_TRUNC in --vfs-cache-mode off ` +
            `(it would replace the file with only what is written): use --vfs-cache-mode writes`,
        );
        this.maybeForget(file);
        throw new VfsError('EPERM', `${logPath(path)}: open for writing without O_TRUNC needs --vfs-cache-mode writes or full`);
      }
      return this.attach(file, () => new StreamWriteHandle(this, file, flags.truncate === true && attr.size > 0), true);
    }
    if (!writing && !file.cache && this.cacheMode === 'writes') {
      return this.attach(file, () => new RemoteReadHandle(this, file));
    }
    if (!file.cache) {
      // Opens racing for the same file share one cache file.
      file.cacheReady ??= this.attachCache(file, attr).finally(() => (file.cacheReady = undefined));
      await file.cacheReady;
    }
    const handle = this.attach(
      file,
      () => new CachedHandle(this, file, flags.read, writing, flags.append === true),
      writing,
    );
    this.cancelUpload(file);
    if (flags.truncate) {
      try {
        await this.markDirty(file, true);
        await file.cache!.truncate(0);
        file.mtime = new Date();
        await this.markDirty(file, true);
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
    if (old && old !== undefined) await this.discard(old);
    const file = new VfsFile(path, 0, mtime, false);
    this.files.set(path, file);
    let handle: FileHandle;
    try {
      if (this.cacheMode === 'off') {
        handle = this.attach(file, () => new StreamWriteHandle(this, file, true), true);
      } else {
        file.cache = await this.store!.create({ path, size: 0, sourceSize: 0, mtime });
        file.cache.fetch = this.sourceOpener(file);
        await this.markDirty(file, true);
        handle = this.attach(file, () => new CachedHandle(this, file, flags.read, true, flags.append === true), true);
      }
    } catch (err) {
      if (this.files.get(path) === file) this.files.delete(path);
      if (file.cache) await this.store!.remove(file.cache).catch(() => undefined);
      throw err;
    }
    this.dirCache.upsert(parentPath(path), baseName(path), { isDir: false, size: 0, mtime });
    return handle;
  }

  private attach<T extends FileHandle>(file: VfsFile, make: () => T, writable = false): T {
    file.handles++;
    if (writable) file.writers++;
    try {
      return make();
    } catch (err) {
      file.handles--;
      if (writable) file.writers--;
      throw err;
    }
  }

  // ---- FileHost (called by handles) ----

  startStream(file: VfsFile): StreamWriter {
    if (file.writer) throw new VfsError('EBUSY', `${logPath(file.path)}: already open for writing`);
    const writer = new StreamWriter(this.remote, file.path, new Date(), this.options.writeWaitMs);
    file.writer = writer;
    return writer;
  }

  async streamFinished(file: VfsFile, entry: RemoteEntry | undefined): Promise<void> {
    file.writer = undefined;
    const path = file.path;
    if (entry) {
      file.existsOnRemote = true;
      file.size = entry.size;
      file.mtime = entry.mtime;
      if (file.unlinked) {
        await this.remote.delete(path).catch((err) => log.error(`${logPath(path)}: remove after unlink: ${errorMessage(err)}`));
      } else {
        if (file.pendingMtime) {
          const m = file.pendingMtime;
          file.pendingMtime = undefined;
          await this.remote.setMtime(path, m).then(
            () => (file.mtime = m),
            (err) => log.error(`${logPath(path)}: set modification time: ${errorMessage(err)}`),
          );
        }
        this.dirCache.upsert(parentPath(path), baseName(path), { isDir: false, size: entry.size, mtime: file.mtime });
        log.info(`${logPath(path)}: Copied (${entry.size} bytes)`);
      }
    } else if (!file.existsOnRemote && !file.unlinked) {
      this.dirCache.remove(parentPath(path), baseName(path));
    }
    this.maybeForget(file);
  }

  async markDirty(file: VfsFile, writing = false): Promise<void> {
    if (!file.cache) return;
    file.dirty = true;
    file.failures = 0;
    if (writing) file.cache.writing = true;
    if (!file.unlinked) await this.store!.markDirty(file.cache);
  }

  async released(file: VfsFile, writable: boolean): Promise<void> {
    file.handles--;
    if (writable) file.writers--;
    const item = file.cache;
    if (writable && file.writers === 0 && item?.writing) {
      // Closed: from now on an unclean stop uploads these contents as they are.
      item.writing = false;
      if (file.dirty && !file.unlinked && item.journaled) {
        await this.store!.markDirty(item).catch((err) => log.error(`${logPath(file.path)}: journal: ${errorMessage(err)}`));
      }
    }
    if (file.handles > 0) return;
    if (file.dirty && !file.unlinked && !this.closing) this.scheduleUpload(file, this.options.writeBackMs);
    this.maybeForget(file);
  }

  async syncFile(file: VfsFile): Promise<void> {
    for (let round = 0; file.dirty && !file.unlinked; round++) {
      if (round >= 5) throw new VfsError('EIO', `${logPath(file.path)}: still changing while being synced`);
      this.cancelUpload(file);
      try {
        await this.uploadNow(file);
      } catch (err) {
        throw new VfsError('EIO', `${logPath(file.path)}: upload failed: ${errorMessage(err)}`, { cause: err });
      }
    }
  }

  // ---- uploads ----

  private scheduleUpload(file: VfsFile, delayMs: number): void {
    this.cancelUpload(file);
    if (delayMs <= 0) {
      this.startUpload(file);
      return;
    }
    file.uploadTimer = setTimeout(() => {
      file.uploadTimer = undefined;
      this.startUpload(file);
    }, delayMs);
  }

  private cancelUpload(file: VfsFile): void {
    if (file.uploadTimer) clearTimeout(file.uploadTimer);
    file.uploadTimer = undefined;
  }

  private startUpload(file: VfsFile): void {
    const p = this.uploadNow(file).then(
      () => this.maybeForget(file),
      (err) => {
        file.failures++;
        const delay = Math.min(60_000, 1000 * 2 ** Math.min(file.failures, 6));
        log.error(`${logPath(file.path)}: upload failed (attempt ${file.failures}): ${errorMessage(err)}`);
        if (!this.closing && file.dirty && !file.unlinked && file.handles === 0) this.scheduleUpload(file, delay);
      },
    );
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  /** Uploads the file's current contents if dirty; one upload per file at a time. Throws on failure. */
  private uploadNow(file: VfsFile): Promise<void> {
    return file.uploadLock.run(async () => {
      if (!file.dirty || file.unlinked || !file.cache) return;
      const release = await this.uploadSlots.acquire();
      try {
        await this.passBarriers(file);
        if (!file.dirty || file.unlinked || !file.cache) return;
        const done = deferred();
        file.inFlight = done.promise;
        try {
          await this.transfer(file);
        } finally {
          file.inFlight = undefined;
          done.resolve();
        }
      } finally {
        release();
      }
    });
  }

  private async transfer(file: VfsFile): Promise<void> {
    const item = file.cache!;
    const hadSource = item.sourceSize > 0;
    await item.fillFromSource();
    if (hadSource && item.journaled) await this.store!.markDirty(item);
    const generation = item.generation;
    const size = item.size;
    const mtime = item.mtime;
    const path = file.path;
    log.debug(`${logPath(path)}: uploading ${size} bytes`);
    const entry = await this.remote.write(path, item.stream(size), { mtime, size });
    file.existsOnRemote = true;
    file.failures = 0;
    if (item.generation === generation && !file.unlinked) {
      file.dirty = false;
      item.source = { size: entry.size, mtimeMs: entry.mtime.getTime() };
      await this.store!.markClean(item);
    }
    if (!file.dirty && item.mtime.getTime() !== mtime.getTime()) {
      await this.remote.setMtime(path, item.mtime);
      item.source = { size: entry.size, mtimeMs: item.mtime.getTime() };
    }
    this.dirCache.upsert(parentPath(path), baseName(path), { isDir: false, size: file.size, mtime: file.mtime });
    log.info(`${logPath(path)}: Copied (${size} bytes)`);
    // Mode full keeps the clean copy: over --vfs-cache-max-size, clean copies go now, not at the next poll.
    if (this.cacheMode === 'full' && Number.isFinite(this.options.cacheMaxSizeBytes)) void this.evict();
  }

  private async passBarriers(file: VfsFile): Promise<void> {
    for (;;) {
      const barrier = [...this.barriers].find((b) => under(file.path, b.paths));
      if (!barrier) return;
      await barrier.done;
    }
  }

  /**
   * Runs `fn` with uploads under `paths` held back: uploads already
   * transferring finish first, queued ones wait until `fn` is done (and then
   * go to the files' new paths).
   */
  private async withBarrier<T>(paths: string[], fn: () => Promise<T>): Promise<T> {
    const done = deferred();
    const barrier = { paths, done: done.promise };
    this.barriers.add(barrier);
    try {
      const running = [...this.files.values()]
        .filter((f) => f.inFlight && under(f.path, paths))
        .map((f) => f.inFlight!.catch(() => undefined));
      await Promise.all(running);
      return await fn();
    } finally {
      this.barriers.delete(barrier);
      done.resolve();
    }
  }

  /** Uploads every dirty file now; resolves to the paths that failed. */
  async flushAll(): Promise<string[]> {
    const failed: string[] = [];
    const dirty = [...this.files.values()].filter((f) => f.dirty && !f.unlinked);
    await Promise.all(
      dirty.map(async (f) => {
        this.cancelUpload(f);
        try {
          await this.uploadNow(f);
        } catch (err) {
          failed.push(f.path);
          log.error(`${logPath(f.path)}: upload failed: ${errorMessage(err)}`);
        }
      }),
    );
    return failed;
  }

  /** Resolves when no upload is scheduled, queued or running (for tests and unmount). */
  async waitIdle(): Promise<void> {
    for (;;) {
      const busy = [...this.files.values()].filter((f) => f.uploadTimer || f.inFlight || f.uploadLock.locked);
      if (busy.length === 0 && this.background.size === 0) return;
      if (busy.some((f) => f.uploadTimer)) {
        for (const f of busy) {
          if (f.uploadTimer) {
            this.cancelUpload(f);
            this.startUpload(f);
          }
        }
      }
      await Promise.all([...this.background]);
      await new Promise((r) => setImmediate(r));
    }
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
    if (this.evictTimer) clearInterval(this.evictTimer);
    for (const f of this.files.values()) {
      if (f.writer) {
        log.error(`${logPath(f.path)}: unmounted while open for writing: upload abandoned`);
        f.writer.abort('unmounted while open for writing');
      }
    }
    // Recovery still running stops at the next file (the rest stays journaled); let it settle first.
    await Promise.allSettled([...this.background]);
    const failed = await this.flushAll();
    await Promise.allSettled([...this.background]);
    this.closed = true;
    for (const f of this.files.values()) {
      if (f.uploadTimer) this.cancelUpload(f);
      if (!f.cache) continue;
      // Dirty files stay (journaled) for the next mount; clean cached copies go.
      if (f.dirty && !f.unlinked) await f.cache.close();
      else await this.store!.remove(f.cache);
    }
    await this.store?.close();
    return failed;
  }

  // ---- internals ----

  private checkOpen(): void {
    if (this.closed) throw new VfsError('EIO', 'the VFS is closed');
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.options.readOnly) throw new ReadOnlyError('read-only file system');
  }

  private startListing(dir: string): DirListing {
    const listing = this.dirCache.begin(dir);
    void (async () => {
      try {
        for await (const e of this.remote.list(dir)) {
          listing.addRemote(baseName(e.path), { isDir: e.isDir, size: e.size, mtime: e.mtime });
        }
        listing.finish();
      } catch (err) {
        if (isNotFound(err) && (dir === '' || this.virtualDirs.has(dir) || this.hasActiveUnder(dir))) {
          listing.finish();
          return;
        }
        this.dirCache.discard(listing);
        listing.fail(err);
      }
    })();
    return listing;
  }

  private hasActiveUnder(dir: string): boolean {
    for (const f of this.files.values()) if (f.active && !f.unlinked && under(f.path, [dir])) return true;
    for (const d of this.virtualDirs) if (under(d, [dir])) return true;
    return false;
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

  private async rmdirRemote(path: string): Promise<void> {
    try {
      await this.remote.rmdir(path);
    } catch (err) {
      // An object store's empty "directory" is only a name we kept.
      if (isNotFound(err)) return;
      throw err;
    }
  }

  /** The live (not unlinked) file object of a path, if any. */
  private liveFile(path: string): VfsFile | undefined {
    const f = this.files.get(path);
    return f && !f.unlinked ? f : undefined;
  }

  /** The file object for an existing path (attr from a listing or the file itself). */
  private fileFor(path: string, attr: VfsAttr): VfsFile {
    let file = this.liveFile(path);
    if (file && !file.active && file.cache?.source) {
      // A clean cached copy (mode full) is only good while the remote object is unchanged.
      const src = file.cache.source;
      if (src.size !== attr.size || src.mtimeMs !== attr.mtime.getTime()) {
        log.debug(`${logPath(path)}: remote object changed, dropping the cached copy`);
        const stale = file.cache;
        file.cache = undefined;
        void this.store!.remove(stale).catch(() => undefined);
      }
    }
    if (!file) {
      file = new VfsFile(path, attr.size, attr.mtime, true);
      this.files.set(path, file);
    } else if (!file.active) {
      file.size = attr.size;
      file.mtime = attr.mtime;
    }
    return file;
  }

  private async attachCache(file: VfsFile, attr: VfsAttr): Promise<void> {
    const onRemote = file.existsOnRemote;
    file.cache = await this.store!.create({
      path: file.path,
      size: attr.size,
      sourceSize: onRemote ? attr.size : 0,
      source: onRemote ? { size: attr.size, mtimeMs: attr.mtime.getTime() } : undefined,
      mtime: attr.mtime,
    });
    file.cache.fetch = this.sourceOpener(file);
  }

  private sourceOpener(file: VfsFile): RangeOpener {
    return (offset, length) => this.remote.openRead(file.path, { offset, length });
  }

  /** Drops a file whose name went away (unlink, replaced by rename). */
  private async discard(file: VfsFile): Promise<void> {
    file.unlinked = true;
    file.dirty = false;
    this.cancelUpload(file);
    if (this.files.get(file.path) === file) this.files.delete(file.path);
    const item = file.cache;
    if (item) {
      await this.store!.markClean(item);
      // A release finishing meanwhile may have let the cache file go already.
      if (file.handles === 0 && file.cache === item) {
        file.cache = undefined;
        await this.store!.remove(item);
      }
    }
  }

  /** Lets go of a file object nothing needs any more. */
  private maybeForget(file: VfsFile): void {
    if (file.active) return;
    const keepCache = this.cacheMode === 'full' && !file.unlinked && file.cache !== undefined && !this.closing;
    if (file.cache && !keepCache) {
      const item = file.cache;
      file.cache = undefined;
      void this.store!.remove(item).catch((err) => log.error(`vfs cache: remove ${item.id}: ${errorMessage(err)}`));
    }
    if (!keepCache && this.files.get(file.path) === file) this.files.delete(file.path);
    file.cache?.dropHot();
  }

  /** Mode full: removes clean cached files unused for --vfs-cache-max-age, then the oldest beyond --vfs-cache-max-size. */
  async evict(): Promise<void> {
    if (!this.store || this.closing) return;
    const now = Date.now();
    const passive = [...this.files.values()].filter((f) => f.cache && !f.active && !f.dirty);
    let total = 0;
    for (const f of this.files.values()) total += f.cache?.diskBytes ?? 0;
    passive.sort((a, b) => a.cache!.lastUsed - b.cache!.lastUsed);
    for (const f of passive) {
      const item = f.cache!;
      const old = now - item.lastUsed > this.options.cacheMaxAgeMs;
      if (!old && total <= this.options.cacheMaxSizeBytes) continue;
      total -= item.diskBytes;
      f.cache = undefined;
      if (this.files.get(f.path) === f) this.files.delete(f.path);
      await this.store.remove(item).catch(() => undefined);
      log.debug(`${logPath(f.path)}: removed from the VFS cache (${old ? 'old' : 'cache full'})`);
    }
  }

  /**
   * Re-uploads what the journal lists, in the background. Operations on a
   * path being recovered wait for it (settle); everything else goes on.
   */
  private startRecovery(entries: JournalEntry[]): void {
    if (entries.length === 0) return;
    log.notice(`vfs cache: ${entries.length} file(s) left modified by an unclean stop: recovering in the background`);
    const byPath = new Map<string, JournalEntry[]>();
    for (const e of entries) byPath.set(e.path, [...(byPath.get(e.path) ?? []), e]);
    for (const [path, list] of byPath) {
      // Started once: by the background queue, or at once by an operation on the path (settle).
      let started: Promise<void> | undefined;
      const start = (): Promise<void> =>
        (started ??= (async () => {
          for (const entry of list) {
            try {
              await this.recover(entry);
            } catch (err) {
              log.error(`${logPath(entry.path)}: recovery of changes left by an unclean stop failed: ${errorMessage(err)}`);
            }
          }
        })().finally(() => {
          if (this.recovering.get(path) === start) this.recovering.delete(path);
        }));
      this.recovering.set(path, start);
    }
    const run = forEachLimited([...byPath.keys()], 4, async (path) => {
      await this.recovering.get(path)?.();
    });
    this.background.add(run);
    void run.finally(() => this.background.delete(run));
  }

  /** Waits while `path` is being recovered from the journal (recovering it first if it was still queued). */
  private async settle(...paths: string[]): Promise<void> {
    if (this.recovering.size === 0) return;
    for (const p of paths) await this.recovering.get(p)?.();
  }

  private async recover(entry: JournalEntry): Promise<void> {
    if (this.closing) return;
    let item;
    try {
      item = await this.store!.recover(entry);
    } catch (err) {
      log.error(`vfs cache: cannot read the cached changes of ${logPath(entry.path)}: ${errorMessage(err)}`);
      await this.store!.journal.remove(entry.id);
      return;
    }
    const file = new VfsFile(entry.path, item.size, item.mtime, true);
    file.cache = item;
    file.dirty = true;
    item.fetch = this.sourceOpener(file);
    if (item.sourceSize > 0 && !item.complete) {
      let same = false;
      try {
        const now = await this.remote.stat(entry.path);
        same = !now.isDir && now.size === entry.source?.size && now.mtime.getTime() === entry.source.mtimeMs;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (!same) {
        log.error(
          `${logPath(entry.path)}: the changes cached before an unclean stop cannot be uploaded: ` +
            `the remote object they modify has changed meanwhile`,
        );
        await this.store!.remove(item);
        return;
      }
    }
    if (item.writing) {
      await this.keepAside(file, entry);
      return;
    }
    const old = this.files.get(entry.path);
    if (old) await this.discard(old);
    this.files.set(entry.path, file);
    log.notice(`${logPath(entry.path)}: uploading changes left by an unclean stop (${item.size} bytes)`);
    this.startUpload(file);
  }

  /**
   * A file that was open for writing when the daemon died may be half-written:
   * it must not replace the version on the remote. Its bytes go up under a
   * side name next to it; the name itself keeps its last saved version.
   */
  private async keepAside(file: VfsFile, entry: JournalEntry): Promise<void> {
    const item = file.cache!;
    // Blocks not cached come from the object at the old name: take them now, before it can change.
    await item.fillFromSource();
    const side = this.sideName(entry.path);
    file.path = side;
    item.path = side;
    item.writing = false;
    file.existsOnRemote = false;
    item.source = undefined;
    await this.store!.markDirty(item);
    this.files.set(side, file);
    this.dirCache.upsert(parentPath(side), baseName(side), { isDir: false, size: item.size, mtime: item.mtime });
    log.notice(
      `${logPath(entry.path)}: was open for writing when cryptfs stopped; it keeps its last saved version and ` +
        `the unsaved contents (${item.size} bytes) are uploaded as ${side}`,
    );
    this.startUpload(file);
  }

  /** `dir/name.cryptfs-recovered-<UTC time>` (shortened if the format cannot hold that name). */
  private sideName(path: string): string {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
    const dir = parentPath(path);
    const base = baseName(path);
    const taken = (p: string) => this.files.has(p);
    const candidates = [`${base}.cryptfs-recovered-${stamp}`, `cryptfs-recovered-${stamp}`];
    for (const name of candidates) {
      for (let n = 1; n < 100; n++) {
        const p = joinPath(dir, n === 1 ? name : `${name}-${n}`);
        if (taken(p)) continue;
        try {
          this.validateName(p, false);
        } catch {
          break;
        }
        return p;
      }
    }
    return joinPath(dir, `cryptfs-recovered-${stamp}-${Math.random().toString(36).slice(2, 8)}`);
  }

  /**
   * Makes room on a full cache disk: drops clean cached copies nothing uses,
   * and starts the uploads of closed files now instead of after the write-back
   * delay. Resolves true when something was freed or is on its way.
   */
  async makeRoom(bytes: number): Promise<boolean> {
    if (!this.store) return false;
    let freed = 0;
    const clean = [...this.files.values()]
      .filter((f) => f.cache && !f.active && !f.dirty)
      .sort((a, b) => a.cache!.lastUsed - b.cache!.lastUsed);
    for (const f of clean) {
      if (freed >= bytes) break;
      const item = f.cache!;
      freed += item.diskBytes;
      f.cache = undefined;
      if (this.files.get(f.path) === f) this.files.delete(f.path);
      await this.store.remove(item).catch(() => undefined);
    }
    if (freed > 0) {
      log.debug(`vfs cache: cache disk full: dropped ${clean.length} clean cached file(s)`);
      return true;
    }
    let waiting = false;
    for (const f of this.files.values()) {
      if (!f.dirty || f.unlinked || f.handles > 0 || !f.cache) continue;
      if (f.uploadTimer) {
        this.cancelUpload(f);
        this.startUpload(f);
      }
      waiting = true;
    }
    if (!waiting || this.closing) return false;
    await new Promise((r) => setTimeout(r, 500).unref());
    return true;
  }

  private async renameFile(from: string, to: string, src: VfsAttr, noReplace: boolean): Promise<void> {
    const dst = await this.lookup(to);
    if (dst?.isDir) throw new IsDirectoryError(to);
    if (dst && noReplace) throw new AlreadyExistsError(to);
    this.validateName(to, false);
    if (this.liveFile(from)?.writer || this.liveFile(to)?.writer) {
      throw new VfsError('EBUSY', `${logPath(from)}: can't rename a file open for writing without --vfs-cache-mode >= writes`);
    }
    await this.withBarrier([from, to], async () => {
      const srcFile = this.liveFile(from);
      const dstFile = this.liveFile(to);
      const srcOnRemote = srcFile ? srcFile.existsOnRemote : true;
      const dstOnRemote = dst !== undefined && (dstFile ? dstFile.existsOnRemote : true);
      if (srcOnRemote) {
        try {
          await this.moveObject(from, to);
        } catch (err) {
          // A dirty file whose old object is gone: its upload will make the new one.
          if (!(isNotFound(err) && srcFile?.dirty)) throw err;
        }
      }
      if (dstFile && dstFile !== srcFile) await this.discard(dstFile);
      if (srcFile) {
        this.files.delete(from);
        srcFile.path = to;
        srcFile.existsOnRemote = srcOnRemote || dstOnRemote;
        this.files.set(to, srcFile);
        if (srcFile.cache) {
          srcFile.cache.path = to;
          if (srcFile.cache.journaled) await this.store!.markDirty(srcFile.cache);
        }
      }
      this.dirCache.remove(parentPath(from), baseName(from));
      const now = srcFile ? srcFile.attr() : src;
      this.dirCache.upsert(parentPath(to), baseName(to), { isDir: false, size: now.size, mtime: now.mtime });
    });
  }

  /** Moves one object by the cheapest means the remote has. */
  private async moveObject(from: string, to: string): Promise<void> {
    if (this.remote.move) {
      await this.remote.move(from, to);
      return;
    }
    await this.copyObject(from, to);
    await this.remote.delete(from);
  }

  private async copyObject(from: string, to: string): Promise<void> {
    if (this.remote.copy) {
      await this.remote.copy(from, to);
      return;
    }
    const e = await this.remote.stat(from);
    await this.remote.write(to, await this.remote.openRead(from), { mtime: e.mtime, size: e.size });
  }

  private async renameDir(from: string, to: string, noReplace: boolean): Promise<void> {
    if (to.startsWith(from + '/')) throw new VfsError('EINVAL', `can't move ${logPath(from)} into itself`);
    const dst = await this.lookup(to);
    if (dst) {
      if (!dst.isDir) throw new NotDirectoryError(to);
      if (noReplace) throw new AlreadyExistsError(to);
      if (await this.dirHasEntries(to)) throw new DirNotEmptyError(to);
    }
    this.validateName(to, true);
    for (const f of this.files.values()) {
      if (f.writer && under(f.path, [from])) {
        throw new VfsError('EBUSY', `${logPath(from)}: holds ${logPath(f.path)}, open for writing without --vfs-cache-mode >= writes`);
      }
    }
    await this.withBarrier([from, to], async () => {
      if (dst) await this.rmdirRemote(to);
      const tree = await this.walkRemote(from);
      const target = (p: string) => to + p.slice(from.length);
      const realDirs = this.remote.features.realDirectories;
      const parallel = Math.max(4, this.options.transfers * 2);
      await this.remote.mkdir(to);
      if (realDirs) for (const d of tree.dirs) await this.remote.mkdir(target(d));
      if (realDirs && this.remote.move) {
        // Renames within one file system: each move is atomic; undo them all if one fails.
        const moved: string[] = [];
        try {
          await forEachLimited(tree.files, parallel, async (e) => {
            await this.remote.move!(e.path, target(e.path));
            moved.push(e.path);
          });
        } catch (err) {
          await forEachLimited(moved, parallel, (p) => this.remote.move!(target(p), p).then(() => undefined)).catch(
            (undo) => log.error(`${logPath(from)}: undoing a failed directory rename: ${errorMessage(undo)}`),
          );
          throw err;
        }
      } else {
        // Object stores: copy everything, and remove the old names only once every copy exists.
        const copied: string[] = [];
        try {
          await forEachLimited(tree.files, parallel, async (e) => {
            await this.copyObject(e.path, target(e.path));
            copied.push(target(e.path));
          });
        } catch (err) {
          await forEachLimited(copied, parallel, (p) => this.remote.delete(p)).catch(() => undefined);
          throw err;
        }
        await forEachLimited(tree.files, parallel, (e) => this.remote.delete(e.path));
      }
      // Old directories (on object stores these are usually gone with their last object).
      for (const d of [from, ...tree.dirs].reverse()) {
        await this.rmdirRemote(d).catch((err) => log.error(`${logPath(d)}: removing after rename: ${errorMessage(err)}`));
      }
      // Files not uploaded yet (or uploading later) follow the directory.
      for (const [p, f] of [...this.files]) {
        if (!under(p, [from])) continue;
        this.files.delete(p);
        f.path = target(p);
        this.files.set(f.path, f);
        if (f.cache) {
          f.cache.path = f.path;
          if (f.cache.journaled) await this.store!.markDirty(f.cache);
        }
      }
      for (const d of [...this.virtualDirs]) {
        if (!under(d, [from])) continue;
        this.virtualDirs.delete(d);
        this.virtualDirs.add(target(d));
      }
      if (!realDirs) this.virtualDirs.add(to);
      this.dirCache.renameTree(from, to);
      this.dirCache.remove(parentPath(from), baseName(from));
      this.dirCache.upsert(parentPath(to), baseName(to), { isDir: true, size: -1, mtime: new Date() });
      log.info(`${logPath(from)}: renamed to ${logPath(to)} (${tree.files.length} objects)`);
    });
  }

  /** Every object and directory below `dir` on the remote (breadth first). */
  private async walkRemote(dir: string): Promise<{ files: RemoteEntry[]; dirs: string[] }> {
    const files: RemoteEntry[] = [];
    const dirs: string[] = [];
    const queue = [dir];
    while (queue.length > 0) {
      const d = queue.shift()!;
      try {
        for await (const e of this.remote.list(d)) {
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

  /** Throws NameTooLongError for a name the remote (or the crypt format over it) cannot hold. */
  validateName(path: string, isDir: boolean): void {
    let base = '';
    let r: Remote = this.remote;
    while (r instanceof SubRemote) {
      base = joinPath(r.base, base);
      r = r.inner;
    }
    const crypt = findCryptRemote(this.remote);
    if (crypt && r === crypt) {
      const full = joinPath(base, path);
      if (isDir) crypt.encryptDirPath(full);
      else crypt.encryptFilePath(full);
      return;
    }
    const limit = this.remote.features.maxSegmentBytes;
    if (limit === undefined) return;
    for (const seg of path.split('/')) {
      const len = Buffer.byteLength(seg);
      if (len > limit) throw new NameTooLongError(seg, len, limit);
    }
  }

  /** Longest name (bytes) that fits, for statfs. */
  private nameMax(): number {
    if (this.nameMaxCache !== undefined) return this.nameMaxCache;
    const crypt = findCryptRemote(this.remote);
    const limit = this.remote.features.maxSegmentBytes;
    let n = limit ?? 255;
    if (crypt && limit !== undefined && crypt.options.mode !== 'off') n = crypt.maxPlainSegmentBytes(limit);
    this.nameMaxCache = Math.min(255, n);
    return this.nameMaxCache;
  }
}

async function journalHasRecords(cacheDir: string): Promise<boolean> {
  try {
    return (await fsp.stat(join(cacheDir, 'journal'))).size > 0;
  } catch {
    return false;
  }
}

export type { DirEntryInfo };
