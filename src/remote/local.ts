// The local-disk remote. Writes go to a hidden temporary file next to the
// target and are renamed into place only when complete, so a failed write
// never leaves a partial file under the real name.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { constants as fsConstants, type BigIntStats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { resolve as resolvePath, join } from 'node:path';
import {
  AlreadyExistsError,
  CryptfsError,
  DirNotEmptyError,
  DirNotFoundError,
  IsDirectoryError,
  NameTooLongError,
  NoSpaceError,
  NotDirectoryError,
  NotPermittedError,
  ObjectNotFoundError,
  RemoteIOError,
} from '../errors.js';
import { registerBackend } from './registry.js';
import { abortable, abortedError, asAborted, throwIfAborted } from '../abort.js';
import type { ByteSource, HashType, ListOptions, ReadOptions, ReadRange, ReadWithInfo, Remote, RemoteEntry, RemoteFeatures, TransferOptions, WriteOptions } from './remote.js';
import { baseName, dateToNs, parentPath, withLazyMetadata } from './remote.js';
import { fromBackendName, pathToBackend } from './name-encoding.js';
import { exactTimes, setFileTimesNs } from './fs-times.js';
import {
  checkLinkOptions,
  isLinkName,
  listedLink,
  readLinkContent,
  symlinkAt,
  writeLink,
  type LocalLinkOptions,
} from './local-links.js';
import {
  DIRECT_MAX_BYTES,
  directOps,
  FilePieces,
  gatherDeclared,
  giveSmallReadBuffer,
  onLocalDisk,
  onePiece,
  onePooledPiece,
  poolOps,
  readAt,
  SMALL_READ_CAPACITY,
  takeSmallReadBuffer,
  tempName,
  writeAll,
  type FdOps,
} from './local-io.js';
import { parseMetadataTime, posixAttrsOf, type Metadata } from './metadata.js';
import { XattrNotSupportedError, copyUserXattrs, readUserXattrs, specialMetadata, userXattrEntries, writeUserXattrs } from './local-xattr.js';
import { metadataOfStat, userXattrKeys, type StatTimes } from './local-entry.js';
import { smallFileWriter, smallFileWriterAppliesModes } from './local-small-writer.js';
import { hashFileOffThread, OFF_THREAD_MIN_BYTES } from './file-hasher.js';

const READ_CHUNK = 1024 * 1024;

/** Maps a Node fs error on `path` to our typed errors. */
function mapFsError(err: unknown, path: string, kind: 'file' | 'dir' = 'file'): Error {
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return kind === 'dir' ? new DirNotFoundError(path, { cause: err }) : new ObjectNotFoundError(path, { cause: err });
    case 'EEXIST':
      return new AlreadyExistsError(path, { cause: err });
    case 'ENOTEMPTY':
      return new DirNotEmptyError(path, { cause: err });
    case 'EISDIR':
      return new IsDirectoryError(path, { cause: err });
    case 'ENOTDIR':
      return new NotDirectoryError(path, { cause: err });
    case 'ENAMETOOLONG': {
      const seg = path.split('/').reduce((a, b) => (Buffer.byteLength(b) > Buffer.byteLength(a) ? b : a), '');
      return new NameTooLongError(seg, Buffer.byteLength(seg), 255, 'bytes', { cause: err });
    }
    case 'EPERM':
      return new NotPermittedError(`${path}: operation not permitted`, { cause: err });
    case 'ENOSPC':
    case 'EDQUOT':
      return new NoSpaceError(`no space left on device writing ${path}`, { cause: err });
    default:
      if (err instanceof CryptfsError) return err;
      return new RemoteIOError(`${path}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}

/**
 * Owner, then permission bits (chown clears setuid/setgid), as rclone's local backend applies
 * them. atime and btime are not set: Linux keeps btime itself, and setting atime would cost the
 * mtime its nanoseconds where only utimes is available.
 */
async function applyOwnerAndMode(file: string, metadata: Metadata, options: { tolerateChownRefusal?: boolean } = {}): Promise<void> {
  const { mode, uid, gid } = posixAttrsOf(metadata);
  if (uid !== undefined || gid !== undefined) {
    const st = await fsp.stat(file);
    // Unchanged ownership needs no chown (which a user who is not root may not call for another's group).
    if ((uid ?? st.uid) !== st.uid || (gid ?? st.gid) !== st.gid) {
      // A rewrite by a user who is not root makes the file theirs, as any rewrite by rename does.
      await fsp.chown(file, uid ?? -1, gid ?? -1).catch((err: NodeJS.ErrnoException) => {
        if (!(options.tolerateChownRefusal && err.code === 'EPERM')) throw err;
      });
    }
  }
  if (mode !== undefined) await fsp.chmod(file, mode);
}

export class LocalRemote implements Remote {
  readonly type = 'local';
  readonly features: RemoteFeatures = {
    realDirectories: true,
    hashes: ['md5', 'sha1', 'sha256'],
    caseInsensitive: false,
    maxSegmentBytes: 255,
  };

  /** @param root absolute directory on disk that path '' maps to */
  constructor(
    readonly root: string,
    readonly displayName: string = root,
    /** How symlinks are listed and written (local-links.ts). */
    readonly linkOptions: LocalLinkOptions = {},
  ) {
    checkLinkOptions(linkOptions);
  }

  /** With links on: the on-disk symlink the link object `path` stands for, if there is one. */
  private async symlinkOf(path: string): Promise<string | undefined> {
    return isLinkName(this.linkOptions, baseName(path)) ? symlinkAt(this.abs(path)) : undefined;
  }

  /** Absolute on-disk path of a remote path. */
  abs(path: string): string {
    return path === '' ? this.root : join(this.root, pathToBackend(path));
  }

  /**
   * The entry for `st`; `file` (the on-disk path, not for link objects) adds its user.* xattrs to
   * the metadata. `lazyMetadata`: the metadata is made (and the xattrs read) when first asked for,
   * as rclone's local backend reads them only when a transfer wants them: a listing of many files
   * for a plain copy then costs no llistxattr per file.
   */
  private toEntry(path: string, st: BigIntStats, file?: string, lazyMetadata = false): RemoteEntry {
    const isDir = st.isDirectory();
    const entry: RemoteEntry = {
      path,
      isDir,
      size: isDir ? -1 : Number(st.size),
      mtime: new Date(Number(st.mtimeMs)),
      mtimeNs: st.mtimeNs,
    };
    // The metadata is made from these five fields only: an entry kept for later (a listing's
    // entries wait in the transfer queue) holds them, not the whole BigIntStats with its fourteen
    // bigints and four Dates (heap of a 10,000-file copy: ~1 KB less per queued entry).
    const times: StatTimes = { mode: st.mode, uid: st.uid, gid: st.gid, atimeNs: st.atimeNs, birthtimeNs: st.birthtimeNs };
    const metadataNow = (): Metadata => {
      if (file === undefined) return metadataOfStat(times);
      let xattrs: Metadata;
      try {
        xattrs = readUserXattrs(file);
      } catch (err) {
        // Read late, the file may have gone since its stat; the stat still describes it.
        if (!lazyMetadata) throw err;
        xattrs = {};
      }
      return specialMetadata({ ...xattrs, ...metadataOfStat(times) });
    };
    if (lazyMetadata) return withLazyMetadata(entry, metadataNow);
    entry.metadata = metadataNow();
    return entry;
  }

  async *list(dir: string, options: ListOptions = {}): AsyncIterable<RemoteEntry> {
    const signal = options.signal;
    throwIfAborted(signal);
    let handle;
    try {
      handle = await fsp.opendir(this.abs(dir), { bufferSize: 256 });
    } catch (err) {
      throw mapFsError(err, dir || this.root, 'dir');
    }
    // stat() the entries of a batch at once: one after another costs a thread-pool round trip each.
    const statOne = async ({ path, link }: { path: string; link: boolean }): Promise<RemoteEntry | undefined> => {
      let st: BigIntStats;
      try {
        if (link) {
          const shown = await listedLink(this.linkOptions, path, this.abs(path));
          if (!shown) return undefined;
          return shown.st.isDirectory() || shown.st.isFile() || shown.st.isSymbolicLink()
            ? this.toEntry(shown.path, shown.st)
            : undefined;
        }
        st = this.ops() === directOps ? fs.statSync(this.abs(path), { bigint: true }) : await fsp.stat(this.abs(path), { bigint: true });
        if (!st.isFile() && !st.isDirectory()) return undefined; // sockets, fifos, devices
        return this.toEntry(path, st, this.abs(path), true);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // vanished, or a dangling link
        throw mapFsError(err, path);
      }
    };
    let batch: Array<{ path: string; link: boolean }> = [];
    const flush = async function* (): AsyncGenerator<RemoteEntry> {
      // Between batches: an abandoned listing stats no more (leaving the loop closes the directory).
      throwIfAborted(signal);
      const entries = await Promise.all(batch.map(statOne));
      batch = [];
      for (const e of entries) if (e) yield e;
    };
    for await (const d of handle) {
      // Our own in-flight temporary files are not objects.
      if (d.name.startsWith('.cryptfs-partial-')) continue;
      const name = fromBackendName(d.name);
      batch.push({ path: dir === '' ? name : `${dir}/${name}`, link: d.isSymbolicLink() });
      if (batch.length >= 64) yield* flush();
    }
    yield* flush();
  }

  async stat(path: string): Promise<RemoteEntry> {
    try {
      const link = await this.symlinkOf(path);
      if (link) return this.toEntry(path, await fsp.lstat(link, { bigint: true }));
      const file = this.abs(path);
      return this.toEntry(path, await fsp.stat(file, { bigint: true }), file);
    } catch (err) {
      throw mapFsError(err, path);
    }
  }

  async openRead(path: string, range?: ReadRange, options?: ReadOptions): Promise<ByteSource> {
    // Only the bytes: no entry made, so no xattrs read (a copy of many small files reads each once).
    return (await this.openFile(path, range, options, false)).source;
  }

  /** The open file's own stat and xattrs (by path: Linux has no l-variant by fd that helps here) describe it. */
  async openReadWithInfo(path: string, range?: ReadRange, options: ReadOptions = {}): Promise<ReadWithInfo> {
    return this.openFile(path, range, options, true) as Promise<ReadWithInfo>;
  }

  /** openRead and openReadWithInfo: the entry is made only when `withEntry`. */
  private async openFile(path: string, range: ReadRange | undefined, options: ReadOptions = {}, withEntry: boolean): Promise<{ source: ByteSource; entry?: RemoteEntry }> {
    const signal = options.signal;
    throwIfAborted(signal);
    const link = await this.symlinkOf(path);
    if (link) {
      const source = await readLinkContent(link, range).catch((err) => Promise.reject(mapFsError(err, path)));
      return { source, entry: withEntry ? await this.stat(path) : undefined };
    }
    const file = this.abs(path);
    let fd: number;
    let st: BigIntStats;
    let entry: RemoteEntry | undefined;
    try {
      fd = await this.ops().open(file, fsConstants.O_RDONLY);
      // fstat of an open descriptor does no path walk: cheaper here than another thread-pool round trip.
      st = fs.fstatSync(fd, { bigint: true });
      if (st.isDirectory()) {
        fs.closeSync(fd);
        throw new IsDirectoryError(path);
      }
      if (withEntry) entry = this.toEntry(path, st, file);
      if (signal?.aborted) {
        fs.closeSync(fd);
        throw abortedError(signal);
      }
    } catch (err) {
      throw mapFsError(err, path);
    }
    const start = range?.offset ?? 0;
    const end = range?.length === undefined ? undefined : start + range.length - 1;
    if (end !== undefined && end < start) {
      await poolOps.close(fd);
      return { source: (async function* () {})(), entry };
    }
    // A small file (or range) is read with one call into a buffer of its size, no bigger than the
    // stream's own read buffer; one byte more than the size tells that the file has not grown.
    const want = end === undefined ? Math.max(0, Number(st.size) - start) + 1 : end - start + 1;
    if (st.isFile() && want <= READ_CHUNK) {
      const ops = this.ops(want);
      // A consumer that may allow reuse gets a shared buffer, back once it is done with it.
      const reuse = options.reuse;
      const pooled = reuse && want <= SMALL_READ_CAPACITY ? takeSmallReadBuffer(want) : undefined;
      let piece: Buffer;
      try {
        piece = await readAt(ops, fd, start, want, pooled);
      } catch (err) {
        await ops.close(fd).catch(() => undefined);
        throw mapFsError(err, path);
      }
      if (end !== undefined || piece.length < want) {
        await ops.close(fd);
        return { source: pooled ? onePooledPiece(piece, pooled, reuse!) : onePiece(piece), entry };
      }
      // It grew while being read: the stream reads on to its end (from `start` again).
      if (pooled) giveSmallReadBuffer(pooled, piece.length);
    }
    // The fd is closed when the signal fires, also while nobody reads; the reader sees AbortedError.
    const pieces = new FilePieces(fd, start, end, READ_CHUNK, options.reuse, signal);
    return { source: signal ? abortable(pieces, signal) : pieces, entry };
  }

  async write(path: string, source: ByteSource, options: WriteOptions = {}): Promise<RemoteEntry> {
    const target = this.abs(path);
    const dir = this.abs(parentPath(path));
    if (isLinkName(this.linkOptions, baseName(path))) {
      await this.makeDir(dir, parentPath(path));
      const mtimeNs = options.mtimeNs ?? dateToNs(options.mtime ?? new Date());
      await writeLink(target.slice(0, -'.rclonelink'.length), path, source, mtimeNs).catch((err) =>
        Promise.reject(mapFsError(err, path)),
      );
      return this.stat(path);
    }
    if (Buffer.byteLength(pathToBackend(baseName(path))) > 255) {
      const seg = baseName(path);
      throw new NameTooLongError(seg, Buffer.byteLength(seg), 255);
    }
    const temp = join(dir, tempName());
    // A small file of declared size: one thread-pool job (with an owner or mode to apply, only
    // where the addon applies them).
    if (smallFileWriter && (!options.metadata || smallFileWriterAppliesModes) && options.size !== undefined && options.size <= DIRECT_MAX_BYTES) {
      const gathered = await gatherDeclared(abortable(source, options.signal), options.size).catch((err) =>
        Promise.reject(mapFsError(asAborted(err, options.signal), path)),
      );
      if ('bytes' in gathered) return this.writeInOneJob(path, temp, gathered.bytes, options);
      source = gathered.rest; // more than declared: written as any other, and the size check says so
    }
    const ops = this.ops(options.size ?? Infinity);
    let fd: number | undefined;
    let entry: RemoteEntry | undefined;
    try {
      // The directory is made only when the temporary file cannot be created for want of it:
      // a copy of many files into one directory then costs no mkdir per file.
      fd = await ops.open(temp, 'wx', 0o644).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
        await this.makeDir(dir, parentPath(path));
        return ops.open(temp, 'wx', 0o644);
      });
      // Each piece is written before the next is asked for: the source may refill its buffers
      // (not before: the small-file path above keeps the pieces it gathered).
      options.reusePieces?.();
      // Aborted: the source throws AbortedError and the temporary file goes as for any failure.
      for await (const chunk of abortable(source, options.signal)) await writeAll(ops, fd, chunk);
      const mtimeNs = options.mtimeNs ?? dateToNs(options.mtime ?? new Date());
      setFileTimesNs(fd, mtimeNs, () => undefined);
      // With exact times and no owner/mode to apply, what the file's own fstat says now is what a
      // stat after the rename would say (rename changes only ctime): one path lookup fewer.
      if (exactTimes && !options.metadata) entry = this.toEntry(path, fs.fstatSync(fd, { bigint: true }));
      const closing = fd;
      fd = undefined;
      await ops.close(closing);
      if (!exactTimes) await fsp.utimes(temp, Number(mtimeNs) / 1e9, Number(mtimeNs) / 1e9);
      const metadata = options.lateMetadata ? { ...options.metadata, ...(await options.lateMetadata()) } : options.metadata;
      if (metadata) {
        // xattrs before the mode (a read-only mode would refuse them), and all before the rename:
        // the file never appears without its metadata (a sealed record must never be missing or stale).
        writeUserXattrs(temp, metadata, { fresh: true });
        if (options.metadata) await applyOwnerAndMode(temp, metadata, { tolerateChownRefusal: true });
        // The fstat entry (taken when no owner/mode was to be applied) lacks the xattrs just written.
        if (entry) entry.metadata = { ...userXattrKeys(metadata), ...entry.metadata };
      }
      // Renaming onto a directory fails with EISDIR (IsDirectoryError), so no stat beforehand.
      await ops.rename(temp, target);
    } catch (err) {
      if (fd !== undefined) await ops.close(fd).catch(() => undefined);
      await fsp.rm(temp, { force: true }).catch(() => undefined);
      throw mapFsError(asAborted(err, options.signal), path);
    }
    return entry ?? this.stat(path);
  }

  /**
   * write() of a small file whose bytes are all here: created, written, given its xattrs (the
   * sealed record, and any metadata keys), owner, mode and times, and renamed into place on a pool
   * thread, in a batch with other files (local-small-writer.ts); its temporary file is removed
   * there on any failure.
   */
  private async writeInOneJob(path: string, temp: string, bytes: Buffer, options: WriteOptions): Promise<RemoteEntry> {
    const writer = smallFileWriter!;
    const target = this.abs(path);
    const dir = this.abs(parentPath(path));
    const mtimeNs = options.mtimeNs ?? dateToNs(options.mtime ?? new Date());
    let metadata: Metadata | undefined;
    let st;
    try {
      const late = options.lateMetadata ? await options.lateMetadata() : undefined;
      // As the streamed path: every key as an xattr, and the owner and mode of options.metadata.
      metadata = options.metadata ? { ...options.metadata, ...late } : late;
      const xattrs = metadata ? userXattrEntries(metadata, { fresh: true }).flat() : [];
      const owner = options.metadata ? posixAttrsOf(metadata) : {};
      throwIfAborted(options.signal);
      const job = () => writer.write({ temp, target, bytes, xattrs, mtimeNs, ...owner });
      // The directory is made only when the temporary file cannot be created for want of it.
      st = await job().catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT' || err.syscall !== 'open') throw err;
        await this.makeDir(dir, parentPath(path));
        return job();
      });
      // Written, so done with the pieces it gathered: the source may take its buffers back
      // (PieceReuse.whenDone; a source that has not ended has yielded nothing more).
      options.reusePieces?.();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTSUP' && (err as NodeJS.ErrnoException).syscall === 'fsetxattr') throw new XattrNotSupportedError(temp, { cause: err });
      throw mapFsError(asAborted(err, options.signal), path);
    }
    const fields = { path, isDir: false, size: st.size, mtime: new Date(Number(st.mtimeNs / 1_000_000n)), mtimeNs: st.mtimeNs };
    // Made if asked for: a copy looks only at the size.
    return withLazyMetadata(fields, () => ({ ...(metadata ? userXattrKeys(metadata) : {}), ...metadataOfStat(st) }));
  }

  /** Whether small files are read and written with direct calls (on a local disk; see local-io.ts). */
  private direct?: boolean;

  /** How to make the calls for a file of `size` bytes (unknown: the thread pool, unless opening). */
  private ops(size = 0): FdOps {
    this.direct ??= onLocalDisk(this.root);
    return this.direct && size <= DIRECT_MAX_BYTES ? directOps : poolOps;
  }

  /** mkdir -p of an absolute directory `dir` (the remote path `shown` in errors). */
  private async makeDir(dir: string, shown: string): Promise<void> {
    try {
      await fsp.mkdir(dir, { recursive: true });
    } catch (err) {
      throw mapFsError(err, shown, 'dir');
    }
  }

  async delete(path: string): Promise<void> {
    const link = await this.symlinkOf(path);
    if (link) return fsp.unlink(link).catch((err) => Promise.reject(mapFsError(err, path)));
    const st = await this.stat(path);
    if (st.isDir) throw new IsDirectoryError(path);
    try {
      await fsp.unlink(this.abs(path));
    } catch (err) {
      throw mapFsError(err, path);
    }
  }

  async mkdir(dir: string): Promise<void> {
    try {
      await fsp.mkdir(this.abs(dir), { recursive: true });
    } catch (err) {
      throw mapFsError(err, dir, 'dir');
    }
  }

  async rmdir(dir: string): Promise<void> {
    try {
      await fsp.rmdir(this.abs(dir));
    } catch (err) {
      throw mapFsError(err, dir, 'dir');
    }
  }

  async setMtime(path: string, mtime: Date, mtimeNs?: bigint): Promise<void> {
    try {
      const link = await this.symlinkOf(path);
      if (link) {
        const seconds = Number(mtimeNs ?? dateToNs(mtime)) / 1e9;
        return await fsp.lutimes(link, seconds, seconds);
      }
      await this.setTimesOf(this.abs(path), mtimeNs ?? dateToNs(mtime));
    } catch (err) {
      throw mapFsError(err, path);
    }
  }

  async setMetadata(path: string, metadata: Metadata, _options?: { isDir?: boolean }): Promise<void> {
    const file = this.abs(path);
    try {
      writeUserXattrs(file, metadata);
      await applyOwnerAndMode(file, metadata);
      const mtimeNs = parseMetadataTime(metadata.mtime);
      if (mtimeNs !== undefined) await this.setTimesOf(file, mtimeNs);
    } catch (err) {
      throw mapFsError(err, path);
    }
  }

  /** Sets a file's times exactly where the native helper is built. */
  private async setTimesOf(file: string, mtimeNs: bigint): Promise<void> {
    if (!exactTimes) {
      await fsp.utimes(file, Number(mtimeNs) / 1e9, Number(mtimeNs) / 1e9);
      return;
    }
    const fh = await fsp.open(file, fsConstants.O_RDONLY);
    try {
      setFileTimesNs(fh.fd, mtimeNs, () => undefined);
    } finally {
      await fh.close();
    }
  }

  /** rename(2); `options.metadata` goes on right after it (a rename cannot carry metadata changes itself). */
  async move(src: string, dst: string, options: TransferOptions = {}): Promise<RemoteEntry> {
    try {
      await fsp.mkdir(this.abs(parentPath(dst)), { recursive: true });
      const link = await this.symlinkOf(src);
      const to = this.abs(dst);
      if (link && isLinkName(this.linkOptions, baseName(dst))) await fsp.rename(link, to.slice(0, -'.rclonelink'.length));
      else {
        await fsp.rename(this.abs(src), to);
        if (options.metadata) writeUserXattrs(to, options.metadata);
      }
    } catch (err) {
      throw mapFsError(err, src);
    }
    return this.stat(dst);
  }

  /** Copies content, times and user xattrs (as S3/Swift copies keep metadata), `options.metadata` laid over them before the rename into place. */
  async copy(src: string, dst: string, options: TransferOptions = {}): Promise<RemoteEntry> {
    const srcStat = await this.stat(src);
    if (await this.symlinkOf(src)) return this.write(dst, await this.openRead(src), { mtime: srcStat.mtime, mtimeNs: srcStat.mtimeNs });
    const dir = this.abs(parentPath(dst));
    const temp = join(dir, tempName());
    try {
      await fsp.mkdir(dir, { recursive: true });
      await fsp.copyFile(this.abs(src), temp);
      copyUserXattrs(this.abs(src), temp);
      if (options.metadata) writeUserXattrs(temp, options.metadata);
      await this.setTimesOf(temp, srcStat.mtimeNs ?? dateToNs(srcStat.mtime));
      await fsp.rename(temp, this.abs(dst));
    } catch (err) {
      await fsp.rm(temp, { force: true }).catch(() => undefined);
      throw mapFsError(err, src);
    }
    return this.stat(dst);
  }

  async hash(path: string, type: HashType): Promise<string | undefined> {
    // A big regular file goes to a hashing thread (file-hasher.ts); links and small files stay here.
    if (!(await this.symlinkOf(path))) {
      const file = this.abs(path);
      // On a local disk a stat is cheaper inline than as a thread-pool round trip (as list() does).
      const st = this.ops() === directOps ? fs.statSync(file, { throwIfNoEntry: false }) : await fsp.stat(file).catch(() => undefined);
      if (st?.isFile() && st.size >= OFF_THREAD_MIN_BYTES) {
        return hashFileOffThread(file, type).catch((err) => {
          throw mapFsError(err, path);
        });
      }
    }
    const h = createHash(type);
    for await (const chunk of await this.openRead(path)) h.update(chunk);
    return h.digest('hex');
  }

  async purge(dir: string): Promise<void> {
    await this.stat(dir).catch((err) => {
      throw err instanceof ObjectNotFoundError ? new DirNotFoundError(dir, { cause: err }) : err;
    });
    try {
      await fsp.rm(this.abs(dir), { recursive: true });
    } catch (err) {
      throw mapFsError(err, dir, 'dir');
    }
  }

  async about(): Promise<{ total?: number; used?: number; free?: number }> {
    const s = await fsp.statfs(this.root);
    const total = s.blocks * s.bsize;
    const free = s.bavail * s.bsize;
    return { total, free, used: total - s.bfree * s.bsize };
  }
}

registerBackend({
  type: 'local',
  description: 'Local Disk',
  options: [
    {
      name: 'nounc',
      help: 'Disable UNC (long path names) conversion on Windows (accepted for rclone compatibility; no effect here).',
      type: 'bool',
      default: false,
      advanced: true,
    },
    {
      name: 'copy_links',
      help: 'Follow symlinks and copy the pointed to item.',
      type: 'bool',
      default: false,
      advanced: true,
    },
    {
      name: 'links',
      help: "Translate symlinks to/from regular files with a '.rclonelink' extension.",
      type: 'bool',
      default: false,
      advanced: true,
    },
    {
      name: 'skip_links',
      help: "Don't warn about skipped symlinks.",
      type: 'bool',
      default: false,
      advanced: true,
    },
  ],
  handlesRoot: true,
  async create(ctx) {
    // The path after `name:` (or a bare local path) is absolute or relative to the working directory.
    // rclone's local backend: '' is the working directory.
    const root = resolvePath(ctx.root);
    return new LocalRemote(root, ctx.name ? `${ctx.name}:${ctx.root}` : root, {
      links: ctx.options.bool('links'),
      copyLinks: ctx.options.bool('copy_links'),
      skipLinks: ctx.options.bool('skip_links'),
    });
  },
});
