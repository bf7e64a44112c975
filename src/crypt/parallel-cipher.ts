// The content cipher with sealing/opening spread over a small worker_threads pool.
// The main thread only packs chunks into 1 MiB batches (one copy, which a transfer
// needs anyway) and hands out the results in order; workers seal/open each batch in
// place with libsodium and transfer it back. Same stream format and errors as
// ContentCipher; random-access reads (decryptRange) stay on the calling thread.
//
// This file is also the worker's entry point (see the bottom).
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { AuthenticationError, FileTooShortError, TruncatedBlockError, CryptfsError } from '../errors.js';
import {
  BLOCK_DATA_SIZE,
  BLOCK_OVERHEAD,
  BLOCK_SIZE,
  ContentCipher,
  HEADER_SIZE,
  MAGIC,
  newFileNonce,
  openChunk,
  sealChunk,
} from './content-cipher.js';
import { addToNonce, incrementNonce } from './nonce.js';

const WORKER_MARK = 'cryptfs-content-cipher-worker';

/** Chunks per batch (16 × 64 KiB = 1 MiB per message). */
export const CHUNKS_PER_BATCH = 16;

// ---------- batch kernels (run in a worker, or inline for small inputs) ----------

/**
 * Seals `count` chunks in place. Chunk i's plaintext sits at base + i·65552 + 16
 * (all full except the last, of `lastLength` bytes); its sealed form (tag ‖ ciphertext)
 * replaces it starting 16 bytes earlier. Advances `nonce` by `count`.
 */
function sealBatch(buf: Uint8Array, base: number, count: number, lastLength: number, nonce: Uint8Array, key: Uint8Array): void {
  for (let i = 0; i < count; i++) {
    const at = base + i * BLOCK_SIZE;
    const len = i === count - 1 ? lastLength : BLOCK_DATA_SIZE;
    sealChunk(buf.subarray(at, at + BLOCK_OVERHEAD + len), buf.subarray(at + BLOCK_OVERHEAD, at + BLOCK_OVERHEAD + len), nonce, key);
    incrementNonce(nonce);
  }
}

/**
 * Opens `count` contiguous sealed chunks in place, compacting: chunk i's plaintext ends
 * up at i·65536 (libsodium checks the tag before it moves anything). The last chunk is
 * `lastLength` sealed bytes. Returns how many chunks opened before the first failure.
 */
function openBatch(buf: Uint8Array, count: number, lastLength: number, nonce: Uint8Array, key: Uint8Array): number {
  for (let i = 0; i < count; i++) {
    const at = i * BLOCK_SIZE;
    const len = i === count - 1 ? lastLength : BLOCK_SIZE;
    const out = i * BLOCK_DATA_SIZE;
    if (!openChunk(buf.subarray(out, out + len - BLOCK_OVERHEAD), buf.subarray(at, at + len), nonce, key)) return i;
    incrementNonce(nonce);
  }
  return count;
}

// ---------- worker protocol ----------

interface BatchJob {
  id: number;
  op: 'seal' | 'open';
  key: Uint8Array;
  nonce: Uint8Array;
  buffer: ArrayBuffer;
  /** Where the first chunk starts (room for the file header in the first sealed batch). */
  base: number;
  count: number;
  lastLength: number;
}

interface BatchResult {
  id: number;
  buffer: ArrayBuffer;
  /** Chunks processed successfully (open: before the first authentication failure). */
  done: number;
  error?: string;
}

function runBatch(job: BatchJob): number {
  const view = new Uint8Array(job.buffer);
  if (job.op === 'seal') {
    sealBatch(view, job.base, job.count, job.lastLength, job.nonce, job.key);
    return job.count;
  }
  return openBatch(view, job.count, job.lastLength, job.nonce, job.key);
}

/** A worker pool failed (crashed, or a job threw inside it). */
export class CipherWorkerError extends CryptfsError {}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, { resolve: (r: BatchResult) => void; reject: (e: unknown) => void }>;
}

/** A few worker threads, each sealing/opening whole batches with libsodium. */
export class CipherWorkerPool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 1;
  private closed = false;

  constructor(readonly size: number = defaultWorkerCount()) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`worker count must be ≥ 1, got ${size}`);
  }

  /** Runs one job, transferring its buffer to the worker and back. */
  run(job: Omit<BatchJob, 'id'>): Promise<BatchResult> {
    if (this.closed) return Promise.reject(new CipherWorkerError('cipher worker pool is closed'));
    const target = this.pickWorker();
    const id = this.nextId++;
    return new Promise<BatchResult>((resolve, reject) => {
      if (target.pending.size === 0) target.worker.ref(); // keep the process alive while work is out
      target.pending.set(id, { resolve, reject });
      target.worker.postMessage({ ...job, id }, [job.buffer]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = this.workers.splice(0);
    await Promise.all(all.map((w) => w.worker.terminate()));
  }

  private pickWorker(): PoolWorker {
    let best: PoolWorker | undefined;
    for (const w of this.workers) if (!best || w.pending.size < best.pending.size) best = w;
    if (best && (best.pending.size === 0 || this.workers.length >= this.size)) return best;
    return this.spawn();
  }

  private spawn(): PoolWorker {
    const worker = new Worker(new URL(import.meta.url), { workerData: { [WORKER_MARK]: true } });
    worker.unref();
    const entry: PoolWorker = { worker, pending: new Map() };
    const failAll = (err: unknown) => {
      const index = this.workers.indexOf(entry);
      if (index >= 0) this.workers.splice(index, 1);
      for (const p of entry.pending.values()) p.reject(new CipherWorkerError('cipher worker failed', { cause: err }));
      entry.pending.clear();
    };
    worker.on('message', (result: BatchResult) => {
      const p = entry.pending.get(result.id);
      if (!p) return;
      entry.pending.delete(result.id);
      if (entry.pending.size === 0) worker.unref();
      if (result.error !== undefined) p.reject(new CipherWorkerError(`cipher worker: ${result.error}`));
      else p.resolve(result);
    });
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`worker exited with code ${code}`)));
    this.workers.push(entry);
    return entry;
  }
}

function defaultWorkerCount(): number {
  // One core stays with the main thread (reading, writing, packing).
  return Math.max(1, Math.min(2, availableParallelism() - 1));
}

let sharedPool: CipherWorkerPool | undefined;
/** The process-wide pool (threads are unref'd while idle, so it never holds the process open). */
export function sharedCipherPool(): CipherWorkerPool {
  sharedPool ??= new CipherWorkerPool();
  return sharedPool;
}

/** Makes a fresh, unshared, transferable buffer. */
function transferable(size: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(size));
}

export interface ParallelCipherOptions {
  pool?: CipherWorkerPool;
  /** Batches out at once (bounds memory to about this many MiB); default 2 per worker. */
  maxInFlight?: number;
}

export class ParallelContentCipher extends ContentCipher {
  private readonly pool: CipherWorkerPool;
  private readonly maxInFlight: number;

  constructor(dataKey: Buffer, options: ParallelCipherOptions = {}) {
    super(dataKey);
    this.pool = options.pool ?? sharedCipherPool();
    this.maxInFlight = options.maxInFlight ?? 2 * this.pool.size;
  }

  /** Same output as ContentCipher.encrypt, byte for byte. Small inputs (one batch) are sealed inline. */
  override async *encrypt(source: AsyncIterable<Uint8Array>, nonce?: Uint8Array): AsyncGenerator<Buffer> {
    const n0 = newFileNonce(nonce);
    const key = this.dataKey;
    const batchNonce = Buffer.from(n0); // nonce of the current batch's first chunk
    const queue = new OrderedResults<Buffer>();

    let base = HEADER_SIZE; // the first batch carries the header
    let batch = transferable(HEADER_SIZE + CHUNKS_PER_BATCH * BLOCK_SIZE);
    batch.set(MAGIC, 0);
    batch.set(n0, MAGIC.length);
    let chunks = 0; // complete chunks in the batch
    let fill = 0; // plaintext bytes in the chunk being filled

    const submit = (count: number, lastLength: number, used: number) => {
      const job = this.pool.run({
        op: 'seal',
        key,
        nonce: Buffer.from(batchNonce),
        buffer: batch.buffer as ArrayBuffer,
        base,
        count,
        lastLength,
      });
      queue.push(job.then((r) => Buffer.from(r.buffer, 0, used)));
      addToNonce(batchNonce, count);
    };

    try {
      for await (const piece of source) {
        let pos = 0;
        while (pos < piece.length) {
          const take = Math.min(BLOCK_DATA_SIZE - fill, piece.length - pos);
          batch.set(piece.subarray(pos, pos + take), base + chunks * BLOCK_SIZE + BLOCK_OVERHEAD + fill);
          fill += take;
          pos += take;
          if (fill < BLOCK_DATA_SIZE) continue;
          chunks++;
          fill = 0;
          if (chunks < CHUNKS_PER_BATCH) continue;
          submit(chunks, BLOCK_DATA_SIZE, base + chunks * BLOCK_SIZE);
          base = 0;
          chunks = 0;
          batch = transferable(CHUNKS_PER_BATCH * BLOCK_SIZE);
          while (queue.size >= this.maxInFlight) yield await queue.next();
        }
      }
      const count = chunks + (fill > 0 ? 1 : 0);
      const used = base + chunks * BLOCK_SIZE + (fill > 0 ? BLOCK_OVERHEAD + fill : 0);
      const lastLength = fill > 0 ? fill : BLOCK_DATA_SIZE;
      if (queue.submitted === 0) {
        // The whole file fits in one batch: a worker round trip would only add latency.
        sealBatch(batch, base, count, lastLength, batchNonce, key);
        yield Buffer.from(batch.buffer, 0, used);
        return;
      }
      if (count > 0) submit(count, lastLength, used);
      while (queue.size > 0) yield await queue.next();
    } finally {
      queue.abandon();
    }
  }

  /** Same output and errors as ContentCipher.decrypt; authenticated chunks before a failure are output. */
  override async *decrypt(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
    const key = this.dataKey;
    const header = Buffer.alloc(HEADER_SIZE);
    let headerFilled = 0;
    let batchNonce: Buffer | undefined;
    let firstChunk = 0; // index of the current batch's first chunk
    const batchBytes = CHUNKS_PER_BATCH * BLOCK_SIZE;
    let batch = transferable(batchBytes);
    let filled = 0;
    const queue = new OrderedResults();

    const submit = (nonce: Buffer, count: number, lastLength: number) => {
      const first = firstChunk;
      const job = this.pool.run({
        op: 'open',
        key,
        nonce: Buffer.from(nonce),
        buffer: batch.buffer as ArrayBuffer,
        base: 0,
        count,
        lastLength,
      });
      queue.push(job.then((r) => openedBatch(r.buffer, first, count, lastLength, r.done)));
      addToNonce(nonce, count);
      firstChunk += count;
    };

    async function* emit(result: Buffer | AuthenticatedPrefix): AsyncGenerator<Buffer> {
      if (result instanceof AuthenticatedPrefix) {
        if (result.bytes.length > 0) yield result.bytes;
        throw new AuthenticationError(result.failedChunk);
      }
      yield result;
    }

    try {
      for await (const piece of source) {
        let pos = 0;
        if (batchNonce === undefined) {
          const take = Math.min(HEADER_SIZE - headerFilled, piece.length);
          header.set(piece.subarray(0, take), headerFilled);
          headerFilled += take;
          pos = take;
          if (headerFilled < HEADER_SIZE) continue;
          batchNonce = ContentCipher.readNonce(header);
        }
        while (pos < piece.length) {
          const take = Math.min(batchBytes - filled, piece.length - pos);
          batch.set(piece.subarray(pos, pos + take), filled);
          filled += take;
          pos += take;
          if (filled < batchBytes) continue;
          submit(batchNonce, CHUNKS_PER_BATCH, BLOCK_SIZE);
          batch = transferable(batchBytes);
          filled = 0;
          while (queue.size >= this.maxInFlight) yield* emit(await queue.next());
        }
      }
      if (batchNonce === undefined) throw new FileTooShortError();
      const complete = Math.floor(filled / BLOCK_SIZE);
      const tail = filled % BLOCK_SIZE;
      const truncated = tail > 0 && tail <= BLOCK_OVERHEAD;
      const count = complete + (tail > 0 && !truncated ? 1 : 0);
      const lastLength = tail > 0 && !truncated ? tail : BLOCK_SIZE;
      if (count > 0) {
        if (queue.submitted === 0) {
          const done = openBatch(batch, count, lastLength, batchNonce, key);
          yield* emit(openedBatch(batch.buffer, firstChunk, count, lastLength, done));
        } else {
          submit(batchNonce, count, lastLength);
        }
      }
      while (queue.size > 0) yield* emit(await queue.next());
      if (truncated) throw new TruncatedBlockError();
    } finally {
      queue.abandon();
    }
  }
}

/** The authenticated part of a batch whose chunk `failedChunk` (absolute index) failed. */
class AuthenticatedPrefix {
  constructor(readonly bytes: Buffer, readonly failedChunk: number) {}
}

/**
 * What a batch of `count` chunks starting at chunk `first` gives after opening: all its
 * plaintext, or, when chunk `first + done` failed, the authenticated plaintext before it.
 */
function openedBatch(
  buffer: ArrayBufferLike,
  first: number,
  count: number,
  lastLength: number,
  done: number,
): Buffer | AuthenticatedPrefix {
  if (done === count) return Buffer.from(buffer, 0, (count - 1) * BLOCK_DATA_SIZE + lastLength - BLOCK_OVERHEAD);
  return new AuthenticatedPrefix(Buffer.from(buffer, 0, done * BLOCK_DATA_SIZE), first + done);
}

/** Results handed out in submission order; abandoning it silences the ones nobody will read. */
class OrderedResults<T = Buffer | AuthenticatedPrefix> {
  private readonly items: Promise<T>[] = [];
  submitted = 0;

  get size(): number {
    return this.items.length;
  }

  push(p: Promise<T>): void {
    p.catch(() => {}); // a failure is reported when its turn comes in next(), not as unhandled
    this.items.push(p);
    this.submitted++;
  }

  next(): Promise<T> {
    const p = this.items.shift();
    if (!p) throw new Error('no result pending');
    return p;
  }

  abandon(): void {
    this.items.length = 0;
  }
}

// ---------- worker entry ----------

if (!isMainThread && parentPort && (workerData as Record<string, unknown> | null)?.[WORKER_MARK] === true) {
  const port = parentPort;
  port.on('message', (job: BatchJob) => {
    let result: BatchResult;
    try {
      result = { id: job.id, buffer: job.buffer, done: runBatch(job) };
    } catch (err) {
      result = { id: job.id, buffer: job.buffer, done: 0, error: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(result, [result.buffer]);
  });
}
