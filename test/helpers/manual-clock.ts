// A clock that only moves when a test moves it (VfsOptions.clock): timers run
// from advance(), in the order they fall due, with now() at their due time.
// Nothing runs by itself, so "not before the delay" is a fact, not a race.
import type { Clock, ClockTimer } from '../../src/vfs/clock.js';

interface Timer extends ClockTimer {
  id: number;
  due: number;
  /** Set for an interval: its period. */
  every?: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  private time: number;
  private nextId = 0;
  private readonly timers = new Map<number, Timer>();

  constructor(start = Date.UTC(2030, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    return this.add(fn, ms);
  }

  setInterval(fn: () => void, ms: number): ClockTimer {
    return this.add(fn, ms, Math.max(1, ms));
  }

  clear(timer: ClockTimer | undefined): void {
    if (timer) this.timers.delete((timer as Timer).id);
  }

  /** Timers armed (not yet run or cleared; an interval counts until cleared). */
  get pending(): number {
    return this.timers.size;
  }

  /** Milliseconds until the next timer falls due, or undefined when none is armed. */
  nextDue(): number | undefined {
    let next: number | undefined;
    for (const t of this.timers.values()) if (next === undefined || t.due < next) next = t.due;
    return next === undefined ? undefined : next - this.time;
  }

  /**
   * Moves time on by `ms`, running each timer that falls due on the way, in
   * due order (then the order they were set), with now() at its due time.
   * Timers set by those callbacks run too when they fall due within `ms`.
   * Returns how many callbacks ran. Work they start asynchronously is not
   * awaited: poll for its result (test/helpers/poll.ts).
   */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`advance: ${ms} ms`);
    const end = this.time + ms;
    let ran = 0;
    for (;;) {
      let next: Timer | undefined;
      for (const t of this.timers.values()) if (t.due <= end && (!next || t.due < next.due || (t.due === next.due && t.id < next.id))) next = t;
      if (!next) break;
      this.time = next.due;
      if (next.every !== undefined) {
        // Re-armed before it runs, as Node does: the callback may clear it.
        this.timers.delete(next.id);
        next.id = this.nextId++;
        next.due += next.every;
        this.timers.set(next.id, next);
      } else {
        this.timers.delete(next.id);
      }
      ran++;
      next.fn();
    }
    this.time = end;
    return ran;
  }

  private add(fn: () => void, ms: number, every?: number): Timer {
    const timer: Timer = {
      id: this.nextId++,
      due: this.time + Math.max(0, ms),
      every,
      fn,
      unref() {
        return this;
      },
    };
    this.timers.set(timer.id, timer);
    return timer;
  }
}
