// Plain-fd file I/O for the local remote's hot paths. Copying many small files is dominated by
// thread-pool round trips, not bytes: each fs.promises call is one round trip plus a FileHandle
// (tracked for close-on-GC), and a ReadStream allocates a 1 MiB buffer per read even for a 4 KiB
// file. These helpers use the callback API on raw descriptors and read a small file in one call.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { promisify } from 'node:util';

export const openFd = promisify(fs.open) as (path: string, flags: string | number, mode?: number) => Promise<number>;
export const closeFd = promisify(fs.close) as (fd: number) => Promise<void>;
export const renamePath = promisify(fs.rename) as (from: string, to: string) => Promise<void>;
// Not util.promisify: fs.read and fs.write promisify to { bytesRead | bytesWritten, buffer } objects.
function readFd(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buffer, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}
function writeFd(fd: number, buffer: Uint8Array, offset: number, length: number): Promise<number> {
  return new Promise((resolve, reject) => fs.write(fd, buffer, offset, length, null, (err, n) => (err ? reject(err) : resolve(n))));
}

/** Writes all of `chunk` at the file position (a short write is continued). */
export async function writeAll(fd: number, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) off += await writeFd(fd, chunk, off, chunk.length - off);
}

/**
 * Reads up to `length` bytes at `position` with one read call into a buffer of exactly that size.
 * Returns the bytes read (fewer at EOF).
 */
export async function readAt(fd: number, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = await readFd(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** One piece as a byte source (an async iterable holding no resource, so nothing leaks if never read). */
export async function* onePiece(piece: Buffer): AsyncGenerator<Buffer> {
  if (piece.length > 0) yield piece;
}

// Temporary names: a random per-process prefix and a counter, unique across processes without
// drawing random bytes for every file.
const tempPrefix = `.cryptfs-partial-${randomBytes(4).toString('hex')}`;
let tempCounter = 0;

/** A fresh name for a hidden temporary file (`.cryptfs-partial-…`, skipped by listings). */
export function tempName(): string {
  return `${tempPrefix}${(tempCounter++).toString(36).padStart(4, '0')}`;
}
