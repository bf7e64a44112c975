// The one interface every storage driver implements (local, s3, swift, and
// crypt on top of any of them). Paths are relative to the remote's root,
// '/'-separated, with no leading or trailing '/'; '' is the root itself.
import type { Metadata } from './metadata.js';
import { NameTooLongError } from '../errors.js';

export type { Metadata } from './metadata.js';

/** Bytes as they flow between layers: Node streams are async-iterable, so are generators. */
export type ByteSource = AsyncIterable<Uint8Array>;

export interface RemoteEntry {
  /** Path relative to the remote root. */
  path: string;
  isDir: boolean;
  /** Bytes; for directories -1 where the remote does not know. */
  size: number;
  /** Modification time (for directories, whatever the remote reports). */
  mtime: Date;
  /** The same time in nanoseconds since the epoch, where the remote keeps more than milliseconds. */
  mtimeNs?: bigint;
  /**
   * true: the stored modification time (and metadata) was not read, `mtime` is the listing's own
   * time (the upload): S3 and Swift listed without ListOptions.modTimes. A stat (a HEAD) gives the
   * stored one, and so does a read's response (openReadWithInfo) at no extra cost (storedTimes).
   */
  mtimeUnread?: boolean;
  /**
   * rclone metadata (mode, uid, gid, ...; see metadata.ts) where the listing carries it without
   * extra requests: the local file's attributes, the user metadata that S3/Swift HEADs returned.
   */
  metadata?: Metadata;
  /**
   * Crypt entries only: the text of the object's sealed record (stored as the cryptfs-seal*
   * metadata keys, which crypt keeps out of `metadata`); undefined when the object carries none or
   * the listing did not fetch metadata.
   */
  sealText?: string;
}

export interface ReadRange {
  offset: number;
  /** Bytes to read from `offset`; undefined means to the end. */
  length?: number;
}

/** How a read is done, beside which bytes. */
export interface ReadOptions {
  /**
   * Ends the read when it fires, also mid-stream: the open or the next chunk rejects with
   * AbortedError and the driver releases its fd or connection.
   */
  signal?: AbortSignal;
  /** Once turned on, the driver may read into buffers it has handed out before (see PieceReuse). */
  reuse?: PieceReuse;
}

/**
 * Lets a byte source hand out the same buffers again for later pieces. A piece, once yielded, is
 * otherwise the consumer's for good, so every piece is a new buffer, and at hundreds of MB/s that
 * garbage (freed only when the GC finds it, tens of MiB at a time) is much of a copy's peak memory.
 * Whoever opens a source makes one, gives it to the source's maker (ReadOptions.reuse, the content
 * cipher) and lets the consumer turn it on (WriteOptions.reusePieces): the consumer promises that
 * it is done with every piece, also one it already holds, by the time it asks for the next one.
 */
export class PieceReuse {
  private on = false;
  private waiting?: Array<() => void>;

  get allowed(): boolean {
    return this.on;
  }

  /**
   * From now on pieces may be refilled once the consumer asks for the next one. Called after the
   * source has ended (the consumer asked past its last piece), it also says the consumer is done
   * with every piece: a local small-file write calls it once its one job has written them.
   */
  readonly allow = (): void => {
    this.on = true;
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) for (const give of waiting) give();
  };

  /**
   * For a source that has ended (the consumer asked past its last piece): runs `give` (handing
   * its buffers back to a shared pool) once reuse is on, now if it is already. A consumer that
   * never allows reuse never frees them for reuse: they are left to the GC.
   */
  whenDone(give: () => void): void {
    if (this.on) give();
    else (this.waiting ??= []).push(give);
  }

  /** On from the start: for a consumer done with each piece at once (one that hashes it). */
  static allowed(): PieceReuse {
    const reuse = new PieceReuse();
    reuse.allow();
    return reuse;
  }
}

export interface WriteOptions {
  /**
   * Ends the upload when it fires: the write rejects with AbortedError and, as for any failed
   * write, nothing appears under the path (temporary file removed, multipart upload aborted).
   */
  signal?: AbortSignal;
  /** Modification time to record; defaults to now. */
  mtime?: Date;
  /** The same to the nanosecond (wins over `mtime` where the remote keeps nanoseconds). */
  mtimeNs?: bigint;
  /** Exact size if known in advance (lets drivers pick single vs multipart upload). */
  size?: number;
  /** Lower-case hex MD5 of the whole content, when known before the upload (stored where the remote can't compute it). */
  md5?: string;
  /**
   * Opens the same content once more, where that is cheap (a local source). A wrapping remote may use it
   * for a first pass, e.g. crypt computing the ciphertext MD5 that a multipart upload cannot.
   */
  reopen?: (options?: { reuse?: PieceReuse }) => Promise<ByteSource>;
  /** rclone metadata to store with the object (remotes with setMetadata); `mtime` here is ignored, the options' time wins. */
  metadata?: Metadata;
  /**
   * More metadata, known only once the whole source has been read (crypt's sealed record: plaintext
   * size and hashes). A driver calls it after it has read the source to its end (or `size` bytes)
   * and stores the result with the object where it still can (local: before the rename; a buffered
   * PUT; a Swift manifest), else right after the upload (S3 copy-in-place, Swift POST). Its keys win
   * over `metadata`'s.
   */
  lateMetadata?: () => Promise<Metadata>;
  /**
   * The caller has just found no object at this path (in its listing of the destination): a driver
   * may skip looking for an old one to replace (Swift's HEAD for a large object's segments).
   */
  absent?: boolean;
  /**
   * Lets the source refill its buffers (PieceReuse). A driver calls it where it is done with each
   * piece by the time it asks for the next one: it copies it into a buffer of its own, hashes it,
   * or has written it out. One that keeps pieces (gathers them, or queues them for later) must not,
   * until it is done with all of them (its gathered body written): then the source, having ended,
   * takes its buffers back (PieceReuse.whenDone).
   */
  reusePieces?: () => void;
}

/**
 * For a server-side copy or move: metadata changes for the new object ('' removes a key), laid
 * over what the copy carries from the source. S3 (REPLACE) and a local copy (before the rename)
 * make the object appear with them; a local rename and Swift set them right after.
 */
export interface TransferOptions {
  metadata?: Metadata;
}

/** A read together with what the storage said about the object when it answered it. */
export interface ReadWithInfo {
  source: ByteSource;
  /**
   * The whole object as the read's own response described it (size of the whole object, not the
   * range; mtime; metadata, including keys such as cryptfs's sealed record), with no extra request.
   */
  entry: RemoteEntry;
}

export type HashType = 'md5' | 'sha1' | 'sha256';

export interface RemoteFeatures {
  /** Directories exist on their own (local) rather than as object prefixes (s3, swift). */
  realDirectories: boolean;
  /** Hash types the remote can report cheaply for an object. */
  hashes: HashType[];
  /** Whether names differing only in case are the same object. */
  caseInsensitive: boolean;
  /** Largest byte length of one path segment, if the remote has a limit. */
  maxSegmentBytes?: number;
  /**
   * Objects of at least this many bytes (or of unknown size) get a stored MD5 only when
   * WriteOptions.md5 is given (S3 multipart uploads); undefined when the remote always has one.
   */
  md5UpfrontFrom?: number;
  /**
   * A WriteOptions.md5 given is checked against the bytes stored: a write whose content differs
   * fails and leaves no object (S3). A wrapper that hashed the content in a first pass may then
   * trust that pass for the content sent.
   */
  md5Checked?: boolean;
}

/** What a listing's caller needs of each entry. */
export interface ListOptions {
  /**
   * false: the caller uses no modification times, and no metadata but what the listing itself
   * carries (check and hashsum compare sizes and hashes), or reads them only for the entries that
   * need them (RemoteEntry.mtimeUnread). A remote that fetches these per object (S3 and Swift: a
   * HEAD each) may then skip that; its entries carry the listing's own time (the upload time),
   * marked mtimeUnread. Default true.
   */
  modTimes?: boolean;
  /** Ends the listing when it fires (the iteration rejects with AbortedError, no further page is asked for). */
  signal?: AbortSignal;
}

export interface Remote {
  /** `type` of the driver: 'local', 's3', 'swift', 'crypt', 'memory'. */
  readonly type: string;
  /** How to name this remote to a person, e.g. `secret:` or `/home/me/dir`. */
  readonly displayName: string;
  readonly features: RemoteFeatures;

  /** The entries directly inside `dir`. Throws DirNotFoundError if it does not exist. */
  list(dir: string, options?: ListOptions): AsyncIterable<RemoteEntry>;

  /**
   * Every entry under `dir` at any depth, directories included (each before anything inside it),
   * from as few requests as the store allows: S3 and Swift list all keys under a prefix a page of
   * ~1,000 at a time instead of one listing per directory (rclone's ListR). Not sorted. Throws
   * DirNotFoundError if `dir` does not exist. Optional; walk() uses it where it can.
   */
  listRecursive?(dir: string, options?: ListOptions): AsyncIterable<RemoteEntry>;

  // Optional capabilities of remotes that transform names or hold keys (crypt), forwarded by
  // wrappers (SubRemote): the layers above ask them and never look inside a remote.

  /**
   * Throws NameTooLongError when `path` cannot be held here as a file (or, with isDir, as a
   * directory): for crypt, when a segment is too long once encrypted. Without it, segments are
   * checked against features.maxSegmentBytes (checkSegmentLengths).
   */
  checkName?(path: string, isDir: boolean): void;

  /** The longest name (bytes) an entry here can have (statfs's namemax); undefined: no known limit. */
  nameMax?(): number | undefined;

  /**
   * A secret only the holder of this remote's keys can compute, the same on every run with the
   * same keys: it keys the local cache, which must outlive a crash (crypt: derived from the data
   * key). The caller wipes it after use.
   */
  cacheKeySecret?(): Promise<Buffer>;

  /** One entry. Throws ObjectNotFoundError (or DirNotFoundError for a directory that is not there). */
  stat(path: string): Promise<RemoteEntry>;

  /**
   * Opens an object for reading. Resolves once the read has started successfully
   * (the object exists), so "not found" surfaces here and not mid-stream.
   */
  openRead(path: string, range?: ReadRange, options?: ReadOptions): Promise<ByteSource>;

  /**
   * openRead, plus the object's entry (with metadata) from the same response, where the storage
   * returns it with the data (local: fstat + xattrs; S3/Swift: the GET's headers). Absent elsewhere:
   * callers then stat() as well.
   */
  openReadWithInfo?(path: string, range?: ReadRange, options?: ReadOptions): Promise<ReadWithInfo>;

  /**
   * Writes an object from a stream. The object appears complete or not at all:
   * a failed write must never leave a partial object under `path`.
   * Parent directories are created as needed.
   */
  write(path: string, source: ByteSource, options?: WriteOptions): Promise<RemoteEntry>;

  /** Removes one object. Throws ObjectNotFoundError if it is not there. */
  delete(path: string): Promise<void>;

  /** Creates a directory (and its parents). No error if it exists. */
  mkdir(dir: string): Promise<void>;

  /** Removes an empty directory. Throws DirNotEmptyError / DirNotFoundError. */
  rmdir(dir: string): Promise<void>;

  /** Sets the modification time of an object. */
  setMtime(path: string, mtime: Date, mtimeNs?: bigint): Promise<void>;

  /**
   * Changes stored metadata: the keys given replace those stored (a value of '' removes a key),
   * the rest is kept. Local: chmod/chown (and times) of the file or directory; S3/Swift: the
   * object's user metadata (objects only). Absent where the remote keeps no metadata.
   */
  setMetadata?(path: string, metadata: Metadata, options?: { isDir?: boolean }): Promise<void>;

  /** Server-side move, where the storage has one. Overwrites `dst`. Metadata moves with the object. */
  move?(src: string, dst: string, options?: TransferOptions): Promise<RemoteEntry>;

  /** Server-side copy, where the storage has one. Overwrites `dst`. Metadata is copied. */
  copy?(src: string, dst: string, options?: TransferOptions): Promise<RemoteEntry>;

  /** Hash of an object in lower-case hex, or undefined if the remote cannot tell. */
  hash?(path: string, type: HashType): Promise<string | undefined>;

  /** Purge a directory and everything under it faster than one by one, where possible. */
  purge?(dir: string): Promise<void>;

  /** Space figures, where the remote can tell. */
  about?(): Promise<{ total?: number; used?: number; free?: number }>;

  /** Release connections, timers, workers. */
  close?(): Promise<void>;

  /**
   * What this remote is, as a stable digest of its definition (type, root,
   * options that are not secrets, and the remotes it wraps), whatever name the
   * config gives it. Set by the remote factory; local state such as the VFS
   * cache is kept per definition, so two configs that both name a remote
   * `secret:` never share it.
   */
  definitionId?: string;
}

/** Joins remote path segments, dropping empty ones: joinPath('a', '', 'b') === 'a/b'. */
export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}

/** Parent of a remote path; '' for top-level entries. */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** Last segment of a remote path. */
export function baseName(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

/** Normalises a user-given path: strips leading/trailing '/', collapses '//'. */
export function cleanPath(path: string): string {
  return path
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

/** A Date as nanoseconds since the epoch. */
export function dateToNs(d: Date): bigint {
  return BigInt(d.getTime()) * 1_000_000n;
}

/** Nanoseconds since the epoch as a Date (milliseconds, rounded down, also before 1970). */
export function nsToDate(ns: bigint): Date {
  const ms = ns >= 0n ? ns / 1_000_000n : -((-ns + 999_999n) / 1_000_000n);
  return new Date(Number(ms));
}

/** Throws NameTooLongError for a segment of `path` longer than `limit` bytes (no limit: nothing to check). */
export function checkSegmentLengths(path: string, limit: number | undefined): void {
  if (limit === undefined) return;
  for (const seg of path.split('/')) {
    const len = Buffer.byteLength(seg);
    if (len > limit) throw new NameTooLongError(seg, len, limit);
  }
}

/** A field of an entry made on first read (see lazyField). */
export interface LazyField<T> {
  /** Gives `target` the field, made by `make` when first read. */
  define(target: object, make: () => T): void;
  /** Whether `target` has the field and it is not made yet. */
  pending(target: object): boolean;
}

/**
 * An own, enumerable field `name` made on first read (so spreading or serialising an entry still
 * carries it), replaceable by assignment. Its state sits under a symbol, not enumerable (spreading,
 * JSON and deepEqual see only the entry's fields). One getter and setter serve every entry, so
 * entries share their hidden class: an object literal's own accessors (a closure per entry) put
 * each entry in dictionary mode: ~550 bytes more per entry (a 10,000-file copy keeps thousands
 * queued), its fields read ~8x slower, made ~2x slower.
 */
export function lazyField<T>(name: string): LazyField<T> {
  interface State {
    make?: () => T;
    value?: T;
  }
  const STATE = Symbol(`lazy ${name}`);
  type Holder = { [STATE]: State };
  const accessor: PropertyDescriptor = {
    get(this: Holder): T | undefined {
      const state = this[STATE];
      if (state.make) {
        state.value = state.make();
        state.make = undefined;
      }
      return state.value;
    },
    set(this: Holder, value: T) {
      const state = this[STATE];
      state.make = undefined;
      state.value = value;
    },
    enumerable: true,
    configurable: true,
  };
  return {
    define(target, make) {
      Object.defineProperty(target, STATE, { value: { make, value: undefined } satisfies State });
      Object.defineProperty(target, name, accessor);
    },
    pending: (target) => (target as Partial<Holder>)[STATE]?.make !== undefined,
  };
}

const lazyMetadata = lazyField<Metadata | undefined>('metadata');

/** Whether `entry`'s metadata is lazy and not made yet (reading it would cost a call: xattrs, say). */
export function metadataPending(entry: RemoteEntry): boolean {
  return lazyMetadata.pending(entry);
}

/**
 * An entry whose `metadata` is made by `make` on first read: an own, enumerable accessor (so
 * spreading or serialising the entry still carries it), replaceable by assignment.
 */
export function withLazyMetadata(fields: Omit<RemoteEntry, 'metadata' | 'sealText'>, make: () => Metadata | undefined): RemoteEntry {
  const entry = { path: fields.path, isDir: fields.isDir, size: fields.size, mtime: fields.mtime, mtimeNs: fields.mtimeNs };
  lazyMetadata.define(entry, make);
  return entry;
}
