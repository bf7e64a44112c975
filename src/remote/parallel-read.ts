// Downloads of large objects as several ranged GETs in flight at once. One connection to a far
// object store carries a few tens of MB/s whatever the link (latency × window); several carry
// several times that. A read of an object store driver starts as one ranged GET of one part, which
// streams to the reader at once and tells the object's size; when more parts follow, they are
// fetched ahead of the reader into memory (from its first MiB on), a window that starts at one part
// and doubles with every part the reader takes (a reader that stops early has cost little), up to --multi-thread-streams
// parts, and all readers of the process together hold at most --max-buffer-memory of parts (each
// reader may always hold one, so none stalls). Parts are yielded in order, so the reader still sees
// one byte stream. Each part's body resumes after a broken connection (resumable-read.ts, with
// retry.ts's backoff) and must be of the same object version as the first.
import { abortedError, asAborted } from '../abort.js';
import { RemoteIOError } from '../errors.js';
import type { ByteSource } from './remote.js';

const MiB = 1024 * 1024;
/** Bytes of the first part the reader takes before any later part is fetched. */
const PREFETCH_AFTER = 1 * MiB;

export interface ParallelReadSettings {
  /** Parts of one read in flight or waiting for the reader (rclone's --multi-thread-streams); 1 or less: one GET. */
  streams: number;
  /** Bytes per ranged GET (--multi-thread-chunk-size). */
  chunkSize: number;
  /** Bytes of parts all reads of this process may hold at once (--max-buffer-memory). */
  maxMemory: number;
}

/** Part sizes are whole crypt blocks (65,552 bytes): 128 of them, about 8 MiB. */
export const defaultParallelReadSettings: ParallelReadSettings = { streams: 4, chunkSize: 128 * 65_552, maxMemory: 64 * MiB };

let settings: ParallelReadSettings = { ...defaultParallelReadSettings };

/** Sets the process-wide download parallelism (from the global flags). */
export function configureParallelReads(next: Partial<ParallelReadSettings>): void {
  const merged = { ...settings, ...next };
  if (!(merged.chunkSize >= 64 * 1024)) throw new RangeError(`multi-thread chunk size must be at least 64Ki, not ${merged.chunkSize}`);
  if (!(merged.maxMemory >= 0)) throw new RangeError(`max buffer memory must not be negative, not ${merged.maxMemory}`);
  settings = { ...merged, streams: Math.max(1, Math.floor(merged.streams)) };
}

export function parallelReadSettings(): ParallelReadSettings {
  return settings;
}

/** Bytes of parts held by all parallel reads of the process (for the --max-buffer-memory bound and tests). */
let heldBytes = 0;
export function parallelReadHeldBytes(): number {
  return heldBytes;
}

/** One ranged GET as a driver answers it. */
export interface OpenedPart {
  /** The bytes of the range (resuming after a broken connection on its own). */
  body: ByteSource;
  /** Size of the whole object, from Content-Range (undefined when the server did not say). */
  totalSize?: number;
  /** Version tag of the object (ETag). */
  etag?: string;
}

/**
 * Opens bytes [offset, end) of the object, of version `etag` when given (an ObjectChangedError
 * otherwise); undefined when `offset` is at or past the end of the object.
 */
export type PartOpener = (offset: number, end: number, etag: string | undefined) => Promise<OpenedPart | undefined>;

/** A part came back shorter than asked although the object is longer: it changed under the read. */
export class ShortPartError extends RemoteIOError {
  constructor(target: string, offset: number, expected: number, got: number) {
    super(`${target}: ranged read at byte ${offset} returned ${got} of ${expected} bytes (object changed?)`, { retryable: true });
  }
}

interface Part {
  start: number;
  end: number;
  data?: Promise<Buffer>;
  /** Counted in heldBytes (released when yielded or dropped). */
  counted: boolean;
}

/**
 * Bytes [offset, end) of an object (to its end when `end` is undefined), as parallel ranged GETs
 * once the object turns out to be longer than one part. Resolves when the first GET has answered
 * (so "not found" surfaces here); undefined when the range starts at or past the end.
 */
export async function openParallelRead(
  open: PartOpener,
  offset: number,
  end: number | undefined,
  target: string,
  s: ParallelReadSettings = settings,
  signal?: AbortSignal,
): Promise<ByteSource | undefined> {
  const firstEnd = end === undefined ? offset + s.chunkSize : Math.min(end, offset + s.chunkSize);
  const first = await open(offset, firstEnd, undefined);
  if (!first) return undefined;
  const stop = first.totalSize === undefined ? firstEnd : end === undefined ? first.totalSize : Math.min(end, first.totalSize);
  if (stop <= firstEnd) {
    if (first.totalSize === undefined && end === undefined) return continueSequentially(first, open, offset, firstEnd);
    return first.body;
  }
  return readParts(first, open, firstEnd, stop, target, s, signal);
}

/** The server did not tell the size: the rest as one more GET (what a single stream would have done). */
async function* continueSequentially(first: OpenedPart, open: PartOpener, offset: number, firstEnd: number): AsyncGenerator<Uint8Array> {
  let at = offset;
  for await (const chunk of first.body) {
    at += chunk.byteLength;
    yield chunk;
  }
  if (at < firstEnd) return; // the object ended inside the first part
  const rest = await open(at, Number.MAX_SAFE_INTEGER, first.etag);
  if (rest) yield* rest.body;
}

async function* readParts(
  first: OpenedPart,
  open: PartOpener,
  firstEnd: number,
  stop: number,
  target: string,
  s: ParallelReadSettings,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const parts: Part[] = [];
  for (let at = firstEnd; at < stop; at += s.chunkSize) parts.push({ start: at, end: Math.min(stop, at + s.chunkSize), counted: false });
  const etag = first.etag;
  let cancelled = false;
  let next = 0; // next part to start
  let consumed = 0; // parts yielded
  let window = 1;
  let heldHere = 0;
  // Given up on: no part starts any more (the drivers' opener aborts those in flight with the same signal).
  const onAbort = () => {
    cancelled = true;
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  const fetchPart = async (part: Part): Promise<Buffer> => {
    const opened = await open(part.start, part.end, etag);
    const expected = part.end - part.start;
    const data = Buffer.allocUnsafe(expected);
    let got = 0;
    if (opened) {
      for await (const chunk of opened.body) {
        if (cancelled) break; // leaving the loop closes the body (and its connection)
        const n = Math.min(chunk.byteLength, expected - got);
        data.set(n === chunk.byteLength ? chunk : chunk.subarray(0, n), got);
        got += n;
        if (got >= expected) break;
      }
    }
    if (signal?.aborted) throw abortedError(signal);
    if (!cancelled && got < expected) throw new ShortPartError(target, part.start, expected, got);
    return data;
  };

  const release = (part: Part): void => {
    if (!part.counted) return;
    part.counted = false;
    heldBytes -= part.end - part.start;
    heldHere--;
  };

  // Starts parts while the window and the memory bound allow (one held part per read always may).
  const fill = (): void => {
    while (!cancelled && next < parts.length && next - consumed < window) {
      const part = parts[next];
      const size = part.end - part.start;
      if (heldHere > 0 && heldBytes + size > s.maxMemory) break;
      heldBytes += size;
      heldHere++;
      part.counted = true;
      part.data = fetchPart(part);
      // Seen by the reader when it gets there; until then not an unhandled rejection.
      part.data.catch(() => undefined);
      next++;
    }
  };

  try {
    // Prefetching starts once the reader has taken a little of the first part in sequence: a reader
    // after a few bytes (a seek on the mount, a probe) never causes a part to be fetched.
    const startAfter = Math.min(PREFETCH_AFTER, Math.floor(s.chunkSize / 2));
    let taken = 0;
    for await (const chunk of first.body) {
      taken += chunk.byteLength;
      if (taken >= startAfter) fill();
      yield chunk;
    }
    for (const [i, part] of parts.entries()) {
      fill();
      if (!part.data) {
        // The memory bound held this one back: fetch it now (this read holds nothing else).
        heldBytes += part.end - part.start;
        heldHere++;
        part.counted = true;
        part.data = fetchPart(part);
        next = i + 1;
      }
      const data = await part.data.catch((err: unknown) => {
        throw asAborted(err, signal);
      });
      consumed++;
      window = Math.min(Math.max(1, s.streams), window * 2);
      release(part);
      fill();
      yield data;
    }
  } finally {
    cancelled = true;
    signal?.removeEventListener('abort', onAbort);
    for (const part of parts) release(part);
  }
}
