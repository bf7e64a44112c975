// Hashing whole local files on worker threads: `check` and `hashsum` of a local tree hash every
// byte of it, and on the main thread that is one core at ~550 MB/s (MD5) to ~1.4 GB/s (SHA-1,
// SHA-256), while the checkers wait. Each thread reads and hashes a file by itself (no bytes cross
// threads); small files stay on the main thread, where a message round trip would cost more.
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { workerThreads } from '../lazy-builtin.js';

/** Files smaller than this are hashed on the calling thread. */
export const OFF_THREAD_MIN_BYTES = 256 * 1024;
const MAX_THREADS = 4;

interface Pending {
  resolve: (hex: string) => void;
  reject: (err: Error) => void;
}

class HashPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly waiting: Array<() => void> = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly size = Math.max(1, Math.min(MAX_THREADS, availableParallelism()));

  private spawn(): Worker {
    // By way of ../remote/: the same from this module and from the bundle (dist/src/cli/cryptfs-bundle.cjs).
    const worker = new (workerThreads().Worker)(new URL('../remote/file-hash-thread.js', import.meta.url));
    worker.on('message', (m: { id: number; hex?: string; error?: { message: string; code?: string; errno?: number; syscall?: string } }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      this.release(worker);
      if (!p) return;
      if (m.hex !== undefined) p.resolve(m.hex);
      else p.reject(Object.assign(new Error(m.error?.message ?? 'hashing failed'), m.error));
    });
    worker.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
    this.all.push(worker);
    return worker;
  }

  private async acquire(): Promise<Worker> {
    for (;;) {
      const w = this.idle.pop() ?? (this.all.length < this.size ? this.spawn() : undefined);
      if (w) {
        w.ref();
        return w;
      }
      await new Promise<void>((r) => this.waiting.push(r));
    }
  }

  private release(worker: Worker): void {
    // An idle thread must not keep the process alive.
    worker.unref();
    this.idle.push(worker);
    this.waiting.shift()?.();
  }

  async hash(file: string, algorithm: string): Promise<string> {
    const worker = await this.acquire();
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, file, algorithm });
    });
  }
}

let pool: HashPool | undefined;

/** The lower-case hex `algorithm` digest of a whole local file, computed on a worker thread. */
export function hashFileOffThread(file: string, algorithm: string): Promise<string> {
  pool ??= new HashPool();
  return pool.hash(file, algorithm);
}
