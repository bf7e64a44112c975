// Open files of the VFS. A VfsFile is the state of one path while it is open,
// dirty, uploading or cached; a FileHandle is one open() of it:
// - RemoteReadHandle: read-only, streamed from the remote with read-ahead.
// - StreamWriteHandle (--vfs-cache-mode off): writes go straight into the
//   remote's write through a bounded queue; they must be sequential.
// - CachedHandle (writes/full): everything through the encrypted local cache.
import { AbortedError, ErrnoError, errorMessage } from '../errors.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import type { Metadata, Remote, RemoteEntry } from '../remote/remote.js';
import { StreamingReader } from './read-ahead.js';
import { deferred, Mutex } from './sync.js';
import type { CacheItem } from './cache-item.js';
import type { Clock, ClockTimer } from './clock.js';
import { sharedAbortController } from '../abort.js';

export interface VfsAttr {
  path: string;
  isDir: boolean;
  /** A symlink (links on): size is the target's length in bytes. */
  isLink?: boolean;
  size: number;
  mtime: Date;
  /** Stored rclone metadata a rewrite keeps (mode, uid, gid, user keys; see carriedMetadata). */
  metadata?: Metadata;
}

/** The state of one file path while open, dirty, uploading or cached. */
export class VfsFile {
  /** Open handles. */
  handles = 0;
  /** Open handles that may write (their last close ends a "being written" stretch). */
  writers = 0;
  /** Local changes not yet on the remote (cache modes). */
  dirty = false;
  /** Set once the path no longer names this file (unlinked, or replaced by a rename). */
  unlinked = false;
  /** Whether an object for this path is (believed to be) on the remote. */
  existsOnRemote: boolean;
  /** The encrypted local cache of the contents (modes writes/full). */
  cache: CacheItem | undefined;
  /** The upload streaming in mode off. */
  writer: StreamWriter | undefined;
  /** The upload being transferred right now (not queued): renames wait for it. */
  inFlight: Promise<void> | undefined;
  uploadTimer: ClockTimer | undefined;
  /** Serializes uploads of this file. */
  readonly uploadLock = new Mutex();
  /** Consecutive failed uploads, for the retry back-off. */
  failures = 0;
  /** Mode off: a modification time set while streaming, applied once the object exists. */
  pendingMtime: Date | undefined;
  /** Mode off: metadata changed (chmod, chown) while streaming, applied once the object exists. */
  pendingMetadata: Metadata | undefined;
  /** A cache file being set up for this file (opens racing share it). */
  cacheReady: Promise<void> | undefined;
  private plainSize: number;
  private plainMtime: Date;
  private plainMetadata: Metadata | undefined;

  constructor(
    public path: string,
    size: number,
    mtime: Date,
    existsOnRemote: boolean,
  ) {
    this.plainSize = size;
    this.plainMtime = mtime;
    this.existsOnRemote = existsOnRemote;
  }

  get size(): number {
    if (this.cache) return this.cache.size;
    if (this.writer) return this.writer.written;
    return this.plainSize;
  }

  set size(n: number) {
    this.plainSize = n;
  }

  get mtime(): Date {
    return this.cache ? this.cache.mtime : this.plainMtime;
  }

  set mtime(d: Date) {
    this.plainMtime = d;
    if (this.cache) this.cache.mtime = d;
  }

  /** The metadata the object has or its next upload carries (journaled with the cache while dirty). */
  get metadata(): Metadata | undefined {
    return this.cache ? this.cache.metadata : this.plainMetadata;
  }

  set metadata(md: Metadata | undefined) {
    this.plainMetadata = md;
    if (this.cache) this.cache.metadata = md;
  }

  /** Whether the file's own state (not the remote listing) is the truth about it. */
  get active(): boolean {
    return (
      this.handles > 0 ||
      this.dirty ||
      this.writer !== undefined ||
      this.inFlight !== undefined ||
      this.uploadTimer !== undefined ||
      this.uploadLock.locked
    );
  }

  attr(): VfsAttr {
    return { path: this.path, isDir: false, size: this.size, mtime: this.mtime, metadata: this.metadata };
  }
}

/** What an open(2) asks for. */
export interface OpenFlags {
  /** O_CREAT of a new file: its metadata (create's mode, and owner when not the mount's). */
  metadata?: Metadata;
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

/** What handles need from the VFS. */
export interface FileHost {
  readonly remote: Remote;
  readonly readAheadBytes: number;
  /** Fires when the VFS closes (unmount): reads nobody will wait for then stop. */
  readonly requestSignal?: AbortSignal;
  /**
   * The first change of a clean cached file, or the first through a writable
   * handle since the last close or fsync: journal it (as being written, with
   * `writing`) before acknowledging.
   */
  markDirty(file: VfsFile, writing?: boolean): Promise<void>;
  /** A handle was closed (`writable`: it was open for writing). */
  released(file: VfsFile, writable: boolean): Promise<void>;
  /** Upload now and wait until the remote has the current contents. */
  syncFile(file: VfsFile): Promise<void>;
  /** A stream-written file finished (or failed) uploading. */
  streamFinished(file: VfsFile, entry: RemoteEntry | undefined): Promise<void>;
}

export interface FileHandle {
  readonly file: VfsFile;
  read(offset: number, length: number): Promise<Buffer>;
  write(data: Buffer, offset: number): Promise<number>;
  truncate(size: number): Promise<void>;
  /**
   * fallocate(2) mode 0 (grow to cover the range, zeros) or, with `keepSize`,
   * FALLOC_FL_KEEP_SIZE (room for the range, size unchanged).
   */
  allocate(offset: number, length: number, keepSize: boolean): Promise<void>;
  /** close(2) of one descriptor: the error it returns is what close() returns. */
  flush(): Promise<void>;
  fsync(): Promise<void>;
  /** The last close of this open. */
  release(): Promise<void>;
}

const badDescriptor = (what: string) => new ErrnoError('EBADF', what);

/** Read-only, straight from the remote. */
export class RemoteReadHandle implements FileHandle {
  private readonly reader: StreamingReader;
  private released = false;
  /** Its remote reads (the stream, read-ahead, ranged reads): aborted on release, or with the VFS. */
  private readonly abort = sharedAbortController();

  constructor(
    private readonly host: FileHost,
    readonly file: VfsFile,
  ) {
    // Linked by hand, not AbortSignal.any: the listener goes with the handle, nothing is left on the VFS's signal.
    host.requestSignal?.addEventListener('abort', this.onVfsAbort, { once: true });
    const signal = this.abort.signal;
    this.reader = new StreamingReader(
      (offset, length) => host.remote.openRead(file.path, { offset, length }, { signal }),
      file.size,
      host.readAheadBytes,
    );
  }

  private readonly onVfsAbort = (): void => this.abort.abort(this.host.requestSignal?.reason);

  read(offset: number, length: number): Promise<Buffer> {
    return this.reader.read(offset, length);
  }

  async write(): Promise<number> {
    throw badDescriptor(`${this.file.path}: file is open read-only`);
  }

  async truncate(): Promise<void> {
    throw badDescriptor(`${this.file.path}: file is open read-only`);
  }

  async allocate(): Promise<void> {
    throw badDescriptor(`${this.file.path}: file is open read-only`);
  }

  async flush(): Promise<void> {}

  async fsync(): Promise<void> {}

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    // A read-ahead or a GET still running serves nobody now: its connection is closed at once.
    this.abort.abort(new AbortedError(`${this.file.path}: handle released`));
    this.host.requestSignal?.removeEventListener('abort', this.onVfsAbort);
    await this.reader.close();
    await this.host.released(this.file, false);
  }
}

/**
 * Bytes handed from FUSE writes to the remote's write(), with back-pressure:
 * push() resolves once the buffered amount is below the high-water mark.
 */
export class ByteQueue implements AsyncIterable<Uint8Array> {
  private items: Buffer[] = [];
  private bytes = 0;
  private ended = false;
  private error: unknown = undefined;
  private consumer: (() => void) | undefined;
  private producers: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  constructor(private readonly highWater: number) {}

  push(data: Buffer): Promise<void> {
    if (this.error !== undefined) return Promise.reject(this.error);
    if (this.ended) return Promise.reject(new Error('queue ended'));
    this.items.push(data);
    this.bytes += data.length;
    this.wakeConsumer();
    if (this.bytes < this.highWater) return Promise.resolve();
    return new Promise((resolve, reject) => this.producers.push({ resolve, reject }));
  }

  end(): void {
    this.ended = true;
    this.wakeConsumer();
  }

  fail(err: unknown): void {
    if (this.error !== undefined) return;
    this.error = err;
    this.items = [];
    this.bytes = 0;
    for (const p of this.producers.splice(0)) p.reject(err);
    this.wakeConsumer();
  }

  private wakeConsumer(): void {
    const c = this.consumer;
    this.consumer = undefined;
    c?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    try {
      for (;;) {
        if (this.error !== undefined) throw this.error;
        const item = this.items.shift();
        if (item) {
          this.bytes -= item.length;
          if (this.bytes < this.highWater) for (const p of this.producers.splice(0)) p.resolve();
          yield item;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.consumer = resolve));
      }
    } finally {
      // The consumer stopped early (the upload failed): producers must not wait forever.
      if (!this.ended || this.items.length > 0) this.fail(new ErrnoError('EIO', 'upload stopped'));
    }
  }
}

const QUEUE_HIGH_WATER = 8 * 1024 * 1024;
/** Zeros appended per write when fallocate grows a streamed file. */
const ZERO_RUN = 1024 * 1024;

/** One streaming upload of mode off: the remote write runs while FUSE writes arrive. */
export class StreamWriter {
  written = 0;
  private readonly queue = new ByteQueue(QUEUE_HIGH_WATER);
  private readonly done: Promise<RemoteEntry>;
  private failure: unknown = undefined;
  private finished: Promise<RemoteEntry | undefined> | undefined;
  /** Writes that arrived ahead of the current offset (the kernel may reorder), by offset. */
  private readonly parked = new Map<number, { data: Buffer; resolve: () => void; reject: (e: unknown) => void }>();

  constructor(
    remote: Remote,
    readonly path: string,
    mtime: Date,
    private readonly wait: { writeWaitMs: number; clock: Clock },
    metadata?: Metadata,
  ) {
    this.done = remote.write(path, this.queue, { mtime, metadata });
    this.done.catch((err) => {
      this.failure ??= err;
      this.queue.fail(err);
      for (const p of this.parked.values()) p.reject(err);
      this.parked.clear();
    });
  }

  get failed(): unknown {
    return this.failure;
  }

  async write(data: Buffer, offset: number): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.finished) throw badDescriptor(`${logPath(this.path)}: file already closed for writing`);
    if (offset === this.written) {
      await this.accept(data);
      return;
    }
    if (offset > this.written && !this.parked.has(offset)) {
      // Wait a moment for the writes in between (rclone's --vfs-write-wait).
      const d = deferred();
      const timer = this.wait.clock.setTimeout(() => {
        if (this.parked.get(offset)?.data === data) {
          this.parked.delete(offset);
          d.reject(this.seekError(offset));
        }
      }, this.wait.writeWaitMs);
      this.parked.set(offset, { data, resolve: d.resolve, reject: d.reject });
      try {
        await d.promise;
      } finally {
        this.wait.clock.clear(timer);
      }
      return;
    }
    throw this.seekError(offset);
  }

  private seekError(offset: number): ErrnoError {
    log.error(
      `${logPath(this.path)}: can't seek in a file open for writing without --vfs-cache-mode >= writes ` +
        `(write at ${offset}, expected ${this.written}); the upload is abandoned and the remote keeps the previous version`,
    );
    return this.refuse(new ErrnoError('ESPIPE', `${logPath(this.path)}: non-sequential write needs --vfs-cache-mode writes or full`));
  }

  /**
   * A write (or truncate) was refused: what the remote would get now has a
   * hole, so the upload must never complete - the object on the remote stays
   * as it was. Later writes and the close fail too.
   */
  private refuse(err: ErrnoError): ErrnoError {
    this.failure ??= err;
    this.queue.fail(err);
    for (const p of this.parked.values()) p.reject(err);
    this.parked.clear();
    return err;
  }

  private async accept(data: Buffer): Promise<void> {
    this.written += data.length;
    const pushed = this.queue.push(data);
    // Parked writes that now follow on are accepted in order.
    for (let next = this.parked.get(this.written); next; next = this.parked.get(this.written)) {
      this.parked.delete(this.written);
      this.written += next.data.length;
      this.queue.push(next.data).then(next.resolve, next.reject);
    }
    await pushed;
  }

  /** Only a truncate to the current length is possible while streaming. */
  truncate(size: number): void {
    if (size !== this.written) {
      log.error(
        `${logPath(this.path)}: can't truncate a file open for writing without --vfs-cache-mode >= writes ` +
          `(to ${size}, written ${this.written}); the upload is abandoned and the remote keeps the previous version`,
      );
      throw this.refuse(new ErrnoError('EPERM', `${logPath(this.path)}: can't truncate a file open for writing without --vfs-cache-mode >= writes`));
    }
  }

  /** Ends the stream and waits for the remote to have the object. */
  finish(): Promise<RemoteEntry | undefined> {
    if (!this.finished) {
      // Writes still waiting for the bytes before them will never get them.
      const first = [...this.parked.keys()].sort((a, b) => a - b)[0];
      if (first !== undefined) this.seekError(first);
      this.queue.end();
      this.finished = this.done;
    }
    return this.finished;
  }

  /** Abandons the upload: no object is made, the remote keeps the previous version. */
  abort(reason: string): void {
    this.refuse(new ErrnoError('EIO', `${logPath(this.path)}: ${reason}`));
  }
}

/**
 * Mode off, open for writing: streams into the remote. The upload starts at
 * open for a new or truncated file, else at the first write (a file opened for
 * writing and closed unwritten, as `touch` does, stays as it was).
 */
export class StreamWriteHandle implements FileHandle {
  private writer: StreamWriter | undefined;
  private wrote = false;
  private closed = false;
  private released = false;

  constructor(
    private readonly host: FileHost & { startStream(file: VfsFile): StreamWriter },
    readonly file: VfsFile,
    startNow: boolean,
  ) {
    if (startNow) this.writer = host.startStream(file);
  }

  async read(): Promise<Buffer> {
    throw badDescriptor(`${this.file.path}: can't read a file open for writing without --vfs-cache-mode >= writes`);
  }

  async write(data: Buffer, offset: number): Promise<number> {
    if (this.closed) throw badDescriptor(`${this.file.path}: file already closed for writing`);
    this.wrote = true;
    this.writer ??= this.host.startStream(this.file);
    await this.writer.write(data, offset);
    return data.length;
  }

  async truncate(size: number): Promise<void> {
    if (this.writer) this.writer.truncate(size);
    else if (size !== 0 && size !== this.file.size) {
      throw new ErrnoError('EPERM', `${this.file.path}: can't truncate without --vfs-cache-mode >= writes`);
    } else if (size === 0 && this.file.size !== 0) this.writer = this.host.startStream(this.file);
  }

  /**
   * Nothing local to reserve; growing appends zeros to the stream (a range
   * inside what is written already is there). Refusing instead would make
   * glibc's posix_fallocate fall back to single-byte writes every block, which
   * are not sequential and would abandon the upload.
   */
  async allocate(offset: number, length: number, keepSize: boolean): Promise<void> {
    if (this.closed) throw badDescriptor(`${this.file.path}: file already closed for writing`);
    const end = offset + length;
    if (keepSize || end <= this.file.size) return;
    this.wrote = true;
    this.writer ??= this.host.startStream(this.file);
    const zeros = Buffer.alloc(Math.min(ZERO_RUN, end - this.writer.written));
    while (this.writer.written < end) {
      const n = Math.min(zeros.length, end - this.writer.written);
      await this.writer.write(zeros.subarray(0, n), this.writer.written);
    }
  }

  /**
   * The first close after a write ends the upload; its result is what close()
   * returns. A close before any write (dd and shells dup2 the descriptor and
   * close the original first) is ignored; release finishes the upload then.
   * As with rclone, writing through another descriptor after a close fails.
   */
  async flush(): Promise<void> {
    if (!this.wrote) return;
    await this.finish();
  }

  private async finish(): Promise<void> {
    if (this.closed || !this.writer) return;
    this.closed = true;
    let entry: RemoteEntry | undefined;
    try {
      entry = await this.writer.finish();
    } catch (err) {
      await this.host.streamFinished(this.file, undefined);
      // Logged where the error is answered (the FUSE edge logs every EIO).
      throw new ErrnoError('EIO', `${this.file.path}: upload failed: ${errorMessage(err)}`, { cause: err });
    }
    await this.host.streamFinished(this.file, entry);
  }

  async fsync(): Promise<void> {
    // Nothing is durable until the stream ends; the data so far is on its way.
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.finish().catch(() => undefined);
    await this.host.released(this.file, true);
  }
}

/** Modes writes/full: reads and writes through the encrypted local cache. */
export class CachedHandle implements FileHandle {
  private released = false;

  constructor(
    private readonly host: FileHost,
    readonly file: VfsFile,
    private readonly canRead: boolean,
    private readonly canWrite: boolean,
    private readonly append: boolean,
  ) {}

  private get item(): CacheItem {
    const item = this.file.cache;
    if (!item) throw new ErrnoError('EBADF', `${this.file.path}: file is no longer cached`);
    return item;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    if (!this.canRead) throw badDescriptor(`${this.file.path}: file is open write-only`);
    return this.item.read(offset, length);
  }

  async write(data: Buffer, offset: number): Promise<number> {
    if (!this.canWrite) throw badDescriptor(`${this.file.path}: file is open read-only`);
    const item = this.item;
    if (!this.file.dirty || !item.writing) await this.host.markDirty(this.file, true);
    await item.write(offset, data, this.append);
    item.mtime = new Date();
    item.mtimeSetAt = undefined;
    return data.length;
  }

  async truncate(size: number): Promise<void> {
    if (!this.canWrite) throw badDescriptor(`${this.file.path}: file is open read-only`);
    const item = this.item;
    // Journaled as being written before the contents change (crash recovery keeps such files aside).
    if (!item.writing) await this.host.markDirty(this.file, true);
    await item.truncate(size);
    item.mtime = new Date();
    item.mtimeSetAt = undefined;
    // The journal carries sizes only from truncates (writes show in the block file).
    await this.host.markDirty(this.file, true);
  }

  async allocate(offset: number, length: number, keepSize: boolean): Promise<void> {
    if (!this.canWrite) throw badDescriptor(`${this.file.path}: file is open read-only`);
    const item = this.item;
    const end = offset + length;
    if (keepSize || end <= item.size) {
      // Room only: the contents and size stay, nothing to upload.
      await item.allocate(offset, length, true);
      return;
    }
    if (!item.writing) await this.host.markDirty(this.file, true);
    if (await item.allocate(offset, length, false)) {
      item.mtime = new Date();
      item.mtimeSetAt = undefined;
    }
    // The journal carries sizes only from size changes (writes show in the block file).
    await this.host.markDirty(this.file, true);
  }

  async flush(): Promise<void> {}

  async fsync(): Promise<void> {
    if (this.file.dirty) await this.host.syncFile(this.file);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.host.released(this.file, this.canWrite);
  }
}

/** A new handle on `file` (made by `make`), counted as open (and writing, with `writable`) unless making it throws. */
export function attachHandle<T extends FileHandle>(file: VfsFile, make: () => T, writable = false): T {
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
