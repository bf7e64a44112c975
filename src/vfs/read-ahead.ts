// Reads of a remote object through one open stream with read-ahead. While the
// reads are sequential (the kernel's read requests may arrive a little out of
// order) they are served from one open-ended stream that is pulled ahead of the
// reader by up to a window that doubles with every sequential read, up to the
// configured read-ahead. A read far from the stream is served by its own ranged
// request (random access never downloads the whole object); a read that
// continues where such a read ended reopens the stream there (a seek).
import type { ByteSource } from '../remote/remote.js';

/** Opens the object at `offset` for `length` bytes (undefined = to the end). */
export type RangeOpener = (offset: number, length?: number) => Promise<ByteSource>;

interface Piece {
  start: number;
  data: Buffer;
}

interface Waiter {
  until: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const MIN_WINDOW = 1024 * 1024;
/** Reads up to this far ahead of the stream still count as sequential (out-of-order kernel requests). */
const REORDER_SLACK = 8 * 1024 * 1024;
/** Data kept behind the last read, for requests that arrive late. */
const KEEP_BEHIND = 4 * 1024 * 1024;

class StaleStreamError extends Error {
  constructor() {
    super('stream reopened');
  }
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export class StreamingReader {
  private iterator: AsyncIterator<Uint8Array> | undefined;
  /** A stream is open or opening (set synchronously, so reads issued together see it). */
  private active = false;
  private opening: Promise<AsyncIterator<Uint8Array>> | undefined;
  /** Bumped on every reopen/close; a pump of an older stream stops. */
  private generation = 0;
  private pieces: Piece[] = [];
  private bufStart = 0;
  private streamPos = 0;
  private eof = false;
  private error: unknown = undefined;
  private target = 0;
  private pumping = false;
  private waiters: Waiter[] = [];
  private window = MIN_WINDOW;
  private lastEnd = -1;
  private closed = false;
  /** Statistics, for tests and debug logs. */
  readonly stats = { streamOpens: 0, rangedReads: 0 };

  constructor(
    private readonly open: RangeOpener,
    /** Object size if known (reads are clamped to it), else -1. */
    private readonly size: number,
    private readonly maxWindow: number,
  ) {}

  async read(offset: number, length: number): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.readOnce(offset, length);
      } catch (err) {
        // Another read moved the stream under this one: serve it again.
        if (!(err instanceof StaleStreamError) || attempt >= 3 || this.closed) throw err;
      }
    }
  }

  private async readOnce(offset: number, length: number): Promise<Buffer> {
    if (this.closed) throw new Error('reader closed');
    if (this.size >= 0) length = Math.max(0, Math.min(length, this.size - offset));
    if (length <= 0) return Buffer.alloc(0);
    const end = offset + length;

    const inStream =
      this.active &&
      this.error === undefined &&
      offset >= this.bufStart &&
      offset <= this.streamPos + Math.max(this.window, REORDER_SLACK);
    if (!inStream) {
      const sequential = (this.lastEnd < 0 && offset === 0) || offset === this.lastEnd;
      if (!sequential) {
        this.lastEnd = end;
        return this.readRange(offset, length);
      }
      this.reopen(offset);
    }
    this.lastEnd = Math.max(this.lastEnd, end);
    await this.fill(end);
    const out = this.copyOut(offset, end);
    this.window = Math.min(Math.max(this.maxWindow, MIN_WINDOW), this.window * 2);
    this.requestAhead(end + this.window);
    this.trim(offset - KEEP_BEHIND);
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.dropStream();
  }

  private async readRange(offset: number, length: number): Promise<Buffer> {
    this.stats.rangedReads++;
    const parts: Buffer[] = [];
    let got = 0;
    for await (const piece of await this.open(offset, length)) {
      parts.push(asBuffer(piece));
      got += piece.length;
      if (got >= length) break;
    }
    const all = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    return all.length > length ? all.subarray(0, length) : all;
  }

  private dropStream(): void {
    this.generation++;
    const it = this.iterator;
    const opening = this.opening;
    this.iterator = undefined;
    this.opening = undefined;
    this.active = false;
    this.pieces = [];
    this.pumping = false;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(new StaleStreamError());
    if (it?.return) Promise.resolve(it.return()).catch(() => undefined);
    else opening?.then((i) => i.return?.(), () => undefined).catch(() => undefined);
  }

  private reopen(offset: number): void {
    this.dropStream();
    const gen = this.generation;
    this.stats.streamOpens++;
    this.active = true;
    this.bufStart = offset;
    this.streamPos = offset;
    this.eof = false;
    this.error = undefined;
    this.target = offset;
    this.window = MIN_WINDOW;
    this.opening = this.open(offset).then((source) => {
      const it = source[Symbol.asyncIterator]();
      if (gen === this.generation) this.iterator = it;
      return it;
    });
    // Failures surface through the pump to the reads waiting.
    this.opening.catch(() => undefined);
  }

  /** Waits until the stream has delivered up to `end` (or ended). */
  private async fill(end: number): Promise<void> {
    while (this.streamPos < end && !this.eof) {
      if (this.error !== undefined) {
        const err = this.error;
        this.dropStream();
        this.error = undefined;
        throw err;
      }
      if (!this.active) throw new StaleStreamError();
      this.target = Math.max(this.target, end);
      if (!this.pumping) void this.pump(this.generation);
      await new Promise<void>((resolve, reject) => this.waiters.push({ until: end, resolve, reject }));
    }
  }

  private requestAhead(until: number): void {
    if (!this.active || this.eof || this.error !== undefined) return;
    if (this.size >= 0) until = Math.min(until, this.size);
    if (until <= this.target) return;
    this.target = until;
    if (!this.pumping) void this.pump(this.generation);
  }

  private async pump(gen: number): Promise<void> {
    this.pumping = true;
    try {
      const it = this.iterator ?? (await this.opening!);
      while (gen === this.generation && !this.eof && this.streamPos < this.target) {
        const step = await it.next();
        if (gen !== this.generation) return;
        if (step.done) {
          this.eof = true;
          break;
        }
        const data = asBuffer(step.value);
        if (data.length === 0) continue;
        this.pieces.push({ start: this.streamPos, data });
        this.streamPos += data.length;
        this.wake(false);
      }
    } catch (err) {
      if (gen === this.generation) this.error = err;
    } finally {
      if (gen === this.generation) {
        this.pumping = false;
        this.wake(true);
      }
    }
  }

  private wake(all: boolean): void {
    const keep: Waiter[] = [];
    for (const w of this.waiters) {
      if (all || this.eof || w.until <= this.streamPos) w.resolve();
      else keep.push(w);
    }
    this.waiters = keep;
  }

  private copyOut(offset: number, end: number): Buffer {
    end = Math.min(end, this.streamPos);
    if (end <= offset) return Buffer.alloc(0);
    let first = 0;
    while (first < this.pieces.length && this.pieces[first].start + this.pieces[first].data.length <= offset) first++;
    const p = this.pieces[first];
    if (p && p.start <= offset && p.start + p.data.length >= end) {
      return p.data.subarray(offset - p.start, end - p.start);
    }
    const out = Buffer.allocUnsafe(end - offset);
    let at = 0;
    for (let i = first; i < this.pieces.length && offset + at < end; i++) {
      const piece = this.pieces[i];
      const from = offset + at - piece.start;
      const n = Math.min(piece.data.length - from, end - offset - at);
      piece.data.copy(out, at, from, from + n);
      at += n;
    }
    return out;
  }

  private trim(keepFrom: number): void {
    while (this.pieces.length > 1 && this.pieces[0].start + this.pieces[0].data.length <= keepFrom) {
      this.pieces.shift();
    }
    this.bufStart = this.pieces.length > 0 ? this.pieces[0].start : this.streamPos;
  }
}
