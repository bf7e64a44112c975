// Downloads of large objects as several ranged GETs in flight at once. One connection to a far
// object store carries a few tens of MB/s whatever the link (latency × window); several carry
// several times that. A read of an object store driver starts as one ranged GET of one part, which
// streams to the reader at once and tells the object's size; when more parts follow, later parts
// are requested ahead of the reader (from its first MiB on), a window that starts at one part and
// doubles each time the bytes the reader has taken double, up to --multi-thread-streams parts in
// flight (the one being read included). Every part streams: the reader takes the part it is on as
// its bytes arrive, and parts ahead keep what they receive in memory, all reads of the process
// together at most --max-buffer-memory (a part ahead stops reading its connection at the bound,
// and TCP holds the server back; the part being read always flows, so no read stalls). Parts are
// yielded in order, so the reader still sees one byte stream. Nothing is copied: the buffers the
// connection delivered are handed on as they are. Each part's body resumes after a broken
// connection (resumable-read.ts, with retry.ts's backoff) and must be of the same object version
// as the first.
import { abortedError, asAborted } from '../abort.js';
import { RemoteIOError } from '../errors.js';
import type { ByteSource } from './remote.js';

const MiB = 1024 * 1024;
/** Bytes of the first part the reader takes before any later part is fetched. */
const PREFETCH_AFTER = 1 * MiB;
/**
 * Bytes the part being read may hold that the reader has not taken yet: its connection runs that
 * far ahead of a slow reader, no further (parts ahead are held to --max-buffer-memory instead).
 */
const CURRENT_PART_AHEAD = 1 * MiB;

export interface ParallelReadSettings {
  /** Parts of one read in flight or waiting for the reader (rclone's --multi-thread-streams); 1 or less: one GET. */
  streams: number;
  /** Bytes per ranged GET (--multi-thread-chunk-size); parts ahead need (streams - 1) of them within maxMemory to all flow. */
  chunkSize: number;
  /** Bytes of parts all reads of this process may hold at once (--max-buffer-memory). */
  maxMemory: number;
  /** Objects smaller than this are read as one GET (--multi-thread-cutoff). */
  cutoff?: number;
}

/**
 * Part sizes are whole crypt blocks (65,552 bytes): 256 of them, about 16 MiB, long enough that a
 * GET's time to first byte (a few hundred ms from a busy far store) costs little, short enough that
 * the three parts ahead fit in the 64 MiB bound and all keep flowing.
 */
export const defaultParallelReadSettings: ParallelReadSettings = { streams: 4, chunkSize: 256 * 65_552, maxMemory: 64 * MiB };

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

/** Bytes received by all parallel reads of the process and not yet taken by their readers (for the --max-buffer-memory bound and tests). */
let heldBytes = 0;
export function parallelReadHeldBytes(): number {
  return heldBytes;
}

/** Parts waiting for memory: woken whenever a reader takes bytes (or a read ends), they look again. */
const roomWaiters = new Set<() => void>();
function wakeRoomWaiters(): void {
  if (roomWaiters.size === 0) return;
  const waiting = [...roomWaiters];
  roomWaiters.clear();
  for (const wake of waiting) wake();
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
  const belowCutoff = first.totalSize !== undefined && first.totalSize < (s.cutoff ?? 0);
  if (stop <= firstEnd || belowCutoff) {
    if ((first.totalSize === undefined && end === undefined) || (belowCutoff && stop > firstEnd)) {
      return continueSequentially(first, open, offset, firstEnd, stop);
    }
    return first.body;
  }
  return readParts(first, open, offset, firstEnd, stop, target, s, signal);
}

/** The rest as one more GET (what a single stream would have done): the size is unknown, or below the cutoff. */
async function* continueSequentially(
  first: OpenedPart,
  open: PartOpener,
  offset: number,
  firstEnd: number,
  stop = Number.MAX_SAFE_INTEGER,
): AsyncGenerator<Uint8Array> {
  let at = offset;
  for await (const chunk of first.body) {
    at += chunk.byteLength;
    yield chunk;
  }
  if (at < firstEnd) return; // the object ended inside the first part
  const rest = await open(at, stop, first.etag);
  if (rest) yield* rest.body;
}

interface Part {
  start: number;
  end: number;
  /** Bytes received and not yet yielded, in order (from `taken` on). */
  chunks: Uint8Array[];
  taken: number;
  /** Bytes of `chunks` not yet yielded, counted in heldBytes. */
  held: number;
  started: boolean;
  finished: boolean;
  error?: unknown;
  /** The reader, waiting for this part's next bytes. */
  wake?: () => void;
}

async function* readParts(
  first: OpenedPart,
  open: PartOpener,
  offset: number,
  firstEnd: number,
  stop: number,
  target: string,
  s: ParallelReadSettings,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const newPart = (start: number, end: number): Part => ({ start, end, chunks: [], taken: 0, held: 0, started: false, finished: false });
  const parts: Part[] = [newPart(offset, firstEnd)];
  for (let at = firstEnd; at < stop; at += s.chunkSize) parts.push(newPart(at, Math.min(stop, at + s.chunkSize)));
  const etag = first.etag;
  const streams = Math.max(1, s.streams);
  let cancelled = false;
  let next = 1; // next part to start (the first is under way)
  let current = 0; // the part being read
  let takenBytes = 0; // by the reader, in all
  // Given up on: no part starts or reads any more (the drivers' opener aborts those in flight with the same signal).
  const onAbort = () => {
    cancelled = true;
    wakeRoomWaiters();
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  // A part reads its connection while all reads together hold less than the bound; the part being
  // read also while it holds less than CURRENT_PART_AHEAD itself (it never waits for other reads).
  const mayRead = (part: Part): boolean => heldBytes < s.maxMemory || (part === parts[current] && part.held < CURRENT_PART_AHEAD);
  const waitForRoom = (part: Part): Promise<void> | undefined => {
    if (cancelled || mayRead(part)) return undefined;
    return new Promise<void>((resolve) => roomWaiters.add(resolve)).then(() => waitForRoom(part));
  };

  const receive = async (part: Part, body: ByteSource): Promise<void> => {
    const expected = part.end - part.start;
    let got = 0;
    const iterator = body[Symbol.asyncIterator]();
    let ended = false;
    try {
      // To the body's own end, also once all bytes are in: a response read to its end leaves its
      // connection to be reused, one closed early is torn down (a new TCP and TLS start per part).
      while (got <= expected) {
        if (got < expected) await waitForRoom(part);
        if (cancelled) break;
        const step = await iterator.next();
        if (step.done) {
          ended = true;
          break;
        }
        if (cancelled || got === expected) break;
        const chunk = step.value.byteLength > expected - got ? step.value.subarray(0, expected - got) : step.value;
        got += chunk.byteLength;
        part.chunks.push(chunk);
        part.held += chunk.byteLength;
        heldBytes += chunk.byteLength;
        part.wake?.();
      }
    } finally {
      // Closes the body (and its connection) unless it ended on its own.
      if (!ended) await iterator.return?.(undefined);
    }
    if (signal?.aborted) throw abortedError(signal);
    if (!cancelled && got < expected) throw new ShortPartError(target, part.start, expected, got);
  };

  const start = (part: Part, opened?: Promise<OpenedPart | undefined>): void => {
    part.started = true;
    const run = async () => {
      const o = await (opened ?? open(part.start, part.end, etag));
      await receive(part, o?.body ?? (async function* () {})());
    };
    run().then(
      () => {
        part.finished = true;
        part.wake?.();
      },
      (err: unknown) => {
        part.error = err;
        part.finished = true;
        part.wake?.();
      },
    );
  };

  // Parts ahead of the reader: one once it has taken PREFETCH_AFTER bytes, twice as many each time
  // that doubles (a reader after a few bytes, a seek on the mount, a probe, causes no other GET).
  const startAfter = Math.min(PREFETCH_AFTER, Math.floor(s.chunkSize / 2));
  const allowedAhead = (): number => {
    if (takenBytes < startAfter) return 0;
    return Math.min(streams - 1, 1 + Math.floor(Math.log2(takenBytes / startAfter)));
  };
  const fill = (): void => {
    while (!cancelled && next < parts.length && next - current <= allowedAhead()) start(parts[next++]);
  };

  const dropHeld = (part: Part): void => {
    heldBytes -= part.held;
    part.held = 0;
    part.chunks = [];
    part.taken = 0;
  };

  try {
    start(parts[0], Promise.resolve(first));
    for (; current < parts.length; current++) {
      const part = parts[current];
      // With streams 1 (or a window not yet grown) the reader's part may not have started.
      if (!part.started) {
        start(part);
        next = Math.max(next, current + 1);
      }
      wakeRoomWaiters(); // it became the part being read: its own queue is what bounds it now
      for (;;) {
        if (part.taken < part.chunks.length) {
          const chunk = part.chunks[part.taken];
          part.chunks[part.taken++] = EMPTY;
          part.held -= chunk.byteLength;
          heldBytes -= chunk.byteLength;
          takenBytes += chunk.byteLength;
          if (part.taken === part.chunks.length) {
            part.chunks = [];
            part.taken = 0;
          }
          wakeRoomWaiters();
          fill();
          yield chunk;
          continue;
        }
        if (part.error !== undefined) throw asAborted(part.error, signal);
        if (part.finished) break;
        await new Promise<void>((resolve) => (part.wake = resolve));
        part.wake = undefined;
      }
    }
  } finally {
    cancelled = true;
    signal?.removeEventListener('abort', onAbort);
    for (const part of parts) dropHeld(part);
    wakeRoomWaiters();
  }
}

const EMPTY = new Uint8Array(0);
