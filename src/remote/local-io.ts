// Plain-fd file I/O for the local remote's hot paths. Copying many small files is dominated by
// thread-pool round trips, not bytes: each fs.promises call is one round trip plus a FileHandle
// (tracked for close-on-GC), and a ReadStream allocates a 1 MiB buffer per read even for a 4 KiB
// file. So a small file is read with one call into a buffer of its size, and on a local disk the
// calls for a small file are made directly (a few microseconds each, where a round trip through
// the thread pool costs tens on a busy machine). Network and FUSE file systems, where one call
// may wait for a server, always go through the thread pool.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { dirname } from 'node:path';
import type { ByteSource, PieceReuse } from './remote.js';
import { resumeIterator } from '../resume-iterator.js';
import { SharedBuffers } from '../shared-buffers.js';

/** The calls a small-file transfer makes, with one signature for both ways of making them. */
export interface FdOps {
  open(path: string, flags: string | number, mode?: number): Promise<number>;
  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  write(fd: number, buffer: Uint8Array, offset: number, length: number): Promise<number>;
  close(fd: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
}

const done = <T>(fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

/** Through libuv's thread pool (the callback API: no FileHandle objects). */
export const poolOps: FdOps = {
  open: (path, flags, mode) => done<number>((cb) => fs.open(path, flags, mode, cb)),
  read: (fd, buffer, offset, length, position) => done<number>((cb) => fs.read(fd, buffer, offset, length, position, cb)),
  write: (fd, buffer, offset, length) => done<number>((cb) => fs.write(fd, buffer, offset, length, null, cb)),
  close: (fd) => done<void>((cb) => fs.close(fd, (err) => cb(err, undefined))),
  rename: (from, to) => done<void>((cb) => fs.rename(from, to, (err) => cb(err, undefined))),
};

const now = <T>(fn: () => T): Promise<T> => {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
};

/** Made directly on the event loop: for small files on a local disk only. */
export const directOps: FdOps = {
  // Creating and renaming change the directory: they may wait for the file system's journal,
  // which other processes' writes hold, so these stay off the event loop.
  open: (path, flags, mode) => (flags === 'wx' ? poolOps.open(path, flags, mode) : now(() => fs.openSync(path, flags, mode))),
  read: (fd, buffer, offset, length, position) => now(() => fs.readSync(fd, buffer, offset, length, position)),
  write: (fd, buffer, offset, length) => now(() => fs.writeSync(fd, buffer, offset, length)),
  close: (fd) => now(() => fs.closeSync(fd)),
  rename: poolOps.rename,
};

/** Files up to this size are read and written with the direct calls on a local disk. */
export const DIRECT_MAX_BYTES = 256 * 1024;

// statfs f_type of file systems where a call may wait on a network or another process.
const REMOTE_FS_TYPES = new Set([
  0x6969, // NFS
  0x517b, // SMB
  0xff534d42, // CIFS
  0xfe534d42, // SMB2
  0x65735546, // FUSE
  0x00c36400, // Ceph
  0x5346414f, // AFS
  0x73757245, // Coda
  0x01021997, // 9P
  0x01161970, // GFS2
  0x7461636f, // OCFS2
  0x0bd00bd0, // Lustre
  0x47504653, // GPFS
  0x013111a8, // IBRIX
  0x19830326, // FhGFS/BeeGFS
]);

/** Whether `dir` (or its nearest existing ancestor) is on a local disk, where direct calls are cheap. */
export function onLocalDisk(dir: string): boolean {
  for (let at = dir; ; at = dirname(at)) {
    try {
      return !REMOTE_FS_TYPES.has(fs.statfsSync(at).type >>> 0);
    } catch {
      if (dirname(at) === at) return false;
    }
  }
}

/** Writes all of `chunk` at the file position (a short write is continued). */
export async function writeAll(ops: FdOps, fd: number, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) off += await ops.write(fd, chunk, off, chunk.length - off);
}

/**
 * Reads up to `length` bytes of a regular file at `position` into a buffer of exactly that size
 * (the start of `into`, when given). Returns the bytes read (fewer at EOF).
 */
export async function readAt(ops: FdOps, fd: number, position: number, length: number, into?: Buffer): Promise<Buffer> {
  const buf = into ? into.subarray(0, length) : Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = await ops.read(fd, buf, got, length - got, position + got);
    got += n;
    // A regular file's read comes up short only at its end: no second call to be told so.
    if (n < length - got + n) break;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/**
 * A file's bytes from `start` to `end` (inclusive; to its end when undefined) in pieces of up to
 * `pieceSize`, reading one piece ahead of the consumer (as a ReadStream does), then closing `fd`,
 * also when the consumer stops early, never asks at all and returns, or `signal` fires. A
 * ReadStream allocates a new buffer for every read; here, once `reuse` is on, the buffer of a piece
 * the consumer is done with (it asked for the next) is read into again, so a big file costs two.
 */
export class FilePieces implements AsyncIterableIterator<Buffer> {
  private position: number;
  private ahead?: Promise<{ buffer: Buffer; n: number }>;
  /** The buffer of the piece handed out last. */
  private lent?: Buffer;
  private readonly spare: Buffer[] = [];
  private finished = false;
  private closed = false;
  private readonly onAbort = (): void => void this.return();

  constructor(
    private readonly fd: number,
    start: number,
    private readonly end: number | undefined,
    private readonly pieceSize: number,
    private readonly reuse?: { readonly allowed: boolean },
    private readonly signal?: AbortSignal,
  ) {
    this.position = start;
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private read(): Promise<{ buffer: Buffer; n: number }> {
    const length = this.end === undefined ? this.pieceSize : Math.min(this.pieceSize, this.end + 1 - this.position);
    if (length <= 0) return Promise.resolve({ buffer: Buffer.alloc(0), n: 0 });
    const buffer = this.spare.pop() ?? Buffer.allocUnsafeSlow(this.pieceSize);
    const at = this.position;
    this.position += length; // moved on now: the read ahead starts where this one ends
    return poolOps.read(this.fd, buffer, 0, length, at).then((n) => {
      this.position -= length - n;
      return { buffer, n };
    });
  }

  async next(): Promise<IteratorResult<Buffer>> {
    if (this.finished) return { done: true, value: undefined };
    if (this.lent && this.reuse?.allowed) this.spare.push(this.lent);
    this.lent = undefined;
    let got: { buffer: Buffer; n: number };
    try {
      // Kept in `ahead` while it runs, so return() waits for it before closing the descriptor.
      this.ahead ??= this.read();
      got = await this.ahead;
    } catch (err) {
      this.ahead = undefined;
      this.close();
      throw err;
    }
    this.ahead = undefined;
    if (this.finished) return { done: true, value: undefined }; // returned while reading
    if (got.n === 0) {
      this.close();
      return { done: true, value: undefined };
    }
    this.lent = got.buffer;
    // On to the end as a ReadStream reads (a file still growing is read on).
    const ahead = this.read();
    ahead.catch(() => undefined); // reported by the next next(), or dropped by return()
    this.ahead = ahead;
    return { done: false, value: got.buffer.subarray(0, got.n) };
  }

  async return(): Promise<IteratorResult<Buffer>> {
    this.finished = true;
    // The descriptor stays open until a read in flight on it is over.
    const ahead = this.ahead;
    this.ahead = undefined;
    if (ahead) await ahead.catch(() => undefined);
    this.close();
    return { done: true, value: undefined };
  }

  private close(): void {
    this.finished = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    if (this.closed) return;
    this.closed = true;
    fs.close(this.fd, () => undefined);
  }
}

/** One piece as a byte source (an async iterable holding no resource, so nothing leaks if never read). */
export async function* onePiece(piece: Buffer): AsyncGenerator<Buffer> {
  if (piece.length > 0) yield piece;
}

// Read buffers for whole small files, shared by every read of the process, each back once its
// consumer is done with it (see SharedBuffers).
const smallReads = new SharedBuffers(64 * 1024 + 1);
export const SMALL_READ_CAPACITY = smallReads.capacity;

/** A buffer of at least `size` (≤ SMALL_READ_CAPACITY) bytes, for onePooledPiece. */
export function takeSmallReadBuffer(size: number): Buffer {
  return smallReads.take(size);
}

/** Gives back a buffer of takeSmallReadBuffer, its first `used` bytes (file contents) zeroed. */
export function giveSmallReadBuffer(buffer: Buffer, used: number): void {
  buffer.fill(0, 0, used);
  smallReads.give(buffer);
}

/**
 * `piece`, the start of `buffer` (takeSmallReadBuffer), as a byte source. Once the consumer has
 * asked past it and allowed reuse (PieceReuse.whenDone), the buffer goes back; a consumer that
 * stops early or never allows reuse may keep the piece, and the buffer is left to the GC.
 */
export async function* onePooledPiece(piece: Buffer, buffer: Buffer, reuse: PieceReuse): AsyncGenerator<Buffer> {
  if (piece.length > 0) yield piece;
  reuse.whenDone(() => giveSmallReadBuffer(buffer, piece.length));
}

// Temporary names: a random per-process prefix and a counter, unique across processes without
// drawing random bytes for every file.
const tempPrefix = `.cryptfs-partial-${randomBytes(4).toString('hex')}`;
let tempCounter = 0;

/** A fresh name for a hidden temporary file (`.cryptfs-partial-…`, skipped by listings). */
export function tempName(): string {
  return `${tempPrefix}${(tempCounter++).toString(36).padStart(4, '0')}`;
}

/**
 * The bytes of `source` in one buffer of the `declared` size, when they come to no more than that
 * (fewer: the size check after the write says so); otherwise `rest`, a source that yields every
 * byte (those taken already, then the remainder), to be written as any other. A source that hands
 * over all its bytes in one piece gives that piece itself, uncopied (a piece, once yielded, is the
 * consumer's: a local write lets its source refill pieces, WriteOptions.reusePieces, only once
 * this is over and it writes each piece before asking for the next).
 */
export async function gatherDeclared(source: ByteSource, declared: number): Promise<{ bytes: Buffer } | { rest: ByteSource }> {
  const it = source[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return { bytes: Buffer.alloc(0) };
  if (first.value.length === declared) {
    const second = await it.next();
    const whole = Buffer.from(first.value.buffer, first.value.byteOffset, first.value.byteLength);
    if (second.done) return { bytes: whole };
    return { rest: resumeIterator([whole, second.value], it) };
  }
  const bytes = Buffer.allocUnsafe(declared);
  let filled = 0;
  let pending: IteratorResult<Uint8Array> | undefined = first;
  for (;;) {
    const step = pending ?? (await it.next());
    pending = undefined;
    if (step.done) return { bytes: filled === declared ? bytes : bytes.subarray(0, filled) };
    const piece = step.value;
    if (filled + piece.length > declared) return { rest: resumeIterator([bytes.subarray(0, filled), piece], it) };
    bytes.set(piece, filled);
    filled += piece.length;
  }
}

