// One cached file of the VFS cache: its size, which blocks are in its block file
// (block-file.ts), and the plaintext operations on it. A block not in the cache
// comes from the remote object the file was opened on (`fetch`, for the bytes
// below `sourceSize`), or is zeros (past the source: the file was extended).
// Writes are sealed and written before they are acknowledged, so a killed
// daemon loses nothing a program was told is written; the journal (journal.ts)
// says which files are dirty.
import { CryptfsError, RemoteIOError } from '../errors.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import type { JournalEntry } from './journal.js';
import type { RangeOpener } from './read-ahead.js';
import { Mutex } from './sync.js';
import type { Metadata } from '../remote/metadata.js';
import { BlockFile, CACHE_BLOCK, CacheFullError, SLOT_SIZE } from './block-file.js';
/** Blocks fetched from the remote in one request when a missing block is needed. */
const FETCH_RUN = 64;
/** Blocks read per batch when streaming a cached file out (upload). */
const STREAM_BATCH = 16;
/** Plaintext blocks kept in memory per file, to spare re-reading a block being written in small pieces. */
const HOT_BLOCKS = 16;

/** The remote object behind a cached file no longer matches what the cache was filled from. */
export class SourceChangedError extends RemoteIOError {}

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
  /** Set when mtime was given explicitly (utimens), ms since the epoch (wall clock: compared with the block file's mtime on recovery). */
  mtimeSetAt: number | undefined;
  /** Metadata (mode, owner) the upload carries: journaled, so chmod on a dirty file survives a crash. */
  metadata: Metadata | undefined;
  /**
   * Bumped by every change of contents or size, when it is asked for (before it waits for the
   * lock) and again when it is done: an upload that read the file meanwhile sees it changed.
   */
  generation = 0;
  /** When it was last read or changed (the VFS clock's ms): eviction drops the least recently used first. */
  lastUsed: number;
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
    /** The VFS clock's now() (clock.ts), for lastUsed. */
    private readonly now: () => number = Date.now,
  ) {
    this.lastUsed = now();
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
      this.lastUsed = this.now();
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
      this.lastUsed = this.now();
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
        // A hot block is changed in place: it is ours, whole, and zero past the block's end.
        let buf = this.hot.get(i);
        if (!buf) {
          const [old] = await this.loadBlocks(i, 1);
          buf = Buffer.alloc(CACHE_BLOCK);
          old.copy(buf);
        }
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
      this.lastUsed = this.now();
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
      this.lastUsed = this.now();
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
