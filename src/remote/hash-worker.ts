// Hashing off the main thread. Sealing hashes every byte crypt writes with SHA-256, MD5 and SHA-1
// (together ~4 ms of CPU per MiB here, about what reading, encrypting and writing it costs): on
// the main thread that would halve big-file copy throughput. Chunks go to two worker threads
// (copied into buffers that travel back and forth, never allocated per chunk), which hash while
// the main thread encrypts; at most THREAD_IN_FLIGHT_BYTES wait for each, so a fast source never
// piles up in memory. MD5, the slowest (~1.8 ms/MiB), has a thread of its own, SHA-256 and SHA-1
// (~0.7 ms/MiB each, SHA-NI) share the other: one thread for all three was the bottleneck of a
// 4-transfer copy (256 MiB: 1.64 s, two threads 1.41 s); a copy per thread costs far less.
import type { Worker } from 'node:worker_threads';
import { workerThreads } from '../lazy-builtin.js';

// Bytes waiting to be hashed, per thread over all its jobs: a copy with N transfers shares it, so
// the copies held do not grow with --transfers (8 MiB per job and thread held 64 MiB at 4
// transfers). A hash thread runs at 0.5-1.5 GB/s, so a few MiB ahead keeps it busy: senders wait
// above this and go on at half of it, so the thread always has 2 MiB or more (2-8 ms of work)
// queued. Each MiB here is a 1 MiB copy in circulation (8 MiB held ~18 MiB of copies in all).
const THREAD_IN_FLIGHT_BYTES = 4 * 1024 * 1024;
/** Buffers for chunks are at least this big, and this many are kept for reuse per thread: as many as circulate. */
const POOL_BUFFER_BYTES = 1024 * 1024;
const POOL_MAX = THREAD_IN_FLIGHT_BYTES / POOL_BUFFER_BYTES + 2;

interface Job {
  done?: (hex: string[]) => void;
  failed?: (err: Error) => void;
}

class HashThread {
  private readonly worker: Worker;
  private readonly jobs = new Map<number, Job>();
  private readonly pool: ArrayBuffer[] = [];
  private nextId = 1;
  /** Bytes sent and not yet acknowledged, over all jobs (aborted ones too, until the thread acks them). */
  private inFlight = 0;
  /** Jobs waiting for the backlog to shrink. */
  private waiting: Array<() => void> = [];

  constructor() {
    // By way of ../remote/: the same from this module and from the bundle (dist/src/cli/cryptfs-bundle.cjs).
    this.worker = new (workerThreads().Worker)(new URL('../remote/hash-worker-thread.js', import.meta.url));
    // Idle workers must not keep the process alive.
    this.worker.unref();
    this.worker.on('message', (m: { op: 'ack' | 'digest'; id: number; bytes?: number; hex?: string[]; buffer?: ArrayBuffer }) => {
      if (m.buffer && this.pool.length < POOL_MAX) this.pool.push(m.buffer);
      if (m.op === 'ack') {
        this.inFlight -= m.bytes!;
        if (this.inFlight <= THREAD_IN_FLIGHT_BYTES / 2 && this.waiting.length > 0) {
          const waiting = this.waiting;
          this.waiting = [];
          for (const wake of waiting) wake();
        }
        return;
      }
      const job = this.jobs.get(m.id);
      if (!job) return;
      this.jobs.delete(m.id);
      this.settle();
      job.done?.(m.hex!);
    });
    this.worker.on('error', (err) => {
      for (const job of this.jobs.values()) job.failed?.(err);
      this.jobs.clear();
      // Nothing more will be acknowledged: let waiting senders go on (their jobs have failed).
      const waiting = this.waiting;
      this.waiting = [];
      this.inFlight = 0;
      for (const wake of waiting) wake();
    });
  }

  /** Keeps the worker referenced only while it has work, so an idle one lets the process end. */
  private settle(): void {
    if (this.jobs.size === 0) this.worker.unref();
    else this.worker.ref();
  }

  start(algorithms: string[]): number {
    const id = this.nextId++;
    this.jobs.set(id, {});
    this.settle();
    this.worker.postMessage({ op: 'start', id, algorithms });
    return id;
  }

  /** Sends a copy of `chunk`; resolves once the thread's backlog is small enough to send more. */
  async update(id: number, chunk: Uint8Array): Promise<void> {
    // Its own buffer, transferred: a view posted as is would clone its whole backing store.
    let buffer = this.pool.pop();
    if (!buffer || buffer.byteLength < chunk.byteLength) buffer = new ArrayBuffer(Math.max(POOL_BUFFER_BYTES, chunk.byteLength));
    const copy = new Uint8Array(buffer, 0, chunk.byteLength);
    copy.set(chunk);
    this.inFlight += copy.byteLength;
    this.worker.postMessage({ op: 'data', id, chunk: copy }, [buffer]);
    if (this.inFlight > THREAD_IN_FLIGHT_BYTES) await new Promise<void>((resolve) => this.waiting.push(resolve));
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
/**
 * Started when first needed: a worker never given a job stays referenced (its unref before it is
 * online does not hold), so an MD5-only user would keep the process from exiting.
 */
const threads: Array<HashThread | undefined> = SPLIT.map(() => undefined);

/** Hashes one stream of chunks with several algorithms on the worker threads. */
export class OffThreadHasher {
  private readonly parts: Array<{ thread: HashThread; id: number; algorithms: string[] }>;

  constructor(algorithms: string[]) {
    this.parts = SPLIT.map((group, i) => ({ i, algorithms: group.filter((a) => algorithms.includes(a)) }))
      .filter((p) => p.algorithms.length > 0)
      .map(({ i, algorithms }) => {
        const thread = (threads[i] ??= new HashThread());
        return { thread, algorithms, id: thread.start(algorithms) };
      });
  }

  /** Queues `chunk`; resolves when more may be sent. */
  async update(chunk: Uint8Array): Promise<void> {
    // In pieces of the pool's size: a part of several MiB would otherwise grow every pooled buffer to it.
    for (let at = 0; at < chunk.byteLength; at += POOL_BUFFER_BYTES) {
      const piece = chunk.byteLength <= POOL_BUFFER_BYTES ? chunk : chunk.subarray(at, at + POOL_BUFFER_BYTES);
      await Promise.all(this.parts.map((p) => p.thread.update(p.id, piece)));
    }
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
