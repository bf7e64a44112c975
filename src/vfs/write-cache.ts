// The local cache of --vfs-cache-mode writes/full. It holds ciphertext only:
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
//
// A block not in the cache comes from the remote object the file was opened
// on (`fetch`, for the bytes below `sourceSize`), or is zeros (past the source:
// the file was extended). Writes are sealed and written before they are
// acknowledged, so a killed daemon loses nothing a program was told is written;
// the journal (journal.ts) says which files are dirty.
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { openChunk, sealChunk } from '../crypt/content-cipher.js';
import { CryptfsError, RemoteIOError } from '../errors.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import { subKey } from './cache-key.js';
import { Journal, type JournalEntry } from './journal.js';
import type { RangeOpener } from './read-ahead.js';
import { FilePool, type PooledFile } from './file-pool.js';
import { Mutex } from './sync.js';
import type { Metadata } from '../remote/metadata.js';

export const CACHE_BLOCK = 65536;
const FILE_MAGIC = Buffer.from('CRYPTFS-VFS-BLK1', 'latin1');
const FILE_HEADER = 64;
const NONCE_SIZE = 24;
const TAG_SIZE = 16;
const INDEX_SIZE = 8;
const SLOT_HEADER = 32;
const BOX_AT = SLOT_HEADER;
const PLAIN_AT = SLOT_HEADER + TAG_SIZE;
export const SLOT_SIZE = SLOT_HEADER + TAG_SIZE + INDEX_SIZE + CACHE_BLOCK;
/** Blocks fetched from the remote in one request when a missing block is needed. */
const FETCH_RUN = 64;
/** Blocks read per batch when streaming a cached file out (upload). */
const STREAM_BATCH = 16;
/** Plaintext blocks kept in memory per file, to spare re-reading a block being written in small pieces. */
const HOT_BLOCKS = 16;

/** A cache file failed authentication or is malformed. */
export class CacheCorruptError extends CryptfsError {}

/** The remote object behind a cached file no longer matches what the cache was filled from. */
export class SourceChangedError extends RemoteIOError {}

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

const unlimitedSpace: SpaceBudget = { reserve: async () => undefined };
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
      await fh.write(header, 0, FILE_HEADER, 0);
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
      randomBytes(NONCE_SIZE).copy(nonce);
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
          const r = await fh.write(out, written, total - written, offset + written);
          if (r.bytesWritten === 0) throw Object.assign(new Error('no space left on device (short write)'), { code: 'ENOSPC' });
          written += r.bytesWritten;
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
    const buf = Buffer.allocUnsafe(count * SLOT_SIZE);
    const { bytesRead } = await this.file.use((fh) => fh.read(buf, 0, buf.length, BlockFile.offset(first)));
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

export interface CacheItemInit {
  path: string;
  size: number;
  /** Bytes at the start of the file that come from the remote object (0 = none). */
  sourceSize: number;
  source?: { size: number; mtimeMs: number };
  mtime: Date;
  /** Metadata (mode, owner) the upload carries. */
  metadata?: Metadata;
}

/** One cached file: its size, where its blocks are, and the plaintext operations on it. */
export class CacheItem {
  path: string;
  size: number;
  sourceSize: number;
  source: { size: number; mtimeMs: number } | undefined;
  mtime: Date;
  /** Set when mtime was given explicitly (utimens), ms since the epoch. */
  mtimeSetAt: number | undefined;
  /** Metadata (mode, owner) the upload carries: journaled, so chmod on a dirty file survives a crash. */
  metadata: Metadata | undefined;
  /**
   * Bumped by every change of contents or size, when it is asked for (before it waits for the
   * lock) and again when it is done: an upload that read the file meanwhile sees it changed.
   */
  generation = 0;
  lastUsed = Date.now();
  /** Whether a journal record lists this file as dirty. */
  journaled = false;
  /** Open for writing with changes not yet closed or fsynced (journaled, for crash recovery). */
  writing = false;
  /** Reads bytes of the source object; the VFS points it at the file's current remote path. */
  fetch: RangeOpener | undefined;
  readonly present = new Set<number>();
  private readonly hot = new Map<number, Buffer>();
  private readonly lock = new Mutex();
  private removed = false;

  constructor(
    readonly id: string,
    readonly block: BlockFile,
    init: CacheItemInit,
  ) {
    this.path = init.path;
    this.size = init.size;
    this.sourceSize = init.sourceSize;
    this.source = init.source;
    this.mtime = init.mtime;
    this.metadata = init.metadata;
  }

  /** Approximate bytes on local disk. */
  get diskBytes(): number {
    return this.present.size * SLOT_SIZE;
  }

  /** Whether every byte is local (nothing left to fetch from the source). */
  get complete(): boolean {
    if (this.sourceSize === 0) return true;
    const n = Math.ceil(Math.min(this.sourceSize, this.size) / CACHE_BLOCK);
    for (let i = 0; i < n; i++) if (!this.present.has(i)) return false;
    return true;
  }

  journalEntry(): JournalEntry {
    return {
      id: this.id,
      path: this.path,
      size: this.size,
      mtimeMs: this.mtime.getTime(),
      mtimeSetAtMs: this.mtimeSetAt,
      source: this.sourceSize > 0 ? this.source : undefined,
      sourceBytes: this.sourceSize > 0 ? this.sourceSize : undefined,
      writing: this.writing || undefined,
      metadata: this.metadata,
    };
  }

  async read(offset: number, length: number): Promise<Buffer> {
    return this.lock.run(async () => {
      this.lastUsed = Date.now();
      const end = Math.min(this.size, offset + length);
      if (end <= offset) return Buffer.alloc(0);
      const first = Math.floor(offset / CACHE_BLOCK);
      const last = Math.floor((end - 1) / CACHE_BLOCK);
      const blocks = await this.loadBlocks(first, last - first + 1);
      const out = Buffer.allocUnsafe(end - offset);
      let at = 0;
      for (let k = 0; k < blocks.length; k++) {
        const bstart = (first + k) * CACHE_BLOCK;
        const from = Math.max(offset, bstart) - bstart;
        const to = Math.min(end, bstart + CACHE_BLOCK) - bstart;
        blocks[k].copy(out, at, from, to);
        at += to - from;
      }
      return out;
    });
  }

  /** Writes `data` at `offset` (at the end of the file, as it is when the write runs, with `append`). */
  async write(offset: number, data: Buffer, append = false): Promise<void> {
    if (data.length === 0) return;
    this.generation++;
    return this.lock.run(async () => {
      this.lastUsed = Date.now();
      if (append) offset = this.size;
      const end = offset + data.length;
      const newSize = Math.max(this.size, end);
      const first = Math.floor(offset / CACHE_BLOCK);
      const last = Math.floor((end - 1) / CACHE_BLOCK);
      const blocks: Buffer[] = [];
      for (let i = first; i <= last; i++) {
        const bstart = i * CACHE_BLOCK;
        const newLen = Math.min(CACHE_BLOCK, newSize - bstart);
        const wStart = Math.max(offset, bstart) - bstart;
        const wEnd = Math.min(end, bstart + CACHE_BLOCK) - bstart;
        if (wStart === 0 && wEnd >= newLen) {
          // The write replaces the whole block.
          blocks.push(data.subarray(bstart - offset, bstart - offset + newLen));
          this.hot.delete(i);
          continue;
        }
        const [old] = await this.loadBlocks(i, 1);
        const buf = Buffer.alloc(CACHE_BLOCK);
        old.copy(buf);
        data.copy(buf, wStart, bstart + wStart - offset, bstart + wEnd - offset);
        blocks.push(buf.subarray(0, newLen));
        this.setHot(i, buf);
      }
      await this.block.writeBlocks(first, blocks);
      for (let i = first; i <= last; i++) this.present.add(i);
      this.size = newSize;
      this.generation++;
    });
  }

  /**
   * fallocate(2) modes 0 and KEEP_SIZE: makes sure the cache disk has room for
   * the slots of the range not cached yet (CacheFullError otherwise) and, without
   * `keepSize`, grows the file to cover it (the new bytes read as zeros, as after
   * a growing truncate). The room is checked, not held: the block file stays
   * sparse, so a later write can still find the disk full. Resolves true when
   * the size changed.
   */
  async allocate(offset: number, length: number, keepSize: boolean): Promise<boolean> {
    this.generation++;
    return this.lock.run(async () => {
      this.lastUsed = Date.now();
      const end = offset + length;
      let missing = 0;
      for (let i = Math.floor(offset / CACHE_BLOCK); i * CACHE_BLOCK < end; i++) if (!this.present.has(i)) missing++;
      if (missing > 0) await this.block.reserveSlots(missing);
      if (keepSize || end <= this.size) return false;
      this.size = end;
      this.generation++;
      return true;
    });
  }

  async truncate(newSize: number): Promise<void> {
    this.generation++;
    return this.lock.run(async () => {
      this.lastUsed = Date.now();
      if (newSize === this.size) return;
      if (newSize > this.size) {
        // Growing: the new bytes are zeros, which is what missing data past the source reads as.
        this.size = newSize;
        this.generation++;
        return;
      }
      const keep = Math.ceil(newSize / CACHE_BLOCK);
      const tail = newSize % CACHE_BLOCK;
      let lastBlock: Buffer | undefined;
      if (tail !== 0 && (this.present.has(keep - 1) || (keep - 1) * CACHE_BLOCK < this.sourceSize)) {
        [lastBlock] = await this.loadBlocks(keep - 1, 1);
      }
      for (const i of [...this.present]) if (i >= keep) this.present.delete(i);
      for (const i of [...this.hot.keys()]) if (i >= keep) this.hot.delete(i);
      this.sourceSize = Math.min(this.sourceSize, newSize);
      await this.block.truncateBlocks(keep);
      if (lastBlock) {
        // Reseal the cut block so that growing again later reads zeros, not the old bytes.
        const buf = Buffer.alloc(CACHE_BLOCK);
        lastBlock.copy(buf, 0, 0, tail);
        await this.block.writeBlocks(keep - 1, [buf.subarray(0, tail)]);
        this.present.add(keep - 1);
        this.setHot(keep - 1, buf);
      }
      this.size = newSize;
      this.generation++;
    });
  }

  /** Fetches every block still missing from the source, so the file no longer depends on it. */
  async fillFromSource(): Promise<void> {
    if (this.complete) {
      this.sourceSize = 0;
      return;
    }
    await this.lock.run(async () => {
      const n = Math.ceil(Math.min(this.sourceSize, this.size) / CACHE_BLOCK);
      for (let i = 0; i < n; i++) {
        if (!this.present.has(i)) await this.fetchRun(i, FETCH_RUN, true);
      }
      this.sourceSize = 0;
    });
  }

  /** The plaintext, `size` bytes, for an upload. Changes made meanwhile show up in `generation`. */
  async *stream(size: number): AsyncGenerator<Buffer> {
    for (let first = 0; first * CACHE_BLOCK < size; first += STREAM_BATCH) {
      const count = Math.min(STREAM_BATCH, Math.ceil(size / CACHE_BLOCK) - first);
      const piece = await this.lock.run(async () => {
        const blocks = await this.loadBlocks(first, count);
        const want = Math.min(size, (first + count) * CACHE_BLOCK) - first * CACHE_BLOCK;
        const out = Buffer.alloc(want);
        let at = 0;
        for (const b of blocks) {
          const n = Math.min(b.length, want - at);
          b.copy(out, at, 0, n);
          at += CACHE_BLOCK;
          if (at >= want) break;
        }
        return out;
      });
      yield piece;
    }
  }

  /** Lets go of the plaintext blocks kept in memory (the file is no longer in use). */
  dropHot(): void {
    this.hot.clear();
  }

  /** Rebuilds which blocks are present from the file itself (after a restart). */
  async rescan(): Promise<{ end: number; mtime: Date; torn: number[] }> {
    const r = await this.block.scan();
    this.present.clear();
    for (const i of r.present) this.present.add(i);
    return { end: r.end, mtime: r.mtime, torn: r.torn };
  }

  /** Waits for running operations, then closes the file (the item is unusable afterwards). */
  async close(): Promise<void> {
    await this.lock.run(async () => {
      this.removed = true;
      this.hot.clear();
      await this.block.close();
    });
  }

  get closed(): boolean {
    return this.removed;
  }

  // ---- internals, called with the lock held ----

  private blockLen(i: number): number {
    return Math.max(0, Math.min(CACHE_BLOCK, this.size - i * CACHE_BLOCK));
  }

  private setHot(i: number, buf: Buffer): void {
    this.hot.delete(i);
    this.hot.set(i, buf);
    if (this.hot.size > HOT_BLOCKS) this.hot.delete(this.hot.keys().next().value!);
  }

  /** Blocks first.., each exactly blockLen(i) bytes of plaintext. */
  private async loadBlocks(first: number, count: number): Promise<Buffer[]> {
    if (this.removed) throw new CryptfsError(`cache file of ${logPath(this.path)} is closed`);
    const out: Buffer[] = new Array(count);
    let k = 0;
    while (k < count) {
      const i = first + k;
      const len = this.blockLen(i);
      const hot = this.hot.get(i);
      if (hot) {
        out[k++] = hot.subarray(0, len);
        continue;
      }
      if (this.present.has(i)) {
        let run = 1;
        while (k + run < count && this.present.has(i + run) && !this.hot.has(i + run)) run++;
        const blocks = await this.block.readBlocks(i, run);
        for (let r = 0; r < run; r++) out[k + r] = this.fit(blocks[r], this.blockLen(i + r));
        k += run;
        continue;
      }
      if (i * CACHE_BLOCK < this.sourceSize) {
        const blocks = await this.fetchRun(i, Math.max(count - k, 16), false);
        for (let r = 0; r < blocks.length && k + r < count; r++) out[k + r] = this.fit(blocks[r], this.blockLen(i + r));
        k += Math.min(blocks.length, count - k);
        continue;
      }
      out[k++] = Buffer.alloc(len);
    }
    return out;
  }

  /** A block's bytes resized to `len`: zeros past what was stored. */
  private fit(data: Buffer | undefined, len: number): Buffer {
    if (data && data.length === len) return data;
    const out = Buffer.alloc(len);
    if (data) data.copy(out, 0, 0, Math.min(len, data.length));
    return out;
  }

  /**
   * Fetches up to `max` missing source blocks from block `first` in one request,
   * caching them. With `mustStore` false (a read), a full cache disk only means
   * the blocks are not kept.
   */
  private async fetchRun(first: number, max: number, mustStore: boolean): Promise<Buffer[]> {
    if (!this.fetch) throw new SourceChangedError(`${logPath(this.path)}: no source to read missing cache blocks from`);
    let run = 1;
    while (run < max && !this.present.has(first + run) && (first + run) * CACHE_BLOCK < this.sourceSize) run++;
    const start = first * CACHE_BLOCK;
    let end = Math.min(this.sourceSize, (first + run) * CACHE_BLOCK);
    const parts: Buffer[] = [];
    let got = 0;
    try {
      for await (const p of await this.fetch(start, end - start)) {
        parts.push(Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength));
        got += p.length;
        if (got >= end - start) break;
      }
    } catch (err) {
      // A damaged chunk further on fails only when that block itself is wanted.
      const whole = Math.floor(got / CACHE_BLOCK);
      if (whole === 0) throw err;
      run = whole;
      end = start + whole * CACHE_BLOCK;
    }
    if (got < end - start) {
      throw new SourceChangedError(
        `${logPath(this.path)}: the remote object is shorter than when it was opened (${start + got} < ${end} bytes)`,
      );
    }
    const all = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    const blocks: Buffer[] = [];
    for (let r = 0; r < run; r++) {
      const from = r * CACHE_BLOCK;
      blocks.push(all.subarray(from, Math.min(end - start, from + CACHE_BLOCK)));
    }
    try {
      await this.block.writeBlocks(first, blocks);
    } catch (err) {
      if (mustStore || !(err instanceof CacheFullError)) throw err;
      log.debug(`${logPath(this.path)}: cache disk full: blocks ${first}..${first + run - 1} read without caching`);
      return blocks;
    }
    for (let r = 0; r < run; r++) this.present.add(first + r);
    return blocks;
  }
}

/** The cache directory of one remote: lock, journal, block files. */
export class CacheStore {
  /** Descriptors of block files, bounded: pending files do not each hold one. */
  readonly pool: FilePool;

  private constructor(
    readonly dir: string,
    private readonly dataDir: string,
    private readonly key: Buffer,
    readonly journal: Journal,
    private readonly lockFile: string,
    readonly space: SpaceBudget,
    maxOpenFiles: number,
  ) {
    this.pool = new FilePool(maxOpenFiles);
  }

  /**
   * Opens the cache in `dir` (made if missing), taking its lock; returns the
   * dirty files the journal lists. Block files the journal does not list are
   * leftovers of clean cache from an earlier run and are removed — unless the
   * journal could not be read whole: then they are moved aside with it, never
   * deleted, since they may hold changes the unreadable records described.
   */
  static async open(
    dir: string,
    key: Buffer,
    options: { space?: SpaceBudget; maxOpenFiles?: number } = {},
  ): Promise<{ store: CacheStore; dirty: JournalEntry[] }> {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const dataDir = join(dir, 'data');
    await fsp.mkdir(dataDir, { recursive: true, mode: 0o700 });
    const lockFile = join(dir, 'lock');
    await takeLock(lockFile);
    let opened: Awaited<ReturnType<typeof Journal.open>>;
    try {
      opened = await Journal.open(dir, key);
    } catch (err) {
      await fsp.rm(lockFile, { force: true });
      throw err;
    }
    const { journal, entries } = opened;
    const unlisted = (await fsp.readdir(dataDir)).filter((name) => !entries.has(name));
    if (opened.complete) {
      for (const name of unlisted) await fsp.rm(join(dataDir, name), { force: true });
    } else if (unlisted.length > 0) {
      const aside = join(dir, `unreadable-${Date.now()}`);
      await fsp.mkdir(join(aside, 'data'), { recursive: true, mode: 0o700 });
      for (const name of unlisted) await fsp.rename(join(dataDir, name), join(aside, 'data', name));
      if (opened.setAside) await fsp.rename(opened.setAside, join(aside, 'journal')).catch(() => undefined);
      log.error(
        `vfs cache: ${unlisted.length} cached file(s) not described by a readable journal record were moved ` +
          `to ${aside} (not deleted): mount the remote they belong to with this cache to recover them`,
      );
    }
    const store = new CacheStore(dir, dataDir, key, journal, lockFile, options.space ?? unlimitedSpace, options.maxOpenFiles ?? 128);
    return { store, dirty: [...entries.values()] };
  }

  async create(init: CacheItemInit): Promise<CacheItem> {
    const id = randomBytes(16).toString('hex');
    const block = await BlockFile.create(join(this.dataDir, id), subKey(this.key, `block:${id}`), this.pool, this.space);
    return new CacheItem(id, block, init);
  }

  /** Reopens the block file of a journaled dirty file. */
  async recover(entry: JournalEntry): Promise<CacheItem> {
    const block = await BlockFile.open(join(this.dataDir, entry.id), subKey(this.key, `block:${entry.id}`), this.pool, this.space);
    const item = new CacheItem(entry.id, block, {
      path: entry.path,
      size: entry.size,
      sourceSize: entry.source ? Math.min(entry.sourceBytes ?? entry.size, entry.source.size) : 0,
      source: entry.source,
      mtime: new Date(entry.mtimeMs),
      metadata: entry.metadata,
    });
    item.journaled = true;
    item.writing = entry.writing === true;
    item.mtimeSetAt = entry.mtimeSetAtMs;
    const { end, mtime, torn } = await item.rescan();
    if (torn.length > 0) {
      log.notice(`${logPath(entry.path)}: ${torn.length} cache block(s) cut short by the unclean stop are dropped`);
    }
    // Writes after the last size change show only in the block file.
    item.size = Math.max(item.size, end);
    if (entry.mtimeSetAtMs === undefined || mtime.getTime() > entry.mtimeSetAtMs + 1000) item.mtime = mtime;
    return item;
  }

  /** Records the item as dirty (or its new state: path, size, mtime). */
  async markDirty(item: CacheItem): Promise<void> {
    item.journaled = true;
    await this.journal.put(item.journalEntry());
  }

  async markClean(item: CacheItem): Promise<void> {
    if (!item.journaled) return;
    item.journaled = false;
    await this.journal.remove(item.id);
  }

  /** Closes and deletes an item's block file. */
  async remove(item: CacheItem): Promise<void> {
    await item.close();
    await fsp.rm(item.block.path, { force: true });
    await this.markClean(item);
  }

  async close(): Promise<void> {
    await this.journal.close();
    await fsp.rm(this.lockFile, { force: true });
  }
}

async function takeLock(lockFile: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fsp.writeFile(lockFile, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number((await fsp.readFile(lockFile, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
      throw new CryptfsError(
        `the VFS cache ${lockFile.replace(/\/lock$/, '')} is in use by process ${pid} (another mount of the same remote)`,
      );
    }
    log.info(`vfs cache: removing stale lock of process ${pid || '?'}`);
    await fsp.rm(lockFile, { force: true });
  }
  throw new CryptfsError(`cannot take the VFS cache lock ${lockFile}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
