// Background work for the transfer code: a set of jobs to wait for. The
// semaphore (--checkers, --transfers) is the shared one in ../concurrency.ts.

export { Limiter } from '../concurrency.js';

/** --max-backlog's default: most checks/transfers decided but not finished before the directory walk waits (rclone's). */
export const MAX_BACKLOG = 10_000;

/** Work started in the background whose end must be awaited (errors are handled by the work itself). */
export class WorkSet {
  private readonly running = new Set<Promise<void>>();
  /** Callers of below() waiting for a job to end. */
  private readonly shrinkWaiters: (() => void)[] = [];

  spawn(fn: () => Promise<void>): void {
    const p: Promise<void> = fn().finally(() => {
      this.running.delete(p);
      // Each waiter checks its own bound again; there are few (the directory walk's callers).
      if (this.shrinkWaiters.length > 0) for (const wake of this.shrinkWaiters.splice(0)) wake();
    });
    this.running.add(p);
  }

  get size(): number {
    return this.running.size;
  }

  /**
   * Waits until fewer than `n` jobs run (backpressure for the directory walk). Not Promise.race over
   * the running jobs: a race leaves a reaction on every job still running, and once the backlog is
   * full the walk races again after each job that ends, so a copy of 30,000 files with a backlog of
   * 10,000 held ~10^8 reactions and ran out of memory.
   */
  async below(n: number): Promise<void> {
    while (this.running.size >= n) await new Promise<void>((wake) => this.shrinkWaiters.push(wake));
  }

  async drain(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running]);
  }
}
