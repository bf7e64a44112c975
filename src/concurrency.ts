// Bounded concurrency, the one implementation every layer uses: a counting
// semaphore (--checkers, --transfers, HEAD requests) and a bounded map.

/** libuv's thread pool size (UV_THREADPOOL_SIZE, default 4): the fs calls and addon jobs that run at once. */
export const THREAD_POOL_SIZE = Math.max(1, Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? '', 10) || 4);

/** A first-in, first-out queue: taken slots are cleared at once and the array compacted now and then. */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  /** Items before `head` have been taken. */
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest item, removed; undefined when empty. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined; // no longer held
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/**
 * A counting semaphore: at most `limit` functions run at once, the rest queue in order. A queued
 * call is one small record (the function and its promise's settle functions), not a suspended async
 * function: callers may queue thousands (a listing's HEAD requests, `check`'s hashes ahead).
 */
export class Limiter {
  private active = 0;
  /** Queued starts. */
  private readonly queue = new Fifo<() => void>();
  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`concurrency limit must be at least 1, not ${limit}`);
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) return this.start(fn);
    return new Promise<T>((resolve, reject) => {
      this.queue.push(() => this.start(fn).then(resolve, reject));
    });
  }

  /** Runs fn now; when it settles, its slot passes straight to the next queued call (no gap a new call could take). */
  private start<T>(fn: () => Promise<T>): Promise<T> {
    this.active++;
    let running: Promise<T>;
    try {
      running = fn();
    } catch (err) {
      running = Promise.reject(err);
    }
    return running.finally(() => {
      this.active--;
      this.queue.shift()?.();
    });
  }
}

export interface MapLimitOptions {
  /**
   * After a failure, still run the items not yet started (default false: start
   * no more). Either way every started call settles before the first error is
   * thrown, so nothing keeps running for a caller that has given up.
   */
  continueOnError?: boolean;
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  options: MapLimitOptions = {},
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && (!failed || options.continueOnError)) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (err) {
        if (!failed) {
          failed = true;
          firstError = err;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw firstError;
  return results;
}
