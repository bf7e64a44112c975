// Block files of the VFS cache (--vfs-cache-mode writes/full). They hold ciphertext only:
// no plaintext byte of a file is ever written to local disk.
//
// Each cached file is a block file under <cache dir>/data/<random id> (the id
// says nothing about the name). Block i of the file (64 KiB of plaintext, the
// crypt chunk size) lives in slot i:
//
//   file:  "CRYPTFS-VFS-BLK1" ‖ 48 zero bytes ‖ slot 0 ‖ slot 1 ‖ ...
//   slot:  nonce (24) ‖ length u32 LE ‖ 0 u32 ‖ secretbox(block index u64 LE ‖ data)
//          padded to 32 + 16 + 8 + 65536 bytes
//
// sealed with XSalsa20-Poly1305 (libsodium secretbox) under a per-file key
// HMAC(cache key, id), with a fresh random nonce every time a slot is
// (re)written, so no nonce is ever reused. The block index inside the box ties
// a slot to its position, the per-file key ties it to its file. A slot of zero
// bytes (a hole of the sparse file) is a block not in the cache.
import { readSync, writeSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { randomNonce } from '../crypt/nonce.js';
import { openChunk, sealChunk } from '../crypt/secretbox.js';
import { CryptfsError } from '../errors.js';
import { FilePool, type PooledFile } from './file-pool.js';
export const CACHE_BLOCK = 65536;
const FILE_MAGIC = Buffer.from('CRYPTFS-VFS-BLK1', 'latin1');
const FILE_HEADER = 64;
/**
 * Writes up to this size go straight from the event loop (writeSync into the page cache, a few µs);
 * larger ones go to the thread pool. A thread-pool round trip costs more than such a write, and a
 * `tar -x` of small files into the mount made ~20 of them per file, each waiting its turn on a busy machine.
 */
export const SYNC_WRITE_MAX = 64 * 1024;
const NONCE_SIZE = 24;
const TAG_SIZE = 16;
const INDEX_SIZE = 8;
const SLOT_HEADER = 32;
const BOX_AT = SLOT_HEADER;
const PLAIN_AT = SLOT_HEADER + TAG_SIZE;
export const SLOT_SIZE = SLOT_HEADER + TAG_SIZE + INDEX_SIZE + CACHE_BLOCK;

/** A cache file failed authentication or is malformed. */
export class CacheCorruptError extends CryptfsError {}


function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** The cache disk has no room left for a write (answered ENOSPC at the mount). */
export class CacheFullError extends CryptfsError {}

/** Room the cache may still take on its disk; `reserve` throws CacheFullError when there is none. */
export interface SpaceBudget {
  reserve(bytes: number): Promise<void>;
}

/** No limit but the disk itself. */
export const unlimitedSpace: SpaceBudget = { reserve: async () => undefined };
/** For block files opened outside a CacheStore (tests, tools). */
const sharedPool = new FilePool();

/** One block file: sealed slots read and written by index. */
export class BlockFile {
  /** Bytes in the file as far as this process knows (a failed write past it is cut back). */
  private length: number;

  private constructor(
    readonly path: string,
    private readonly file: PooledFile,
    private readonly key: Buffer,
    private readonly space: SpaceBudget,
    length: number,
  ) {
    this.length = length;
  }

  static async create(path: string, key: Buffer, pool: FilePool = sharedPool, space: SpaceBudget = unlimitedSpace): Promise<BlockFile> {
    await space.reserve(FILE_HEADER);
    const fh = await fsp.open(path, 'wx+', 0o600);
    try {
      const header = Buffer.alloc(FILE_HEADER);
      FILE_MAGIC.copy(header);
      if (writeSync(fh.fd, header, 0, FILE_HEADER, 0) !== FILE_HEADER) throw new Error(`${path}: short write of the header`);
    } catch (err) {
      await fh.close().catch(() => undefined);
      await fsp.rm(path, { force: true }).catch(() => undefined);
      throw err;
    }
    return new BlockFile(path, pool.add(path, fh), key, space, FILE_HEADER);
  }

  static async open(path: string, key: Buffer, pool: FilePool = sharedPool, space: SpaceBudget = unlimitedSpace): Promise<BlockFile> {
    const fh = await fsp.open(path, 'r+');
    let size: number;
    try {
      const header = Buffer.alloc(FILE_HEADER);
      const { bytesRead } = await fh.read(header, 0, FILE_HEADER, 0);
      if (bytesRead < FILE_HEADER || !header.subarray(0, FILE_MAGIC.length).equals(FILE_MAGIC)) {
        throw new CacheCorruptError(`${path}: not a cryptfs cache file`);
      }
      size = (await fh.stat()).size;
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    return new BlockFile(path, pool.add(path, fh), key, space, size);
  }

  private static offset(index: number): number {
    return FILE_HEADER + index * SLOT_SIZE;
  }

  /** Seals blocks first, first+1, ... (each at most CACHE_BLOCK bytes) and writes them in one go. */
  async writeBlocks(first: number, blocks: Uint8Array[]): Promise<void> {
    if (blocks.length === 0) return;
    const last = blocks[blocks.length - 1];
    const total = (blocks.length - 1) * SLOT_SIZE + PLAIN_AT + INDEX_SIZE + last.length;
    // Room first: a write the disk cannot take must fail before it tears a slot.
    await this.space.reserve(total);
    const out = Buffer.allocUnsafe(total);
    for (let k = 0; k < blocks.length; k++) {
      const data = blocks[k];
      if (data.length > CACHE_BLOCK) throw new RangeError(`block of ${data.length} bytes`);
      const at = k * SLOT_SIZE;
      const nonce = out.subarray(at, at + NONCE_SIZE);
      randomNonce().copy(nonce);
      out.writeUInt32LE(data.length, at + NONCE_SIZE);
      out.writeUInt32LE(0, at + NONCE_SIZE + 4);
      const plainEnd = at + PLAIN_AT + INDEX_SIZE + data.length;
      out.writeBigUInt64LE(BigInt(first + k), at + PLAIN_AT);
      out.set(data, at + PLAIN_AT + INDEX_SIZE);
      // In place: the box (tag ‖ ciphertext) starts 16 bytes before the plaintext.
      sealChunk(out.subarray(at + BOX_AT, plainEnd), out.subarray(at + PLAIN_AT, plainEnd), nonce, this.key);
      // Never let uninitialised memory reach the disk.
      if (k < blocks.length - 1) out.fill(0, plainEnd, at + SLOT_SIZE);
    }
    const offset = BlockFile.offset(first);
    await this.file.use(async (fh) => {
      let written = 0;
      try {
        while (written < total) {
          const bytesWritten =
            total <= SYNC_WRITE_MAX
              ? writeSync(fh.fd, out, written, total - written, offset + written)
              : (await fh.write(out, written, total - written, offset + written)).bytesWritten;
          if (bytesWritten === 0) throw Object.assign(new Error('no space left on device (short write)'), { code: 'ENOSPC' });
          written += bytesWritten;
        }
      } catch (err) {
        // Appending past the end: cut the file back so no torn slot stays behind.
        if (offset >= this.length) await fh.truncate(this.length).catch(() => undefined);
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOSPC' || code === 'EDQUOT') {
          throw new CacheFullError(`the cache disk is full (${this.path})`, { cause: err });
        }
        throw err;
      }
    });
    this.length = Math.max(this.length, offset + total);
  }

  /** Blocks first..first+count-1: each its plaintext, or undefined when not in the file. */
  async readBlocks(first: number, count: number): Promise<Array<Buffer | undefined>> {
    // No further than the file's end: a small file's one block is a few KiB, not a whole slot.
    const position = BlockFile.offset(first);
    const buf = Buffer.allocUnsafe(Math.max(0, Math.min(count * SLOT_SIZE, this.length - position)));
    const bytesRead =
      buf.length === 0
        ? 0
        : await this.file.use(async (fh) =>
            // Small reads on the event loop, as small writes: a thread-pool round trip costs more.
            buf.length <= SYNC_WRITE_MAX ? readSync(fh.fd, buf, 0, buf.length, position) : (await fh.read(buf, 0, buf.length, position)).bytesRead,
          );
    const out: Array<Buffer | undefined> = [];
    for (let k = 0; k < count; k++) {
      const at = k * SLOT_SIZE;
      if (at + SLOT_HEADER > bytesRead) {
        out.push(undefined);
        continue;
      }
      const nonce = buf.subarray(at, at + NONCE_SIZE);
      const len = buf.readUInt32LE(at + NONCE_SIZE);
      if (len === 0 && isZero(nonce)) {
        out.push(undefined);
        continue;
      }
      const plainEnd = at + PLAIN_AT + INDEX_SIZE + len;
      if (len > CACHE_BLOCK || plainEnd > bytesRead) {
        throw new CacheCorruptError(`${this.path}: block ${first + k} is truncated`);
      }
      const plain = buf.subarray(at + PLAIN_AT, plainEnd);
      if (!openChunk(plain, buf.subarray(at + BOX_AT, plainEnd), nonce, this.key)) {
        throw new CacheCorruptError(`${this.path}: block ${first + k} failed authentication`);
      }
      if (plain.readBigUInt64LE(0) !== BigInt(first + k)) {
        throw new CacheCorruptError(`${this.path}: block ${first + k} is out of place`);
      }
      out.push(plain.subarray(INDEX_SIZE));
    }
    return out;
  }

  /** Checks that the disk has room for `count` more slots (CacheFullError when not); writes nothing. */
  async reserveSlots(count: number): Promise<void> {
    await this.space.reserve(count * SLOT_SIZE);
  }

  /** Keeps slots 0..count-1 only. */
  async truncateBlocks(count: number): Promise<void> {
    const size = BlockFile.offset(count);
    await this.file.use((fh) => fh.truncate(size));
    this.length = Math.min(this.length, size);
  }

  /**
   * Which slots hold a whole sealed block, and where the furthest one ends
   * (bytes): for recovery. A slot cut short (a write torn by a crash or a full
   * disk) is not counted, so it reads as missing rather than failing for ever.
   */
  async scan(): Promise<{ present: Set<number>; end: number; mtime: Date; torn: number[] }> {
    return this.file.use(async (fh) => {
      const st = await fh.stat();
      const slots = Math.ceil(Math.max(0, st.size - FILE_HEADER) / SLOT_SIZE);
      const present = new Set<number>();
      const torn: number[] = [];
      let end = 0;
      const header = Buffer.alloc(SLOT_HEADER);
      for (let i = 0; i < slots; i++) {
        const { bytesRead } = await fh.read(header, 0, SLOT_HEADER, BlockFile.offset(i));
        if (bytesRead < SLOT_HEADER) break;
        const len = header.readUInt32LE(NONCE_SIZE);
        if (len === 0 && isZero(header.subarray(0, NONCE_SIZE))) continue;
        if (len > CACHE_BLOCK || BlockFile.offset(i) + PLAIN_AT + INDEX_SIZE + len > st.size) {
          torn.push(i);
          continue;
        }
        present.add(i);
        end = Math.max(end, i * CACHE_BLOCK + len);
      }
      return { present, end, mtime: st.mtime, torn };
    });
  }

  async sync(): Promise<void> {
    await this.file.use((fh) => fh.datasync());
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}
