// Hashing off the main thread. Sealing hashes every byte crypt writes with SHA-256, MD5 and SHA-1
// (together ~4 ms of CPU per MiB here, about what reading, encrypting and writing it costs): on
// the main thread that would halve big-file copy throughput. Chunks go to two worker threads
// (copied into buffers that travel back and forth, never allocated per chunk), which hash while
// the main thread encrypts; at most IN_FLIGHT_BYTES per job wait for each, so a fast source never
// piles up in memory. MD5, the slowest (~1.8 ms/MiB), has a thread of its own, SHA-256 and SHA-1
// (~0.7 ms/MiB each, SHA-NI) share the other: one thread for all three was the bottleneck of a
// 4-transfer copy (256 MiB: 1.64 s, two threads 1.41 s); a copy per thread costs far less.
import { Worker } from 'node:worker_threads';

// Per job and thread: with two threads, as much in flight in all as one thread had with 16 MiB.
const IN_FLIGHT_BYTES = 8 * 1024 * 1024;
/** Buffers for chunks are at least this big, and this many are kept for reuse. */
const POOL_BUFFER_BYTES = 1024 * 1024;
const POOL_MAX = 24;

interface Job {
  inFlight: number;
  drained?: () => void;
  done?: (hex: string[]) => void;
  failed?: (err: Error) => void;
}

class HashThread {
  private readonly worker: Worker;
  private readonly jobs = new Map<number, Job>();
  private readonly pool: ArrayBuffer[] = [];
  private nextId = 1;

  constructor() {
    this.worker = new Worker(new URL('./hash-worker-thread.js', import.meta.url));
    // Idle workers must not keep the process alive.
    this.worker.unref();
    this.worker.on('message', (m: { op: 'ack' | 'digest'; id: number; bytes?: number; hex?: string[]; buffer?: ArrayBuffer }) => {
      if (m.buffer && this.pool.length < POOL_MAX) this.pool.push(m.buffer);
      const job = this.jobs.get(m.id);
      if (!job) return;
      if (m.op === 'ack') {
        job.inFlight -= m.bytes!;
        if (job.inFlight <= IN_FLIGHT_BYTES / 2 && job.drained) {
          const d = job.drained;
          job.drained = undefined;
          d();
        }
      } else {
        this.jobs.delete(m.id);
        this.settle();
        job.done?.(m.hex!);
      }
    });
    this.worker.on('error', (err) => {
      for (const job of this.jobs.values()) job.failed?.(err);
      this.jobs.clear();
    });
  }

  /** Keeps the worker referenced only while it has work, so an idle one lets the process end. */
  private settle(): void {
    if (this.jobs.size === 0) this.worker.unref();
    else this.worker.ref();
  }

  start(algorithms: string[]): number {
    const id = this.nextId++;
    this.jobs.set(id, { inFlight: 0 });
    this.settle();
    this.worker.postMessage({ op: 'start', id, algorithms });
    return id;
  }

  /** Sends a copy of `chunk`; resolves once the job's backlog is small enough to send more. */
  async update(id: number, chunk: Uint8Array): Promise<void> {
    const job = this.jobs.get(id)!;
    // Its own buffer, transferred: a view posted as is would clone its whole backing store.
    let buffer = this.pool.pop();
    if (!buffer || buffer.byteLength < chunk.byteLength) buffer = new ArrayBuffer(Math.max(POOL_BUFFER_BYTES, chunk.byteLength));
    const copy = new Uint8Array(buffer, 0, chunk.byteLength);
    copy.set(chunk);
    job.inFlight += copy.byteLength;
    this.worker.postMessage({ op: 'data', id, chunk: copy }, [buffer]);
    if (job.inFlight > IN_FLIGHT_BYTES) await new Promise<void>((resolve) => (job.drained = resolve));
  }

  finish(id: number): Promise<string[]> {
    const job = this.jobs.get(id)!;
    return new Promise<string[]>((resolve, reject) => {
      job.done = resolve;
      job.failed = reject;
      this.worker.postMessage({ op: 'end', id });
    });
  }

  abort(id: number): void {
    if (!this.jobs.delete(id)) return;
    this.settle();
    this.worker.postMessage({ op: 'abort', id });
  }
}

/** Algorithms per worker thread (see above). */
const SPLIT: string[][] = [['md5'], ['sha256', 'sha1']];
let threads: HashThread[] | undefined;

/** Hashes one stream of chunks with several algorithms on the worker threads. */
export class OffThreadHasher {
  private readonly parts: Array<{ thread: HashThread; id: number; algorithms: string[] }>;

  constructor(algorithms: string[]) {
    threads ??= SPLIT.map(() => new HashThread());
    this.parts = SPLIT.map((group, i) => ({ thread: threads![i], algorithms: group.filter((a) => algorithms.includes(a)) }))
      .filter((p) => p.algorithms.length > 0)
      .map((p) => ({ ...p, id: p.thread.start(p.algorithms) }));
  }

  /** Queues `chunk`; resolves when more may be sent. */
  async update(chunk: Uint8Array): Promise<void> {
    await Promise.all(this.parts.map((p) => p.thread.update(p.id, chunk)));
  }

  /** Lower-case hex digests by algorithm name. */
  async digests(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const results = await Promise.all(this.parts.map((p) => p.thread.finish(p.id)));
    this.parts.forEach((p, i) => p.algorithms.forEach((a, j) => (out[a] = results[i][j])));
    return out;
  }

  abort(): void {
    for (const p of this.parts) p.thread.abort(p.id);
  }
}
