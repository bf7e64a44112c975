// Bounded concurrency for the transfer code: a counting semaphore (--checkers,
// --transfers) and a set of background jobs to wait for.

/** A counting semaphore. */
export class Limiter {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiters.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiters.shift()?.();
    }
  }
}

/** Work started in the background whose end must be awaited (errors are handled by the work itself). */
export class WorkSet {
  private readonly running = new Set<Promise<void>>();

  spawn(fn: () => Promise<void>): void {
    const p: Promise<void> = fn().finally(() => this.running.delete(p));
    this.running.add(p);
  }

  get size(): number {
    return this.running.size;
  }

  /** Waits until fewer than `n` jobs run (backpressure for the directory walk). */
  async below(n: number): Promise<void> {
    while (this.running.size >= n) await Promise.race(this.running);
  }

  async drain(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running]);
  }
}
