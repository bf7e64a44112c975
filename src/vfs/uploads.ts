// The upload queue of the VFS: uploads of dirty cached files after the
// write-back delay (retried with backoff), at most --transfers at a time, one
// per file; barriers that hold uploads back while a rename moves their paths;
// and the background work (uploads, recovery) that unmount waits for.
import { errorMessage } from '../errors.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import type { Remote } from '../remote/remote.js';
import { baseName, parentPath } from '../remote/remote.js';
import type { DirCache } from './dir-cache.js';
import type { VfsFile } from './file-handle.js';
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

  schedule(file: VfsFile, delayMs: number): void {
    this.cancel(file);
    if (delayMs <= 0) {
      this.start(file);
      return;
    }
    file.uploadTimer = setTimeout(() => {
      file.uploadTimer = undefined;
      this.start(file);
    }, delayMs);
  }

  cancel(file: VfsFile): void {
    if (file.uploadTimer) clearTimeout(file.uploadTimer);
    file.uploadTimer = undefined;
  }

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
    const path = file.path;
    log.debug(`${logPath(path)}: uploading ${size} bytes`);
    const entry = await this.host.remote.write(path, item.stream(size), { mtime, size });
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
    this.host.dirCache.upsert(parentPath(path), baseName(path), { isDir: false, size: file.size, mtime: file.mtime });
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
