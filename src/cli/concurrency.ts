// Background work for the transfer code: a count of jobs to wait for, and queues of jobs run by a
// fixed number of workers. The semaphore for one-off calls is the shared one in ../concurrency.ts.

import { Fifo } from '../concurrency.js';

export { Limiter } from '../concurrency.js';

/** --max-backlog's default: most checks/transfers decided but not finished before the directory walk waits (rclone's). */
export const MAX_BACKLOG = 10_000;

/**
 * Work started or queued whose end must be awaited (errors are handled by the work itself; one that
 * escapes is thrown by the next drain()).
 */
export class WorkSet {
  private active = 0;
  private failure?: { error: unknown };
  /** Callers of below() and drain() waiting for fewer than `bound` jobs, in the order they came. */
  private waiters: { bound: number; wake: () => void }[] = [];

  spawn(fn: () => Promise<void>): void {
    this.started();
    let job: Promise<void>;
    try {
      job = fn();
    } catch (err) {
      job = Promise.reject(err);
    }
    job.then(
      () => this.ended(),
      (err: unknown) => this.failed(err),
    );
  }

  /** A job that runs later (a JobQueue's): counted until ended() or failed() is called for it. */
  started(): void {
    this.active++;
  }

  ended(): void {
    this.active--;
    if (this.waiters.length > 0) this.wakeWaiters();
  }

  /**
   * Wakes the waiters whose bound now holds, first come first, counting each woken walk as about
   * to start one job: one job ending lets one waiting walk on, not all of them (each would find
   * the backlog full again and wait anew). A woken walk need not start a job, so once none is
   * left to end (no later call here), every waiter is woken to check again.
   */
  private wakeWaiters(): void {
    if (this.active === 0) {
      for (const waiter of this.waiters.splice(0)) waiter.wake();
      return;
    }
    let expected = this.active;
    const still: { bound: number; wake: () => void }[] = [];
    for (const waiter of this.waiters) {
      if (expected < waiter.bound) {
        expected++;
        waiter.wake();
      } else {
        still.push(waiter);
      }
    }
    this.waiters = still;
  }

  failed(error: unknown): void {
    this.failure ??= { error };
    this.ended();
  }

  get size(): number {
    return this.active;
  }

  /**
   * Waits until fewer than `n` jobs run (backpressure for the directory walk). Not Promise.race over
   * the running jobs: a race leaves a reaction on every job still running, and once the backlog is
   * full the walk races again after each job that ends, so a copy of 30,000 files with a backlog of
   * 10,000 held ~10^8 reactions and ran out of memory.
   */
  async below(n: number): Promise<void> {
    while (this.active >= n) await new Promise<void>((wake) => this.waiters.push({ bound: n, wake }));
  }

  /** Waits for every job; throws the first error a job let escape, once. */
  async drain(): Promise<void> {
    await this.below(1);
    const failure = this.failure;
    this.failure = undefined;
    if (failure) throw failure.error;
  }
}

/**
 * Jobs run by at most `concurrency` workers in the order queued, each job a plain record: a copy
 * keeps up to --max-backlog files queued, and a record costs far less than a suspended call each.
 * Jobs are counted in `work` from push() until they end.
 */
export class JobQueue<T> {
  private readonly jobs = new Fifo<T>();
  private workers = 0;

  constructor(
    private readonly work: WorkSet,
    private readonly concurrency: number,
    private readonly handle: (job: T) => Promise<void>,
  ) {}

  push(job: T): void {
    this.work.started();
    this.jobs.push(job);
    if (this.workers < this.concurrency) void this.runWorker();
  }

  private async runWorker(): Promise<void> {
    this.workers++;
    try {
      while (this.jobs.length > 0) {
        const job = this.jobs.shift() as T;
        try {
          await this.handle(job);
          this.work.ended();
        } catch (err) {
          this.work.failed(err);
        }
      }
    } finally {
      this.workers--;
    }
  }
}
