// Hashing whole local files off the main thread: `check` and `hashsum` of a local tree hash every
// byte of it, and on the main thread that is one core at ~550 MB/s (MD5) to ~1.4 GB/s (SHA-1,
// SHA-256), while the checkers wait. Each file is read and hashed by one thread (no bytes cross
// threads): the addon's hashFile, a thread-pool job per file (native/file_hash.c), or where the
// addon is older, Node worker threads (~9 MiB and tens of ms to start each). Small files stay on the
// main thread, where the round trip would cost more.
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { Limiter, THREAD_POOL_SIZE } from '../concurrency.js';
import { workerThreads } from '../lazy-builtin.js';
import { osNative } from '../os-native.js';
import type { HashType } from './remote.js';

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

/** Whether whole files are hashed by the addon (CRYPTFS_HASH_THREADS=worker: on Node worker threads, to test or compare them). */
export const nativeFileHashing = typeof osNative?.hashFile === 'function' && process.env.CRYPTFS_HASH_THREADS !== 'worker';

/**
 * Files hashed at once on the thread pool: up to a core each, and never all of the pool, whose
 * other threads serve the file system calls of the listing and the rest of the command.
 */
const nativeJobs = new Limiter(Math.max(1, Math.min(MAX_THREADS, availableParallelism(), THREAD_POOL_SIZE - 2)));

let pool: HashPool | undefined;

/** The lower-case hex `algorithm` digest of a whole local file, computed off the main thread. */
export function hashFileOffThread(file: string, algorithm: HashType): Promise<string> {
  if (nativeFileHashing) return nativeJobs.run(() => osNative!.hashFile!(file, algorithm));
  pool ??= new HashPool();
  return pool.hash(file, algorithm);
}
