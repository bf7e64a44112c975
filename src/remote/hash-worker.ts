// Hashing off the main thread. Sealing hashes every byte crypt writes with SHA-256, MD5 and SHA-1
// (together ~4 ms of CPU per MiB here, about what reading, encrypting and writing it costs): on
// the main thread that would halve big-file copy throughput. Chunks go to two threads (copied;
// the copies are reused, never allocated per chunk), which hash while the main thread encrypts:
// the addon's own (native/hash_threads.c), or Node worker threads where the addon is older. At
// most THREAD_IN_FLIGHT_BYTES wait for each, so a fast source never piles up in memory. MD5, the
// slowest (~1.8 ms/MiB), has a thread of its own, SHA-256 and SHA-1 (~0.7 ms/MiB each, SHA-NI)
// share the other: one thread for all three was the bottleneck of a 4-transfer copy (256 MiB:
// 1.64 s, two threads 1.41 s); a copy per thread costs far less.
import type { Worker } from 'node:worker_threads';
import { workerThreads } from '../lazy-builtin.js';
import { osNative } from '../os-native.js';

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
  algorithms: string[];
}

/** Where a HashThread's chunks go: the addon's own thread, or a Node worker thread where the addon is older or missing. */
interface HashTransport {
  start(id: number, algorithms: string[]): void;
  /** Sends `chunk`; it may be reused once this returns. */
  data(id: number, chunk: Uint8Array): void;
  end(id: number): void;
  abort(id: number): void;
  /** Whether the thread should keep the process alive (it has jobs). */
  hold(busy: boolean): void;
}

type HashEvent = (kind: 'ack' | 'digest', id: number, value: number | string[]) => void;

/**
 * One of the addon's hash threads: a plain thread calling OpenSSL's digests. A Node worker thread
 * is a whole JavaScript engine instance (~9 MiB before any work): with two of them a copy to crypt
 * over Swift peaked at 125 MiB, 85 MiB with hashing inline.
 */
class NativeTransport implements HashTransport {
  private static readonly routes: Array<HashEvent | undefined> = [];
  private static state: 'unknown' | 'ours' | 'taken' = 'unknown';

  /**
   * Whether this copy of the module has the addon's threads: the addon takes one event callback per
   * process, so a second copy loaded beside it (the bundle and the modules in one process) uses workers.
   */
  static available(): boolean {
    if (NativeTransport.state === 'unknown') {
      try {
        osNative!.hashInit!((thread, kind, id, value) => NativeTransport.routes[thread]?.(kind, id, value));
        NativeTransport.state = 'ours';
      } catch {
        NativeTransport.state = 'taken';
      }
    }
    return NativeTransport.state === 'ours';
  }

  constructor(
    private readonly index: number,
    onEvent: HashEvent,
  ) {
    NativeTransport.routes[index] = onEvent;
  }

  start(id: number, algorithms: string[]): void {
    osNative!.hashSend!(this.index, 0, id, algorithms);
  }
  data(id: number, chunk: Uint8Array): void {
    osNative!.hashSend!(this.index, 1, id, chunk);
  }
  end(id: number): void {
    osNative!.hashSend!(this.index, 2, id);
  }
  abort(id: number): void {
    osNative!.hashSend!(this.index, 3, id);
  }
  hold(): void {
    // The addon holds the process while a job's digest is still to come.
  }
}

/** A Node worker thread (hash-worker-thread.ts), with buffers that travel back and forth. */
class WorkerTransport implements HashTransport {
  private readonly worker: Worker;
  private readonly pool: ArrayBuffer[] = [];

  constructor(onEvent: HashEvent, onError: (err: Error) => void) {
    // By way of ../remote/: the same from this module and from the bundle (dist/src/cli/cryptfs-bundle.cjs).
    this.worker = new (workerThreads().Worker)(new URL('../remote/hash-worker-thread.js', import.meta.url));
    // Idle workers must not keep the process alive.
    this.worker.unref();
    this.worker.on('message', (m: { op: 'ack' | 'digest'; id: number; bytes?: number; hex?: string[]; buffer?: ArrayBuffer }) => {
      if (m.buffer && this.pool.length < POOL_MAX) this.pool.push(m.buffer);
      if (m.op === 'ack') onEvent('ack', m.id, m.bytes!);
      else onEvent('digest', m.id, m.hex!);
    });
    this.worker.on('error', onError);
  }

  start(id: number, algorithms: string[]): void {
    this.worker.postMessage({ op: 'start', id, algorithms });
  }
  data(id: number, chunk: Uint8Array): void {
    // Its own buffer, transferred: a view posted as is would clone its whole backing store.
    let buffer = this.pool.pop();
    if (!buffer || buffer.byteLength < chunk.byteLength) buffer = new ArrayBuffer(Math.max(POOL_BUFFER_BYTES, chunk.byteLength));
    const copy = new Uint8Array(buffer, 0, chunk.byteLength);
    copy.set(chunk);
    this.worker.postMessage({ op: 'data', id, chunk: copy }, [buffer]);
  }
  end(id: number): void {
    this.worker.postMessage({ op: 'end', id });
  }
  abort(id: number): void {
    this.worker.postMessage({ op: 'abort', id });
  }
  hold(busy: boolean): void {
    if (busy) this.worker.ref();
    else this.worker.unref();
  }
}

/** Whether hashing runs on the addon's threads (CRYPTFS_HASH_THREADS=worker: on Node worker threads, to test or compare them). */
export const nativeHashThreads =
  typeof osNative?.hashInit === 'function' && typeof osNative.hashSend === 'function' && process.env.CRYPTFS_HASH_THREADS !== 'worker';

class HashThread {
  private readonly transport: HashTransport;
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;
  /** Bytes sent and not yet acknowledged, over all jobs (aborted ones too, until the thread acks them). */
  private inFlight = 0;
  /** Jobs waiting for the backlog to shrink. */
  private waiting: Array<() => void> = [];

  constructor(index: number) {
    const onEvent: HashEvent = (kind, id, value) => {
      if (kind === 'ack') {
        this.inFlight -= value as number;
        if (this.inFlight <= THREAD_IN_FLIGHT_BYTES / 2 && this.waiting.length > 0) this.wakeSenders();
        return;
      }
      const job = this.jobs.get(id);
      if (!job) return;
      this.jobs.delete(id);
      this.settle();
      const hex = value as string[];
      if (hex.length !== job.algorithms.length) job.failed?.(new Error(`hash thread: no digest for ${job.algorithms.join(', ')} (out of memory?)`));
      else job.done?.(hex);
    };
    this.transport = nativeHashThreads && NativeTransport.available() ? new NativeTransport(index, onEvent) : new WorkerTransport(onEvent, (err) => this.failAll(err));
  }

  private wakeSenders(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  }

  private failAll(err: Error): void {
    for (const job of this.jobs.values()) job.failed?.(err);
    this.jobs.clear();
    // Nothing more will be acknowledged: let waiting senders go on (their jobs have failed).
    this.inFlight = 0;
    this.wakeSenders();
  }

  /** Keeps the thread referenced only while it has work, so an idle one lets the process end. */
  private settle(): void {
    this.transport.hold(this.jobs.size > 0);
  }

  start(algorithms: string[]): number {
    const id = this.nextId++;
    this.jobs.set(id, { algorithms });
    this.settle();
    this.transport.start(id, algorithms);
    return id;
  }

  /** Sends a copy of `chunk`; resolves once the thread's backlog is small enough to send more. */
  async update(id: number, chunk: Uint8Array): Promise<void> {
    this.transport.data(id, chunk); // (may throw: out of memory; nothing was sent then)
    this.inFlight += chunk.byteLength;
    if (this.inFlight > THREAD_IN_FLIGHT_BYTES) await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  finish(id: number): Promise<string[]> {
    const job = this.jobs.get(id)!;
    return new Promise<string[]>((resolve, reject) => {
      job.done = resolve;
      job.failed = reject;
      this.transport.end(id);
    });
  }

  abort(id: number): void {
    if (!this.jobs.delete(id)) return;
    this.settle();
    this.transport.abort(id);
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
        const thread = (threads[i] ??= new HashThread(i));
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
