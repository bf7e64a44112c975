// FUSE operations over the VFS: inode numbers <-> paths, open file and
// directory handles, attributes with the mount's owner and permissions.
// Typed VFS errors answer the errno errno-map.ts gives their class (ENOENT,
// EEXIST, ENOTEMPTY, EIO for authentication failures, ENAMETOOLONG, EROFS,
// ENOSPC, ...), which FuseSession answers. Every operation that answers EIO - a typed EIO or an
// error nobody expected - is logged here at ERROR with its path and cause,
// since EIO alone tells the user nothing.
import { constants as fsc } from 'node:fs';
import os from 'node:os';
import { ErrnoError, errorMessage } from '../errors.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import { joinPath, parentPath } from '../remote/remote.js';
import {
  fileTypeOf,
  formatRdev,
  isSpecialType,
  metadataOfPosix,
  posixAttrsOf,
  rdevOf,
  S_IFCHR,
  S_IFBLK,
  S_IFMT,
  type PosixAttrs,
} from '../remote/metadata.js';
import { InodeTable, ROOT_INO } from '../vfs/inode-table.js';
import { type DirReader, type FileHandle, type OpenFlags, type Vfs, type VfsAttr } from '../vfs/vfs.js';
import {
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  type Attr,
  type Caller,
  type CreateResult,
  type DirEntry,
  type DirPlusEntry,
  type FuseOps,
  type OpenResult,
  type SetattrChanges,
  type StatfsResult,
} from './fuse-session.js';
import { errnoOf } from './errno-map.js';

const EIO = os.constants.errno.EIO;

/** The message of an error and of its causes ("upload failed: ...: ENOSPC ..."). */
function describeFailure(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; depth++) {
    const text = errorMessage(e);
    if (!parts.some((p) => p.includes(text))) parts.push(text);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(': ');
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
/** A symlink's mode: its permission bits are never checked (symlink(7)). */
const LINK_MODE = S_IFLNK | 0o777;
/** st_blksize: the crypt chunk size, so that stdio and cp use big buffers. */
const BLKSIZE = 65536;

export interface FuseOpsOptions {
  uid: number;
  gid: number;
  /** Permission bits removed from dirPerms/filePerms. */
  umask: number;
  dirPerms: number;
  filePerms: number;
  /**
   * Set when --file-perms/--dir-perms were given explicitly: those modes are then
   * shown whatever is stored (as rclone's mount always does), so `--file-perms 0600`
   * never shows a file more open, and `--file-perms 0666` opens every file, even on
   * a local remote where every ciphertext file has a real mode of its own.
   */
  fixedModes?: { file?: boolean; dir?: boolean };
}

export function defaultFuseOpsOptions(): FuseOpsOptions {
  const umask = process.umask();
  return {
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    umask,
    dirPerms: 0o777,
    filePerms: 0o666,
  };
}

/** open(2) flags as the VFS takes them. */
export function openFlagsFrom(flags: number): OpenFlags {
  const acc = flags & 3;
  return {
    read: acc === fsc.O_RDONLY || acc === fsc.O_RDWR,
    write: acc === fsc.O_WRONLY || acc === fsc.O_RDWR,
    truncate: (flags & fsc.O_TRUNC) !== 0,
    append: (flags & fsc.O_APPEND) !== 0,
    create: (flags & fsc.O_CREAT) !== 0,
    exclusive: (flags & fsc.O_EXCL) !== 0,
  };
}

// Read once: each call is a system call, and a `tar -x` asked three times per file.
const processUid = process.geteuid?.() ?? 0;
const processGid = process.getegid?.() ?? 0;
/** fallocate(2): allocate without changing the size (linux/falloc.h). */
const FALLOC_FL_KEEP_SIZE = 0x01;

export class VfsFuseOps implements FuseOps {
  readonly inodes = new InodeTable();
  private readonly files = new Map<bigint, FileHandle>();
  /** The inode each open handle was opened on. */
  private readonly handleInodes = new Map<bigint, bigint>();
  private readonly dirs = new Map<bigint, DirReader>();
  private nextFh = 1n;
  private readonly fileMode: number;
  private readonly dirMode: number;

  constructor(
    readonly vfs: Vfs,
    private readonly options: FuseOpsOptions = defaultFuseOpsOptions(),
  ) {
    this.fileMode = S_IFREG | (options.filePerms & ~options.umask & 0o7777);
    this.dirMode = S_IFDIR | (options.dirPerms & ~options.umask & 0o7777);
  }

  /** Open file handles (for diagnostics and tests). */
  get openFiles(): number {
    return this.files.size;
  }

  /**
   * Mode bits and owner: stored metadata where the entry has it, else the mount's
   * --file-perms/--dir-perms/--uid/--gid. A stored owner that is the mount process's own is
   * what every file it writes on a local remote gets, not a choice: it shows as --uid/--gid
   * (so a mount run as root with --uid keeps showing that user).
   */
  private ownerAndMode(a: VfsAttr): { mode: number; uid: number; gid: number } {
    const stored = posixAttrsOf(a.metadata);
    const fixed = a.isDir ? this.options.fixedModes?.dir : this.options.fixedModes?.file;
    // A FIFO, socket or device is a file whose stored mode carries its type (mknod).
    const type = a.isDir ? S_IFDIR : fileTypeOf(a.metadata);
    const perms = stored.mode === undefined || fixed ? (a.isDir ? this.dirMode : this.fileMode) & 0o7777 : stored.mode;
    const mode = type | perms;
    const uid = stored.uid === undefined || stored.uid === processUid ? this.options.uid : stored.uid;
    const gid = stored.gid === undefined || stored.gid === processGid ? this.options.gid : stored.gid;
    return { mode, uid, gid };
  }

  /**
   * A new entry's metadata: the mode asked for (the kernel applied the umask); the caller as
   * owner when not the mount's, where the mount runs as root (only root may give files away).
   */
  private newEntryAttrs(mode: number, caller: Caller): PosixAttrs {
    const attrs: PosixAttrs = { mode: mode & 0o7777 };
    if (processUid !== 0) return attrs;
    if (caller.uid !== this.options.uid) attrs.uid = caller.uid;
    if (caller.gid !== this.options.gid) attrs.gid = caller.gid;
    return attrs;
  }

  private attr(ino: bigint, a: VfsAttr, unlinked = false): Attr {
    const t = this.vfs.times.resolve(a.path, a.isDir, a.mtime);
    const { mode, uid, gid } = this.ownerAndMode(a);
    const type = mode & S_IFMT;
    return {
      ino,
      mode: a.isLink ? LINK_MODE : mode,
      nlink: unlinked ? 0 : a.isDir ? (this.vfs.dirLinkCount(a.path) ?? 1) : 1,
      uid,
      gid,
      rdev: !a.isLink && (type === S_IFCHR || type === S_IFBLK) ? rdevOf(a.metadata) : 0,
      size: a.size,
      blocks: Math.ceil(a.size / 512),
      blksize: BLKSIZE,
      atimeNs: t.atimeNs,
      mtimeNs: t.mtimeNs,
      ctimeNs: t.ctimeNs,
    };
  }

  private pathOf(ino: bigint): string {
    const p = this.inodes.path(ino);
    if (p === undefined) throw new ErrnoError('ENOENT', `inode ${ino} is gone`);
    return p;
  }

  private childOf(parent: bigint, name: string): string {
    return joinPath(this.pathOf(parent), name);
  }

  private handle(fh: bigint): FileHandle {
    const h = this.files.get(fh);
    if (!h) throw new ErrnoError('EBADF', `no open file ${fh}`);
    return h;
  }

  private addHandle(h: FileHandle, ino: bigint): bigint {
    const fh = this.nextFh++;
    this.files.set(fh, h);
    this.handleInodes.set(fh, ino);
    return fh;
  }

  /** An open handle of inode `ino`: after unlink its only way to the file (fstat of an unlinked open file). */
  private openHandleOf(ino: bigint): FileHandle | undefined {
    for (const [fh, i] of this.handleInodes) if (i === ino) return this.files.get(fh);
    return undefined;
  }

  /** The path for a log line about an operation on `ino` (never throws). */
  private describePath(ino: bigint, name?: string): string {
    const dir = ino === ROOT_INO ? '' : this.inodes.path(ino);
    if (dir === undefined) return `inode ${ino}${name === undefined ? '' : `/${logPath(name)}`}`;
    const path = name === undefined ? dir : joinPath(dir, name);
    return path === '' ? '/' : logPath(path);
  }

  /**
   * What an operation's failure answers. EIO (typed, or an error without an
   * errno) is logged at ERROR with the path and cause; an unexpected error
   * becomes a typed EIO so that it is not reported twice.
   */
  private failure(op: string, path: () => string, err: unknown): unknown {
    const errno = errnoOf(err);
    if (errno !== undefined && errno !== EIO) return err;
    const where = path();
    const cause = describeFailure(err);
    log.error(`${where}: ${op}: ${cause.startsWith(`${where}: `) ? cause.slice(where.length + 2) : cause}`);
    if (errno === undefined) {
      if (err instanceof Error && err.stack) log.debug(`${where}: ${op}: ${err.stack}`);
      return new ErrnoError('EIO', `${where}: ${op}: ${errorMessage(err)}`, { cause: err });
    }
    return err;
  }

  /** Runs one operation; see failure(). */
  private async guard<T>(op: string, path: () => string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.failure(op, path, err);
    }
  }

  private handlePath(ino: bigint, fh: bigint): string {
    return this.files.get(fh)?.file.path ?? this.describePath(ino);
  }

  // ---- FuseOps ----

  lookup(parent: bigint, name: string): Promise<Attr> {
    return this.guard('lookup', () => this.describePath(parent, name), async () => {
      const path = this.childOf(parent, name);
      const a = await this.vfs.lookup(path);
      // A miss answers its errno as a number (errnoOf takes one): no error object, whose stack
      // trace cost more than the rest of a negative lookup's work (profiled under tar -x).
      if (!a) throw os.constants.errno[this.vfs.missingErrno(path)];
      return this.attr(this.inodes.ref(path, a.isDir), a);
    });
  }

  forget(ino: bigint, nlookup: number): void {
    this.inodes.forget(ino, nlookup);
  }

  getattr(ino: bigint, fh: bigint | undefined): Promise<Attr> {
    return this.guard('getattr', () => this.describePath(ino), async () => {
      const h = fh !== undefined ? this.files.get(fh) : undefined;
      // An inode whose name was unlinked (or renamed over) while open has no path any more: nlink 0.
      if (h) return this.attr(ino, h.file.attr(), h.file.unlinked || this.inodes.path(ino) === undefined);
      if (ino === ROOT_INO) return this.attr(ino, await this.vfs.stat(''));
      // The kernel may ask without the handle (fstat): an unlinked file still open answers nlink 0.
      const open = this.inodes.path(ino) === undefined ? this.openHandleOf(ino) : undefined;
      if (open) return this.attr(ino, open.file.attr(), true);
      return this.attr(ino, await this.vfs.stat(this.pathOf(ino)));
    });
  }

  setattr(ino: bigint, changes: SetattrChanges, fh: bigint | undefined): Promise<Attr> {
    return this.guard('setattr', () => this.describePath(ino), () => this.setattrNow(ino, changes, fh));
  }

  private async setattrNow(ino: bigint, changes: SetattrChanges, fh: bigint | undefined): Promise<Attr> {
    const h = fh !== undefined ? this.files.get(fh) : undefined;
    const path = h ? h.file.path : this.pathOf(ino);
    if (changes.size !== undefined) {
      if (h) await h.truncate(changes.size);
      else await this.vfs.truncate(path, changes.size);
    }
    const unlinked = h !== undefined && h.file.unlinked;
    if ((changes.atimeNs !== undefined || changes.mtimeNs !== undefined) && !unlinked) {
      // UTIME_NOW arrives resolved; an omitted time is absent and stays.
      await this.vfs.setTimes(path, { atimeNs: changes.atimeNs, mtimeNs: changes.mtimeNs });
    }
    if ((changes.mode !== undefined || changes.uid !== undefined || changes.gid !== undefined) && !unlinked) {
      await this.setOwnerAndMode(path, changes);
    }
    // Every setattr is a change of the inode: ctime now.
    if (!unlinked) this.vfs.times.changed(path);
    if (h) return this.attr(ino, h.file.attr());
    return this.attr(ino, await this.vfs.stat(path));
  }

  /**
   * chmod/chown as the mount process may do them: a process that is not root
   * may not give a file away or to a group it is not in (EPERM, as chown(2));
   * what does not change is not stored again (cp -a, rsync -a set every file).
   */
  private async setOwnerAndMode(path: string, changes: SetattrChanges): Promise<void> {
    const now = this.ownerAndMode(await this.vfs.stat(path));
    const want: PosixAttrs = {};
    if (changes.mode !== undefined && (changes.mode & 0o7777) !== (now.mode & 0o7777)) want.mode = changes.mode & 0o7777;
    if (changes.uid !== undefined && changes.uid !== now.uid) want.uid = changes.uid;
    if (changes.gid !== undefined && changes.gid !== now.gid) want.gid = changes.gid;
    if (processUid !== 0) {
      if (want.uid !== undefined) throw new ErrnoError('EPERM', `${path}: only root may give a file away`);
      const groups = process.getgroups?.() ?? [];
      if (want.gid !== undefined && want.gid !== processGid && !groups.includes(want.gid)) {
        throw new ErrnoError('EPERM', `${path}: not a member of group ${want.gid}`);
      }
    }
    if (want.mode !== undefined || want.uid !== undefined || want.gid !== undefined) await this.vfs.setOwnerAndMode(path, want);
  }

  mkdir(parent: bigint, name: string, mode: number, caller: Caller): Promise<Attr> {
    return this.guard('mkdir', () => this.describePath(parent, name), async () => {
      const path = this.childOf(parent, name);
      let a = await this.vfs.mkdir(path);
      a = await this.vfs.setOwnerAndMode(path, this.newEntryAttrs(mode, caller));
      return this.attr(this.inodes.ref(path, true), a);
    });
  }

  readlink(ino: bigint): Promise<string> {
    return this.guard('readlink', () => this.describePath(ino), () => this.vfs.readlink(this.pathOf(ino)));
  }

  symlink(target: string, parent: bigint, name: string, caller: Caller): Promise<Attr> {
    return this.guard('symlink', () => this.describePath(parent, name), async () => {
      const path = this.childOf(parent, name);
      // A link's owner is its creator's, as for any new entry; it has no mode of its own.
      const { uid, gid } = this.newEntryAttrs(0, caller);
      const a = await this.vfs.symlink(path, target, metadataOfPosix({ uid, gid }, false));
      return this.attr(this.inodes.ref(path, false), a);
    });
  }

  unlink(parent: bigint, name: string): Promise<void> {
    return this.guard('unlink', () => this.describePath(parent, name), async () => {
      const path = this.childOf(parent, name);
      await this.vfs.unlink(path);
      this.inodes.unlink(path);
    });
  }

  rmdir(parent: bigint, name: string): Promise<void> {
    return this.guard('rmdir', () => this.describePath(parent, name), async () => {
      const path = this.childOf(parent, name);
      await this.vfs.rmdir(path);
      this.inodes.unlink(path);
    });
  }

  /**
   * mknod(2), and so mkfifo(3) and bind(2) of a UNIX socket: a FIFO, socket or character or block
   * device is an empty object whose stored mode carries the type (and `rdev` the device number of
   * a device), as rclone's metadata keeps them; S_IFREG (or no type) makes an empty regular file.
   * The kernel has checked CAP_MKNOD for devices and applied the umask. Mode and owner as create.
   */
  mknod(parent: bigint, name: string, mode: number, rdev: number, caller: Caller): Promise<Attr> {
    return this.guard('mknod', () => this.describePath(parent, name), async () => {
      const type = mode & S_IFMT;
      const special = isSpecialType(type);
      if (!special && type !== 0 && type !== S_IFREG) throw new ErrnoError('EINVAL', `mknod of file type 0${type.toString(8)}`);
      const path = this.childOf(parent, name);
      const metadata = metadataOfPosix(this.newEntryAttrs(mode, caller), special ? type : false);
      if (type === S_IFCHR || type === S_IFBLK) {
        const text = formatRdev(rdev);
        if (text !== undefined) metadata.rdev = text;
      }
      const a = await this.vfs.mknod(path, metadata);
      return this.attr(this.inodes.ref(path, false), a);
    });
  }

  /** Hard links can't be stored: EPERM, as link(2) answers on a file system without them. */
  link(ino: bigint, newParent: bigint, newName: string): Promise<Attr> {
    return this.guard('link', () => this.describePath(newParent, newName), async () => {
      throw new ErrnoError('EPERM', `${this.describePath(ino)}: hard links are not supported`);
    });
  }

  rename(parent: bigint, name: string, newParent: bigint, newName: string, flags: number): Promise<void> {
    return this.guard('rename', () => `${this.describePath(parent, name)} -> ${this.describePath(newParent, newName)}`, async () => {
      if (flags & RENAME_EXCHANGE) throw new ErrnoError('EINVAL', 'RENAME_EXCHANGE is not supported');
      const from = this.childOf(parent, name);
      const to = this.childOf(newParent, newName);
      await this.vfs.rename(from, to, { noReplace: (flags & RENAME_NOREPLACE) !== 0 });
      this.inodes.rename(from, to);
    });
  }

  open(ino: bigint, flags: number): Promise<OpenResult> {
    return this.guard('open', () => this.describePath(ino), async () => {
      const f = openFlagsFrom(flags);
      const h = await this.vfs.open(this.pathOf(ino), { ...f, create: false, exclusive: false });
      return { fh: this.addHandle(h, ino) };
    });
  }

  create(parent: bigint, name: string, mode: number, flags: number, caller: Caller): Promise<CreateResult> {
    return this.guard('create', () => this.describePath(parent, name), async () => {
      const path = this.childOf(parent, name);
      const f = openFlagsFrom(flags);
      const metadata = metadataOfPosix(this.newEntryAttrs(mode, caller), false);
      const h = await this.vfs.open(path, { ...f, create: true, metadata });
      const ino = this.inodes.ref(path, false);
      const fh = this.addHandle(h, ino);
      return { fh, attr: this.attr(ino, h.file.attr()) };
    });
  }

  // read and write without an extra async frame: they are the hot path.
  read(ino: bigint, fh: bigint, offset: number, size: number): Promise<Uint8Array> {
    const fail = (err: unknown) => Promise.reject(this.failure('read', () => this.handlePath(ino, fh), err));
    try {
      return this.handle(fh).read(offset, size).catch(fail);
    } catch (err) {
      return fail(err);
    }
  }

  write(ino: bigint, fh: bigint, data: Buffer, offset: number): Promise<number> {
    const fail = (err: unknown) => Promise.reject(this.failure('write', () => this.handlePath(ino, fh), err));
    try {
      const h = this.handle(fh);
      this.vfs.times.written(h.file.path);
      return h.write(data, offset).catch(fail);
    } catch (err) {
      return fail(err);
    }
  }

  /**
   * Mode 0 and FALLOC_FL_KEEP_SIZE (FileHandle.allocate); punching holes,
   * zeroing, collapsing and inserting ranges answer EOPNOTSUPP.
   */
  fallocate(ino: bigint, fh: bigint, mode: number, offset: number, length: number): Promise<void> {
    return this.guard('fallocate', () => this.handlePath(ino, fh), async () => {
      if ((mode & ~FALLOC_FL_KEEP_SIZE) !== 0) throw new ErrnoError('EOPNOTSUPP', `fallocate mode 0x${mode.toString(16)} is not supported`);
      const h = this.handle(fh);
      const size = h.file.size;
      await h.allocate(offset, length, (mode & FALLOC_FL_KEEP_SIZE) !== 0);
      if (h.file.size !== size) this.vfs.times.written(h.file.path);
    });
  }

  flush(ino: bigint, fh: bigint): Promise<void> {
    return this.guard('flush', () => this.handlePath(ino, fh), async () => {
      await this.handle(fh).flush();
    });
  }

  release(ino: bigint, fh: bigint, _flags: number): Promise<void> {
    const h = this.files.get(fh);
    if (!h) return Promise.resolve();
    const path = h.file.path;
    this.files.delete(fh);
    this.handleInodes.delete(fh);
    return this.guard('release', () => path || this.describePath(ino), () => h.release());
  }

  fsync(ino: bigint, fh: bigint, _datasync: boolean): Promise<void> {
    return this.guard('fsync', () => this.handlePath(ino, fh), async () => {
      await this.handle(fh).fsync();
    });
  }

  opendir(ino: bigint, _flags: number): Promise<OpenResult> {
    return this.guard('opendir', () => this.describePath(ino), async () => {
      const reader = await this.vfs.openDir(this.pathOf(ino));
      const fh = this.nextFh++;
      this.dirs.set(fh, reader);
      return { fh };
    });
  }

  readdir(ino: bigint, fh: bigint | undefined, offset: number, size: number): Promise<DirEntry[]> {
    return this.guard('readdir', () => this.describePath(ino), () => this.listEntries(ino, fh, offset, size, false));
  }

  /**
   * readdir with each entry's attributes; every entry with an attr holds one
   * inode reference, as after lookup (FuseSession forgets the ones the kernel
   * did not take).
   */
  readdirplus(ino: bigint, fh: bigint | undefined, offset: number, size: number): Promise<DirPlusEntry[]> {
    return this.guard('readdirplus', () => this.describePath(ino), () => this.listEntries(ino, fh, offset, size, true));
  }

  private async listEntries(
    ino: bigint,
    fh: bigint | undefined,
    offset: number,
    size: number,
    plus: boolean,
  ): Promise<DirPlusEntry[]> {
    let reader = fh !== undefined ? this.dirs.get(fh) : undefined;
    const dir = reader?.dir ?? this.pathOf(ino);
    reader ??= await this.vfs.openDir(dir);
    const out: DirPlusEntry[] = [];
    if (offset === 0) out.push({ name: '.', ino, mode: S_IFDIR, offset: 1 });
    if (offset <= 1) {
      const up = dir === '' ? ROOT_INO : this.inodes.peek(parentPath(dir));
      out.push({ name: '..', ino: up, mode: S_IFDIR, offset: 2 });
    }
    const start = Math.max(0, offset - 2);
    // About 32 bytes per entry in the kernel's buffer (readdirplus: 152 more
    // for the attributes): ask for what can fit.
    const max = Math.max(1, Math.min(4096, Math.floor(size / (plus ? 184 : 32))));
    const entries = await reader.read(start, max);
    // No await from here on: the references taken below must reach the
    // session's reply in the same turn (a forget could otherwise come first).
    entries.forEach((e, i) => {
      const path = joinPath(dir, e.name);
      const a = reader.attr(e.name);
      // Listed but gone since (unlinked meanwhile): a plain name, as readdir gives it.
      const attr = a && plus ? this.attr(this.inodes.ref(path, a.isDir), a) : undefined;
      // The type (DT_FIFO, ...) of a file comes from its stored mode.
      const fileType = e.isLink ? S_IFLNK : e.isDir ? S_IFDIR : a && !a.isDir ? fileTypeOf(a.metadata) : S_IFREG;
      out.push({
        name: e.name,
        ino: attr?.ino ?? this.inodes.peek(path),
        mode: attr ? attr.mode : fileType,
        offset: start + i + 3,
        ...(attr && { attr }),
      });
    });
    return out;
  }

  releasedir(_ino: bigint, fh: bigint | undefined): void {
    if (fh !== undefined) this.dirs.delete(fh);
  }

  fsyncdir(): void {
    // Directory changes are made on the remote as they happen.
  }

  statfs(ino: bigint): Promise<StatfsResult> {
    return this.guard('statfs', () => this.describePath(ino), async () => {
      const s = await this.vfs.statfs();
      return {
        bsize: s.blockSize,
        frsize: s.blockSize,
        blocks: s.blocks,
        bfree: s.blocksFree,
        bavail: s.blocksAvailable,
        files: s.files,
        ffree: s.filesFree,
        favail: s.filesFree,
        namemax: s.nameMax,
      };
    });
  }
}
