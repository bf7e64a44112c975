// Write-back for the VFS: what happens when open files change, close, fsync or
// finish streaming; the upload queue (dirty cached files go up after the
// write-back delay, retried with backoff, at most --transfers at a time, one
// per file); barriers that hold uploads back while a rename moves their paths;
// and the background work (uploads, recovery) that unmount waits for.
import { ErrnoError, errorMessage } from '../errors.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import type { Remote, RemoteEntry } from '../remote/remote.js';
import { baseName, parentPath } from '../remote/remote.js';
import type { DirCache } from './dir-cache.js';
import { StreamWriter, type VfsFile } from './file-handle.js';
import { under } from './names.js';
import type { VfsOptions } from './options.js';
import { deferred, Semaphore } from './sync.js';
import type { CacheStore } from './write-cache.js';

/** What the upload queue asks of the VFS. */
export interface UploadHost {
  readonly remote: Remote;
  readonly options: VfsOptions;
  readonly dirCache: DirCache;
  /** The cache store (there are no dirty files without one). */
  store(): CacheStore;
  /** The VFS's file objects by path (read only here). */
  readonly files: ReadonlyMap<string, VfsFile>;
  /** Whether the VFS is being closed (unmount). */
  closing(): boolean;
  /** Lets go of a file object nothing needs any more. */
  maybeForget(file: VfsFile): void;
  /** Mode full: drops clean cached copies over the cache limits. */
  evict(): Promise<void>;
}

export class Uploads {
  private readonly slots: Semaphore;
  private readonly barriers = new Set<{ paths: string[]; done: Promise<void> }>();
  private readonly background = new Set<Promise<void>>();

  constructor(private readonly host: UploadHost) {
    this.slots = new Semaphore(Math.max(1, host.options.transfers));
  }

  /** Keeps track of background work (uploads, recovery) until it ends. */
  track(p: Promise<void>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  /** Resolves when the background work running now has ended (whether or not it succeeded). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.background]);
  }

  // ---- write-back of open files (the FileHost side of the VFS) ----

  /** Mode off: a file opened for writing streams its upload through this writer. */
  startStream(file: VfsFile): StreamWriter {
    if (file.writer) throw new ErrnoError('EBUSY', `${logPath(file.path)}: already open for writing`);
    const { writeWaitMs, clock } = this.host.options;
    const writer = new StreamWriter(this.host.remote, file.path, new Date(), { writeWaitMs, clock }, file.metadata);
    file.writer = writer;
    return writer;
  }

  /** A stream-written file finished (or failed) uploading. */
  async streamFinished(file: VfsFile, entry: RemoteEntry | undefined): Promise<void> {
    file.writer = undefined;
    const path = file.path;
    if (entry) {
      file.existsOnRemote = true;
      file.size = entry.size;
      file.mtime = entry.mtime;
      if (file.unlinked) {
        await this.host.remote.delete(path).catch((err) => log.error(`${logPath(path)}: remove after unlink: ${errorMessage(err)}`));
      } else {
        if (file.pendingMtime) {
          const m = file.pendingMtime;
          file.pendingMtime = undefined;
          await this.host.remote.setMtime(path, m).then(
            () => (file.mtime = m),
            (err) => log.error(`${logPath(path)}: set modification time: ${errorMessage(err)}`),
          );
        }
        if (file.pendingMetadata) {
          const changes = file.pendingMetadata;
          file.pendingMetadata = undefined;
          await this.host.remote.setMetadata?.(path, changes).catch((err) => log.error(`${logPath(path)}: set metadata: ${errorMessage(err)}`));
        }
        this.host.dirCache.upsert(parentPath(path), baseName(path), { isDir: false, size: entry.size, mtime: file.mtime, metadata: file.metadata });
        log.info(`${logPath(path)}: Copied (${entry.size} bytes)`);
      }
    } else if (!file.existsOnRemote && !file.unlinked) {
      this.host.dirCache.remove(parentPath(path), baseName(path));
    }
    this.host.maybeForget(file);
  }

  /** A cached file changed: journal it (as being written, with `writing`) before acknowledging. */
  async markDirty(file: VfsFile, writing = false): Promise<void> {
    if (!file.cache) return;
    file.dirty = true;
    // With the flag, in the same tick: an upload finishing while this change is still on its
    // way (journal, cache lock) then sees a new generation and leaves the file dirty.
    file.cache.generation++;
    file.failures = 0;
    if (writing) file.cache.writing = true;
    if (!file.unlinked) await this.host.store().markDirty(file.cache);
  }

  /** A handle was closed: the last close schedules the upload after the write-back delay. */
  async released(file: VfsFile, writable: boolean): Promise<void> {
    file.handles--;
    if (writable) file.writers--;
    const item = file.cache;
    if (writable && file.writers === 0 && item?.writing) {
      // Closed: from now on an unclean stop uploads these contents as they are.
      item.writing = false;
      if (file.dirty && !file.unlinked && item.journaled) {
        await this.host.store().markDirty(item).catch((err) => log.error(`${logPath(file.path)}: journal: ${errorMessage(err)}`));
      }
    }
    if (file.handles > 0) return;
    if (file.dirty && !file.unlinked && !this.host.closing()) this.schedule(file, this.host.options.writeBackMs);
    this.host.maybeForget(file);
  }

  /** fsync: upload now and wait until the remote has the current contents. */
  async syncFile(file: VfsFile): Promise<void> {
    for (let round = 0; file.dirty && !file.unlinked; round++) {
      if (round >= 5) throw new ErrnoError('EIO', `${logPath(file.path)}: still changing while being synced`);
      this.cancel(file);
      try {
        await this.uploadNow(file);
      } catch (err) {
        throw new ErrnoError('EIO', `${logPath(file.path)}: upload failed: ${errorMessage(err)}`, { cause: err });
      }
    }
  }

  // ---- the queue ----

  /** Uploads `file` after `delayMs` (at once when 0), replacing an upload already scheduled. */
  schedule(file: VfsFile, delayMs: number): void {
    this.cancel(file);
    if (delayMs <= 0) {
      this.start(file);
      return;
    }
    file.uploadTimer = this.host.options.clock.setTimeout(() => {
      file.uploadTimer = undefined;
      this.start(file);
    }, delayMs);
  }

  /** Drops the scheduled (not yet started) upload of `file`. */
  cancel(file: VfsFile): void {
    this.host.options.clock.clear(file.uploadTimer);
    file.uploadTimer = undefined;
  }

  /** Starts uploading `file` in the background; a failure is retried with backoff while it stays closed and dirty. */
  start(file: VfsFile): void {
    const p = this.uploadNow(file).then(
      () => this.host.maybeForget(file),
      (err) => {
        file.failures++;
        const delay = Math.min(60_000, 1000 * 2 ** Math.min(file.failures, 6));
        log.error(`${logPath(file.path)}: upload failed (attempt ${file.failures}): ${errorMessage(err)}`);
        if (!this.host.closing() && file.dirty && !file.unlinked && file.handles === 0) this.schedule(file, delay);
      },
    );
    this.track(p);
  }

  /** Uploads the file's current contents if dirty; one upload per file at a time. Throws on failure. */
  uploadNow(file: VfsFile): Promise<void> {
    return file.uploadLock.run(async () => {
      if (!file.dirty || file.unlinked || !file.cache) return;
      const release = await this.slots.acquire();
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
    if (hadSource && item.journaled) await this.host.store().markDirty(item);
    const generation = item.generation;
    const size = item.size;
    const mtime = item.mtime;
    const metadata = item.metadata;
    const path = file.path;
    log.debug(`${logPath(path)}: uploading ${size} bytes`);
    const entry = await this.host.remote.write(path, item.stream(size), { mtime, size, metadata });
    file.existsOnRemote = true;
    file.failures = 0;
    if (item.generation === generation && !file.unlinked) {
      file.dirty = false;
      item.source = { size: entry.size, mtimeMs: entry.mtime.getTime() };
      await this.host.store().markClean(item);
    }
    if (!file.dirty && item.mtime.getTime() !== mtime.getTime()) {
      await this.host.remote.setMtime(path, item.mtime);
      item.source = { size: entry.size, mtimeMs: item.mtime.getTime() };
    }
    // chmod/chown while the upload ran: the object has the metadata sent, not the current one. Again
    // until it holds: a chown during this very update only changes item.metadata (inFlight is still set).
    let sent = metadata;
    while (!file.dirty && item.metadata !== sent && item.metadata && this.host.remote.setMetadata) {
      sent = item.metadata;
      await this.host.remote.setMetadata(path, sent);
    }
    this.host.dirCache.upsert(parentPath(path), baseName(path), { isDir: false, size: file.size, mtime: file.mtime, metadata: file.metadata });
    log.info(`${logPath(path)}: Copied (${size} bytes)`);
    // Mode full keeps the clean copy: over --vfs-cache-max-size, clean copies go now, not at the next poll.
    if (this.host.options.cacheMode === 'full' && Number.isFinite(this.host.options.cacheMaxSizeBytes)) void this.host.evict();
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
  async withBarrier<T>(paths: string[], fn: () => Promise<T>): Promise<T> {
    const done = deferred();
    const barrier = { paths, done: done.promise };
    this.barriers.add(barrier);
    try {
      const running = [...this.host.files.values()]
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
    const dirty = [...this.host.files.values()].filter((f) => f.dirty && !f.unlinked);
    await Promise.all(
      dirty.map(async (f) => {
        this.cancel(f);
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
      const busy = [...this.host.files.values()].filter((f) => f.uploadTimer || f.inFlight || f.uploadLock.locked);
      if (busy.length === 0 && this.background.size === 0) return;
      if (busy.some((f) => f.uploadTimer)) {
        for (const f of busy) {
          if (f.uploadTimer) {
            this.cancel(f);
            this.start(f);
          }
        }
      }
      await Promise.all([...this.background]);
      await new Promise((r) => setImmediate(r));
    }
  }

}
