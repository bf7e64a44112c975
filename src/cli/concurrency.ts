// Background work for the transfer code: a set of jobs to wait for. The
// semaphore (--checkers, --transfers) is the shared one in ../concurrency.ts.

export { Limiter } from '../concurrency.js';

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
