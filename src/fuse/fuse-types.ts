// The types of the FUSE filesystem API: what a filesystem implements (FuseOps)
// and what it exchanges with the kernel through FuseSession (attributes, open
// results, directory entries, mount options), and the rename flags. No logic:
// fuse-session.ts runs it, native.ts describes the binding underneath.

export type Awaitable<T> = T | Promise<T>;

/** File attributes. Inode 1n is the root directory. Times are ns since the epoch. */
export interface Attr {
  ino: bigint;
  /** File type and permission bits (S_IFREG | 0o644, ...). */
  mode: number;
  nlink?: number;
  uid?: number;
  gid?: number;
  rdev?: number;
  size: number | bigint;
  /** 512-byte blocks; default ceil(size / 512). */
  blocks?: number | bigint;
  blksize?: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** What a setattr request changes; absent fields stay. "now" arrives resolved. */
export interface SetattrChanges {
  mode?: number;
  uid?: number;
  gid?: number;
  /** truncate / ftruncate */
  size?: number;
  atimeNs?: bigint;
  mtimeNs?: bigint;
  ctimeNs?: bigint;
}

export interface OpenResult {
  /** Handle passed back with every request on this open file. */
  fh: bigint;
  /** Bypass the page cache for this open file. */
  directIo?: boolean;
  /** Keep cached pages from earlier opens (the file did not change). */
  keepCache?: boolean;
  nonSeekable?: boolean;
  /** opendir: let the kernel cache this listing. */
  cacheReaddir?: boolean;
  /** Do not send flush on close. */
  noFlush?: boolean;
}

export interface CreateResult extends OpenResult {
  attr: Attr;
}

export interface DirEntry {
  name: string;
  ino: bigint;
  /** Only the file type bits matter (S_IFDIR, S_IFREG, ...). */
  mode: number;
  /**
   * Cookie of the entry *after* this one, given back as `offset` to resume.
   * Default: the request's offset + index in the returned array + 1.
   */
  offset?: number;
}

/** A readdirplus entry: with `attr`, the kernel gets the entry's attributes too. */
export interface DirPlusEntry extends DirEntry {
  /**
   * Attributes (attr.ino is the inode the name links to), cached for the
   * session's entryTimeout/attrTimeout as from lookup. Giving one counts as a
   * lookup of attr.ino (see FuseOps.readdirplus). Absent or null: a plain
   * name, as from readdir. Ignored on "." and "..".
   */
  attr?: Attr | null;
}

export interface StatfsResult {
  bsize?: number;
  frsize?: number;
  blocks: number | bigint;
  bfree: number | bigint;
  bavail?: number | bigint;
  files: number | bigint;
  ffree: number | bigint;
  favail?: number | bigint;
  namemax?: number;
}

/** Who made a request (for ownership of new files, access checks). */
export interface Caller {
  uid: number;
  gid: number;
}

/** renameat2 flags as they arrive in `rename`. */
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;

/**
 * The filesystem. Every method is optional: a missing one answers ENOSYS
 * without a trip to JS (and the kernel stops asking for some, e.g. flush,
 * fsync, access). A handler answers by returning (or resolving to) its result;
 * throwing a typed error answers the errno errno-map.ts gives its class (an
 * ErrnoError its own); an error with an `errno` (a name like 'ENOENT' or a
 * number) or Node's `code` answers that errno; any other error answers EIO and
 * is reported to `onUnexpectedError`.
 *
 * Inode numbers are the filesystem's own (64-bit, 1n = root). Every successful
 * lookup, mkdir, mknod, symlink, link and create adds one reference to the returned
 * inode that `forget` later drops.
 */
export interface FuseOps {
  lookup?(parent: bigint, name: string): Awaitable<Attr>;
  forget?(ino: bigint, nlookup: number): void;
  getattr?(ino: bigint, fh: bigint | undefined): Awaitable<Attr>;
  setattr?(ino: bigint, changes: SetattrChanges, fh: bigint | undefined): Awaitable<Attr>;
  readlink?(ino: bigint): Awaitable<string>;
  mkdir?(parent: bigint, name: string, mode: number, caller: Caller): Awaitable<Attr>;
  unlink?(parent: bigint, name: string): Awaitable<void>;
  rmdir?(parent: bigint, name: string): Awaitable<void>;
  symlink?(target: string, parent: bigint, name: string, caller: Caller): Awaitable<Attr>;
  /** flags: RENAME_NOREPLACE | RENAME_EXCHANGE (0 for a plain rename). */
  rename?(parent: bigint, name: string, newParent: bigint, newName: string, flags: number): Awaitable<void>;
  link?(ino: bigint, newParent: bigint, newName: string): Awaitable<Attr>;
  /**
   * mknod(2) (mkfifo and bind of a UNIX socket come here too): mode has the file type and the
   * permission bits (umask applied), rdev the device number of a device (Linux dev_t).
   */
  mknod?(parent: bigint, name: string, mode: number, rdev: number, caller: Caller): Awaitable<Attr>;
  /** flags: open(2) flags; O_TRUNC arrives here (atomic_o_trunc). */
  open?(ino: bigint, flags: number): Awaitable<OpenResult>;
  /** Return at most `size` bytes; fewer means end of file. The buffer may be reused once this resolves. */
  read?(ino: bigint, fh: bigint, offset: number, size: number): Awaitable<Uint8Array>;
  /** `data` is owned by the handler (a copy of the kernel's). Return the count written. */
  write?(ino: bigint, fh: bigint, data: Buffer, offset: number): Awaitable<number>;
  flush?(ino: bigint, fh: bigint): Awaitable<void>;
  release?(ino: bigint, fh: bigint, flags: number): Awaitable<void>;
  fsync?(ino: bigint, fh: bigint, datasync: boolean): Awaitable<void>;
  opendir?(ino: bigint, flags: number): Awaitable<OpenResult>;
  /**
   * Entries from `offset` on (0 = start). Return as many as convenient: the
   * ones that do not fit `size` bytes are asked for again from the last
   * offset sent. "." and ".." are the filesystem's to list.
   */
  readdir?(ino: bigint, fh: bigint | undefined, offset: number, size: number): Awaitable<DirEntry[]>;
  /**
   * readdir with attributes, so that `ls -l` needs no lookup per entry.
   * Offsets as in readdir. Every returned entry with an `attr` (except "."
   * and "..") counts as one lookup of attr.ino: take the reference as lookup
   * does. The kernel may take only some of the entries; for each one with an
   * attr that it did not take, the session calls forget(attr.ino, 1) right
   * after replying (also when the reply fails), so the counts stay exact.
   * When absent, the kernel is not offered readdirplus at all.
   */
  readdirplus?(ino: bigint, fh: bigint | undefined, offset: number, size: number): Awaitable<DirPlusEntry[]>;
  releasedir?(ino: bigint, fh: bigint | undefined): Awaitable<void>;
  fsyncdir?(ino: bigint, fh: bigint | undefined, datasync: boolean): Awaitable<void>;
  statfs?(ino: bigint): Awaitable<StatfsResult>;
  /** mask: R_OK | W_OK | X_OK, or F_OK (0). */
  access?(ino: bigint, mask: number, caller: Caller): Awaitable<void>;
  create?(parent: bigint, name: string, mode: number, flags: number, caller: Caller): Awaitable<CreateResult>;
  fallocate?(ino: bigint, fh: bigint, mode: number, offset: number, length: number): Awaitable<void>;
}

export type FuseOpName = keyof FuseOps;

/** Connection parameters agreed with the kernel at mount. */
export interface FuseConnectionInfo {
  protoMajor: number;
  protoMinor: number;
  /** Largest write request (bytes). */
  maxWrite: number;
  maxRead: number;
  maxReadahead: number;
  maxBackground: number;
  congestionThreshold: number;
  timeGran: number;
  /** FUSE_CAP_* bit sets. */
  capable: number;
  want: number;
}

export interface FuseMountOptions {
  /** Shown as the mount's source in /proc/mounts and df (default "cryptfs"). */
  fsName?: string;
  /** Shown as fuse.<subtype>. */
  subtype?: string;
  /**
   * Passed as `-o <opt>` each, unchanged: mount options (ro, allow_other,
   * default_permissions, max_read=N, ...) and connection options (max_write=N,
   * max_readahead=N, writeback_cache, async_read, ...).
   */
  options?: string[];
  /** libfuse's request trace, through onLog. */
  debug?: boolean;
  /** Seconds the kernel may cache attributes (default 1). */
  attrTimeout?: number;
  /** Seconds the kernel may cache name lookups (default 1). */
  entryTimeout?: number;
  /** Seconds the kernel may cache "no such name" answers of lookup (default 0: not cached). */
  negativeTimeout?: number;
  /** libfuse messages; level is syslog's (3 error ... 7 debug). Default: stderr for warnings and worse. */
  onLog?(level: number, message: string): void;
  /** A handler failed without an errno (answered EIO), or its result was malformed. */
  onUnexpectedError?(err: unknown, op: FuseOpName): void;
}
