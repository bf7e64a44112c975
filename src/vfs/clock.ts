// The time the VFS's timers and ages run on: the write-back delay and upload
// retries, the --vfs-write-wait of mode off, cache eviction (its poll interval,
// --vfs-cache-max-age, the lastUsed order) and --dir-cache-time. Injected
// through VfsOptions.clock; the real clock is the default. Tests use a manual
// clock (test/helpers/manual-clock.ts) and move time on themselves instead of
// sleeping.
//
// File times (mtime, ctime, atime) are not read from here: they are wall-clock
// times other programs and the remote compare with theirs, not timers.

/** A scheduled callback; unref() lets the process exit while it is armed (as Node's timers). */
export interface ClockTimer {
  unref(): ClockTimer;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): ClockTimer;
  setInterval(fn: () => void, ms: number): ClockTimer;
  /** Cancels a timer of either kind (undefined: nothing to do). */
  clear(timer: ClockTimer | undefined): void;
}

/** Node's clock and timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clear: (timer) => {
    // Node's clearTimeout and clearInterval are the same function; both take either kind.
    if (timer) clearTimeout(timer as NodeJS.Timeout);
  },
};
