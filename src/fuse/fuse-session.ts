// Typed wrapper over the libfuse3 binding (native.ts): mount a filesystem
// whose operations are async JS functions, unmount it, detect stale mounts.
//
// How requests flow: a native thread reads each request from /dev/fuse and
// queues it to this thread without waiting; the matching FuseOps handler runs
// here and its result (or error) is sent back by request id. Many requests can
// be in flight at once; handlers may answer in any order.
//
// DEADLOCK WARNING: the process serving a mount must never touch its own
// mount point synchronously from the event loop (fs.*Sync, execFileSync of a
// program that reads it, ...). The kernel would wait for this process to
// answer while this thread waits for the kernel. Asynchronous fs calls run on
// libuv's pool and only stall that pool; still, keep the daemon away from its
// own mount.
import os from 'node:os';
import { execFile } from 'node:child_process';
import { stat, statfs } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { ErrnoError, errorMessage } from '../errors.js';
import { errnoName, errnoOf } from './errno-map.js';
import {
  FuseUnavailableError,
  loadNativeFuse,
  type NativeFuseBinding,
  type NativeOpArgs,
  type NativeOpName,
  type NativeSessionHandle,
} from './native.js';

// The API's types live in fuse-types.ts; importers of this module get them here too.
export { RENAME_EXCHANGE, RENAME_NOREPLACE } from './fuse-types.js';
export type {
  Awaitable,
  Attr,
  SetattrChanges,
  OpenResult,
  CreateResult,
  DirEntry,
  DirPlusEntry,
  StatfsResult,
  Caller,
  FuseOps,
  FuseOpName,
  FuseConnectionInfo,
  FuseMountOptions,
} from './fuse-types.js';
import type {
  Attr,
  CreateResult,
  DirEntry,
  DirPlusEntry,
  FuseConnectionInfo,
  FuseMountOptions,
  FuseOpName,
  FuseOps,
  OpenResult,
  StatfsResult,
} from './fuse-types.js';

/** Mounting failed, or the session ended abnormally; `errno` names `errnoNumber`. */
export class FuseSessionError extends ErrnoError {
  constructor(
    message: string,
    readonly errnoNumber: number,
    options?: { cause?: unknown },
  ) {
    super(errnoName(errnoNumber) ?? 'EIO', message, options);
  }
}

const errnoNumbers = os.constants.errno as Record<string, number>;
const EIO = errnoNumbers.EIO!;
const ENOENT = errnoNumbers.ENOENT!;

const isRoot = () => process.geteuid?.() === 0;

function execFileAsync(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, (err, _stdout, stderr) => {
      if (err) reject(Object.assign(err, { message: `${file} ${args.join(' ')}: ${stderr.trim() || err.message}` }));
      else resolve();
    });
  });
}

/** Removes a mount lazily: umount2(MNT_DETACH) as root, `fusermount3 -u -z` otherwise. */
async function detachMount(native: NativeFuseBinding, path: string): Promise<'detached' | 'not-mounted'> {
  const e = native.umount(path);
  if (e === 0) return 'detached';
  if (e === errnoNumbers.EINVAL) return 'not-mounted';
  if ((e === errnoNumbers.EPERM || e === errnoNumbers.EACCES) && !isRoot()) {
    await execFileAsync('fusermount3', ['-u', '-z', path]);
    return 'detached';
  }
  throw new FuseSessionError(`cannot unmount ${path}: ${errnoName(e) ?? e}`, e);
}

/** libfuse splits -o values on commas; keep a name whole. */
function escapeOptionValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/,/g, '\\,');
}

/** What a FuseOps handler resolves to. */
type OpResult<K extends FuseOpName> = Awaited<ReturnType<NonNullable<FuseOps[K]>>>;
/** Sends a handler's result to the kernel as the answer to request `id`. */
type Reply<K extends FuseOpName> = (id: number, value: OpResult<K>) => void;
/** The handler of each native operation, typed by what the binding passes. */
type NativeHandlers = { [K in NativeOpName]: (id: number, ...args: NativeOpArgs[K]) => void };
/** A handler as the dispatcher calls it: by opcode, with the arguments unchecked. */
type DispatchEntry = (id: number, ...args: unknown[]) => void;
/** The dispatcher passes at most six arguments on: an op with more fails to compile here. */
const dispatchArgsFit: { [K in NativeOpName]: NativeOpArgs[K]['length'] }[NativeOpName] extends 0 | 1 | 2 | 3 | 4 | 5 | 6
  ? true
  : never = true;
void dispatchArgsFit;

const LOG_WARNING = 4;

/**
 * A mounted filesystem. Create with FuseSession.mount(); end with unmount(),
 * or by anyone unmounting the mount point (`fusermount3 -u`, `umount`).
 * While mounted it keeps the event loop alive. Signals are the caller's to
 * handle (call unmount() on SIGINT/SIGTERM); if the process exits while
 * mounted, the binding detaches the mount on the way out (as root; otherwise
 * pass `auto_unmount` in options). Never touch the mount point synchronously
 * from this process (see the top of this file).
 */
export class FuseSession {
  readonly mountpoint: string;
  /** Resolves when the session has ended and every request was answered. */
  readonly closed: Promise<void>;
  /** Set after mount. */
  connection!: FuseConnectionInfo;
  /** Why the session ended, when it was not a plain unmount. */
  endError: FuseSessionError | undefined;

  readonly #native: NativeFuseBinding;
  readonly #ops: FuseOps;
  readonly #options: FuseMountOptions;
  readonly #attrTimeout: number;
  readonly #entryTimeout: number;
  readonly #negativeTimeout: number;
  #handle: NativeSessionHandle | undefined;
  #table: Array<DispatchEntry | undefined> = [];
  #inFlight = 0;
  #ended = false;
  #initialized = false;
  #unmounting: Promise<void> | undefined;
  #resolveClosed!: () => void;
  #mountSettled!: { resolve: (info: FuseConnectionInfo) => void; reject: (err: Error) => void };

  private constructor(native: NativeFuseBinding, mountpoint: string, ops: FuseOps, options: FuseMountOptions) {
    this.#native = native;
    this.mountpoint = mountpoint;
    this.#ops = ops;
    this.#options = options;
    this.#attrTimeout = options.attrTimeout ?? 1;
    this.#entryTimeout = options.entryTimeout ?? 1;
    this.#negativeTimeout = options.negativeTimeout ?? 0;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** Requests handed to JS and not answered yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Mounts `ops` at `mountpoint` (an existing directory). Resolves once the
   * kernel handshake is done; rejects with FuseSessionError when the options
   * are invalid or mounting fails.
   */
  static async mount(mountpoint: string, ops: FuseOps, options: FuseMountOptions = {}): Promise<FuseSession> {
    const native = loadNativeFuse();
    const session = new FuseSession(native, resolvePath(mountpoint), ops, options);
    await session.#start();
    return session;
  }

  #start(): Promise<FuseConnectionInfo> {
    const native = this.#native;
    const options = this.#options;
    const args: string[] = ['-o', `fsname=${escapeOptionValue(options.fsName ?? 'cryptfs')}`];
    if (options.subtype) args.push('-o', `subtype=${escapeOptionValue(options.subtype)}`);
    for (const opt of options.options ?? []) args.push('-o', opt);
    if (options.debug) args.push('-d');

    const implemented = this.#buildTable();
    const settled = new Promise<FuseConnectionInfo>((resolve, reject) => (this.#mountSettled = { resolve, reject }));
    try {
      this.#handle = native.mount(this.mountpoint, args, implemented, this.#dispatch);
    } catch (err) {
      throw new FuseSessionError(
        `cannot mount ${this.mountpoint}: ${errorMessage(err)}`,
        errnoOf(err) ?? errnoNumbers.EINVAL!,
        { cause: err },
      );
    }
    return settled;
  }

  /**
   * Removes the mount (lazily: processes inside get errors from now on), ends
   * the loop and waits for `closed` - which includes handlers still running,
   * so a handler that never settles keeps this pending (race it with a
   * timeout when that matters). Safe to call more than once.
   */
  async unmount(): Promise<void> {
    if (!this.#ended && !this.#unmounting) {
      this.#unmounting = (async () => {
        let detached = false;
        try {
          detached = (await detachMount(this.#native, this.mountpoint)) === 'detached';
        } finally {
          // Even when the kernel refused, end the loop: the session goes away
          // and libfuse tries its own unmount on the way out.
          if (this.#handle && !this.#ended) this.#native.stop(this.#handle, detached);
        }
      })();
    }
    await this.#unmounting;
    await this.closed;
  }

  // ---- dispatch (called by the native side on this thread) ----

  // Fixed parameters rather than a rest array: this runs for every request.
  // No request passes more than six arguments (NativeOpArgs).
  readonly #dispatch = (op: number, id: number, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown): void => {
    const handler = this.#table[op];
    if (handler) handler(id, a, b, c, d, e, f);
    else if (id !== 0) this.#native.replyErr(id, errnoNumbers.ENOSYS!);
  };

  /**
   * Fills the opcode-indexed table from the binding's op names and returns the
   * requests `ops` implements. A binding whose ops differ from NativeOpArgs
   * (an addon built from other sources) is refused here.
   */
  #buildTable(): NativeOpName[] {
    const native = this.#native;
    const handlers = this.#handlers();
    const known = new Set<string>(native.ops);
    const missing = Object.keys(handlers).filter((name) => !known.has(name));
    const unknown = native.ops.filter((name) => !Object.hasOwn(handlers, name));
    if (missing.length > 0 || unknown.length > 0) {
      throw new FuseUnavailableError(
        `the FUSE binding does not match this build (rebuild it): ` +
          `missing ops [${missing.join(', ')}], unknown ops [${unknown.join(', ')}]`,
      );
    }
    const implemented: NativeOpName[] = [];
    native.ops.forEach((name, code) => {
      const op = name as NativeOpName;
      // The one unchecked step: the binding passes NativeOpArgs[op] for opcode `code`.
      this.#table[code] = handlers[op] as DispatchEntry;
      if (op in this.#ops && typeof this.#ops[op as FuseOpName] === 'function') implemented.push(op);
    });
    return implemented;
  }

  #handlers(): NativeHandlers {
    const n = this.#native;
    const ops = this.#ops;
    const entryTimeout = this.#entryTimeout;
    const attrTimeout = this.#attrTimeout;

    const replyOk = (id: number): void => void n.replyErr(id, 0);
    const replyEntry = (id: number, attr: Attr): void => void n.replyEntry(id, attr, entryTimeout, attrTimeout);
    const replyAttr = (id: number, attr: Attr): void => void n.replyAttr(id, attr, attrTimeout);
    const replyData = (id: number, data: Uint8Array): void => void n.replyData(id, data);
    const replyWrite = (id: number, count: number): void => void n.replyWrite(id, count);
    const replyReadlink = (id: number, target: string): void => void n.replyReadlink(id, target);
    const replyStatfs = (id: number, st: StatfsResult): void => void n.replyStatfs(id, st);
    const replyReaddir = (id: number, entries: DirEntry[]): void => void n.replyReaddir(id, entries);
    // Entries with an attr were counted as lookups by the handler; give back
    // the ones the kernel did not take (they did not fit, or the reply failed).
    const replyReaddirPlus = (id: number, entries: DirPlusEntry[]): void => {
      let sent = 0;
      try {
        const r = n.replyReaddirPlus(id, entries, entryTimeout, attrTimeout);
        sent = r === false ? 0 : r;
      } finally {
        this.#forgetUnsent(entries, sent);
      }
    };
    const openFlags = (r: OpenResult): number =>
      (r.directIo ? n.openFlags.directIo : 0) |
      (r.keepCache ? n.openFlags.keepCache : 0) |
      (r.nonSeekable ? n.openFlags.nonSeekable : 0) |
      (r.cacheReaddir ? n.openFlags.cacheReaddir : 0) |
      (r.noFlush ? n.openFlags.noFlush : 0);
    // An open whose caller was interrupted gets no release from the kernel:
    // release it here so the filesystem does not leak the handle.
    const replyOpenFor =
      (ino: bigint, flags: number, dir: boolean) =>
      (id: number, r: OpenResult): void => {
        if (!n.replyOpen(id, r.fh, openFlags(r))) this.#releaseOrphan(dir, ino, r.fh, flags);
      };
    const replyCreateFor =
      (flags: number) =>
      (id: number, r: CreateResult): void => {
        if (!n.replyCreate(id, r.attr, entryTimeout, attrTimeout, r.fh, openFlags(r)))
          this.#releaseOrphan(false, r.attr.ino, r.fh, flags);
      };

    return {
      init: (_id, info) => {
        this.connection = info;
        this.#initialized = true;
        this.#mountSettled.resolve(info);
      },
      end: (_id, errno, message) => this.#onEnd(errno, message),
      log: (_id, level, message) => this.#log(level, message),
      forget: (_id, ino, nlookup) => {
        try {
          ops.forget?.(ino, nlookup);
        } catch (err) {
          this.#unexpected(err, 'forget');
        }
      },
      lookup: (id, parent, name) => this.#run(id, 'lookup', replyEntry, ops.lookup, parent, name),
      getattr: (id, ino, fh) => this.#run(id, 'getattr', replyAttr, ops.getattr, ino, fh),
      setattr: (id, ino, changes, fh) => this.#run(id, 'setattr', replyAttr, ops.setattr, ino, changes, fh),
      readlink: (id, ino) => this.#run(id, 'readlink', replyReadlink, ops.readlink, ino),
      mkdir: (id, parent, name, mode, uid, gid) =>
        this.#run(id, 'mkdir', replyEntry, ops.mkdir, parent, name, mode, { uid, gid }),
      unlink: (id, parent, name) => this.#run(id, 'unlink', replyOk, ops.unlink, parent, name),
      rmdir: (id, parent, name) => this.#run(id, 'rmdir', replyOk, ops.rmdir, parent, name),
      symlink: (id, target, parent, name, uid, gid) =>
        this.#run(id, 'symlink', replyEntry, ops.symlink, target, parent, name, { uid, gid }),
      rename: (id, parent, name, newParent, newName, flags) =>
        this.#run(id, 'rename', replyOk, ops.rename, parent, name, newParent, newName, flags),
      link: (id, ino, newParent, newName) => this.#run(id, 'link', replyEntry, ops.link, ino, newParent, newName),
      mknod: (id, parent, name, mode, rdev, uid, gid) =>
        this.#run(id, 'mknod', replyEntry, ops.mknod, parent, name, mode, rdev, { uid, gid }),
      open: (id, ino, flags) => this.#run(id, 'open', replyOpenFor(ino, flags, false), ops.open, ino, flags),
      read: (id, ino, fh, offset, size) =>
        this.#run(id, 'read', replyData, ops.read, ino, fh, offset, size),
      write: (id, ino, fh, data, offset) =>
        this.#run(id, 'write', replyWrite, ops.write, ino, fh, data, offset),
      flush: (id, ino, fh) => this.#run(id, 'flush', replyOk, ops.flush, ino, fh),
      release: (id, ino, fh, flags) => this.#run(id, 'release', replyOk, ops.release, ino, fh, flags),
      fsync: (id, ino, fh, datasync) => this.#run(id, 'fsync', replyOk, ops.fsync, ino, fh, datasync !== 0),
      opendir: (id, ino, flags) => this.#run(id, 'opendir', replyOpenFor(ino, flags, true), ops.opendir, ino, flags),
      readdir: (id, ino, fh, offset, size) =>
        this.#run(id, 'readdir', replyReaddir, ops.readdir, ino, fh, offset, size),
      readdirplus: (id, ino, fh, offset, size) =>
        this.#run(id, 'readdirplus', replyReaddirPlus, ops.readdirplus, ino, fh, offset, size),
      releasedir: (id, ino, fh) => this.#run(id, 'releasedir', replyOk, ops.releasedir, ino, fh),
      fsyncdir: (id, ino, fh, datasync) => this.#run(id, 'fsyncdir', replyOk, ops.fsyncdir, ino, fh, datasync !== 0),
      statfs: (id, ino) => this.#run(id, 'statfs', replyStatfs, ops.statfs, ino),
      access: (id, ino, mask, uid, gid) => this.#run(id, 'access', replyOk, ops.access, ino, mask, { uid, gid }),
      create: (id, parent, name, mode, flags, uid, gid) =>
        this.#run(id, 'create', replyCreateFor(flags), ops.create, parent, name, mode, flags, { uid, gid }),
      fallocate: (id, ino, fh, mode, offset, length) =>
        this.#run(id, 'fallocate', replyOk, ops.fallocate, ino, fh, mode, offset, length),
    };
  }

  /** Runs one handler and answers its request; never throws. */
  #run<K extends FuseOpName>(
    id: number,
    op: K,
    reply: Reply<K>,
    handler: FuseOps[K],
    ...args: Parameters<NonNullable<FuseOps[K]>>
  ): void {
    this.#inFlight++;
    let result: OpResult<K> | PromiseLike<OpResult<K>>;
    try {
      // TypeScript cannot call a member of the union FuseOps[K] generically; it is FuseOps[op].
      const fn = handler as ((...a: typeof args) => OpResult<K> | PromiseLike<OpResult<K>>) | undefined;
      if (!fn) throw new ErrnoError('ENOSYS');
      result = fn.apply(this.#ops, args);
    } catch (err) {
      this.#fail(id, op, err);
      return;
    }
    if (isPromiseLike(result)) {
      result.then(
        (value) => this.#succeed(id, op, reply, value),
        (err: unknown) => this.#fail(id, op, err),
      );
    } else {
      this.#succeed(id, op, reply, result);
    }
  }

  #succeed<K extends FuseOpName>(id: number, op: K, reply: Reply<K>, value: OpResult<K>): void {
    try {
      reply(id, value);
    } catch (err) {
      // The native side answered EIO already when it rejected the value.
      this.#native.replyErr(id, EIO);
      this.#unexpected(err, op);
    }
    this.#settled();
  }

  #fail(id: number, op: FuseOpName, err: unknown): void {
    let errno = errnoOf(err);
    if (errno === undefined) {
      errno = EIO;
      this.#unexpected(err, op);
    }
    try {
      if (op === 'lookup' && errno === ENOENT && this.#negativeTimeout > 0) {
        this.#native.replyEntry(id, null, this.#negativeTimeout, 0);
      } else {
        this.#native.replyErr(id, errno);
      }
    } catch (replyErr) {
      this.#unexpected(replyErr, op);
    }
    this.#settled();
  }

  #settled(): void {
    this.#inFlight--;
    if (this.#ended && this.#inFlight === 0) this.#resolveClosed();
  }

  /** forget(attr.ino, 1) for every entry from `from` on that carries an attr. */
  #forgetUnsent(entries: readonly DirPlusEntry[], from: number): void {
    if (!Array.isArray(entries)) return;
    for (let i = from; i < entries.length; i++) {
      const e = entries[i]!;
      if (!e || !e.attr || !e.attr.ino || e.name === '.' || e.name === '..') continue;
      try {
        this.#ops.forget?.(e.attr.ino, 1);
      } catch (err) {
        this.#unexpected(err, 'forget');
      }
    }
  }

  #releaseOrphan(dir: boolean, ino: bigint, fh: bigint, flags: number): void {
    const op = dir ? 'releasedir' : 'release';
    try {
      const r = dir ? this.#ops.releasedir?.(ino, fh) : this.#ops.release?.(ino, fh, flags);
      if (r && typeof r.then === 'function') r.then(undefined, (err) => this.#unexpected(err, op));
    } catch (err) {
      this.#unexpected(err, op);
    }
  }

  #onEnd(errno: number, message: string | null): void {
    this.#ended = true;
    if (!this.#initialized) {
      const err = new FuseSessionError(
        `cannot mount ${this.mountpoint}: ${message ?? errnoName(errno) ?? `errno ${errno}`}`,
        errno || EIO,
      );
      this.endError = err;
      this.#mountSettled.reject(err);
    } else if (errno !== 0) {
      this.endError = new FuseSessionError(
        `FUSE session at ${this.mountpoint} ended: ${message ?? errnoName(errno) ?? errno}`,
        errno,
      );
    }
    if (this.#inFlight === 0) this.#resolveClosed();
  }

  #log(level: number, message: string): void {
    if (this.#options.onLog) {
      try {
        this.#options.onLog(level, message);
      } catch {
        // a logger that throws must not take the session down
      }
    } else if (level <= LOG_WARNING || this.#options.debug) {
      process.stderr.write(message.startsWith('fuse:') ? `${message}\n` : `fuse: ${message}\n`);
    }
  }

  #unexpected(err: unknown, op: FuseOpName): void {
    if (this.#options.onUnexpectedError) {
      try {
        this.#options.onUnexpectedError(err, op);
      } catch {
        // ignore
      }
      return;
    }
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`fuse: ${op} failed (answered EIO): ${detail}\n`);
  }
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<T>).then === 'function';
}

/**
 * Clears a dead FUSE mount at `path` (its daemon died: stat or statfs fail with
 * ENOTCONN, "Transport endpoint is not connected"). Returns true when one was
 * removed. The probes run on libuv's pool, so a hung live mount does not block
 * this thread.
 */
export async function clearStaleMount(path: string): Promise<boolean> {
  const abs = resolvePath(path);
  try {
    await stat(abs);
    // stat may be answered from the kernel's attribute cache for a while
    // after the daemon died; statfs always asks the daemon.
    await statfs(abs);
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOTCONN') return false;
  }
  const native = loadNativeFuse();
  return (await detachMount(native, abs)) === 'detached';
}
