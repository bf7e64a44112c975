// Live transfer progress (-P) and periodic stats (--stats), as rclone 1.60
// prints them. On a terminal -P redraws the stats block in place every 500 ms
// (erase-line / cursor-up ANSI codes) and prints log lines above it; elsewhere
// the same blocks are printed one after another without control codes. Without
// -P, the stats block is logged every --stats interval at the stats log level.
import type { Writable } from 'node:stream';
import { log, type LogLevel } from '../log.js';
import { flagBool, flagNumber, flagString } from './args.js';
import type { CommandContext } from './command.js';
import type { TransferStats } from './stats.js';

/** rclone's terminal codes (lib/terminal). */
export const EraseLine = '\x1b[2K';
export const MoveUp = '\x1b[1A';
export const MoveToStartOfLine = '\x1b[1G';

export const DEFAULT_PROGRESS_INTERVAL_MS = 500;

export interface ProgressOptions {
  /** Whether `out` is a terminal: redraw in place with ANSI codes. */
  tty: boolean;
  /** Terminal width; lines are cut to it on a terminal. */
  columns?: () => number;
}

/**
 * The -P display: a block of lines (rclone's stats) kept at the bottom of the
 * output, redrawn in place; log messages are printed above it.
 */
export class ProgressDisplay {
  /** Lines of the block last drawn (0 before the first draw). */
  private lines = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly out: Writable,
    private readonly render: () => string,
    private readonly options: ProgressOptions,
  ) {}

  /** Redraws the block, printing `logMessage` above it first (rclone's printProgress). */
  print(logMessage = ''): void {
    const stats = this.render().trim();
    const message = logMessage.trim();
    const blockLines = stats.split('\n');
    if (!this.options.tty) {
      // No terminal, no cursor movement: log lines as they come, the block on each tick.
      this.out.write(message ? `${message}\n` : `${stats}\n\n`);
      return;
    }
    const width = Math.max(1, this.options.columns?.() ?? 80);
    let buf = '';
    if (message) buf += `\n${MoveUp}`;
    // Back to the first line of the previous block, erasing it.
    for (let i = 0; i < this.lines - 1; i++) buf += EraseLine + MoveUp;
    buf += EraseLine + MoveToStartOfLine;
    if (message) buf += `${EraseLine}${message}\n`;
    this.lines = blockLines.length;
    buf += blockLines.map((l) => (l.length > width ? l.slice(0, width) : l)).join('\n');
    this.out.write(buf);
  }

  start(intervalMs = DEFAULT_PROGRESS_INTERVAL_MS): void {
    this.timer = setInterval(() => this.print(), intervalMs);
  }

  /** Final redraw, then a newline so the shell prompt starts below the block. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.print();
    if (this.options.tty) this.out.write('\n');
  }
}

/**
 * While -P runs (and logs are not going to a file), log lines written to stderr
 * are shown above the progress block instead, as rclone does. Returns the undo.
 */
function interceptLogs(display: ProgressDisplay): () => void {
  const stderr = process.stderr;
  const original = stderr.write;
  let pending = '';
  stderr.write = function (chunk: string | Uint8Array, ...rest: unknown[]): boolean {
    pending += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    // A log record may span lines (the stats block); print complete records only.
    if (pending.endsWith('\n')) {
      // rclone's progress log lines carry the date as 2006-01-02.
      const text = pending.replace(/^(\d{4})\/(\d\d)\/(\d\d) /gm, '$1-$2-$3 ');
      pending = '';
      display.print(text);
    }
    const cb = rest.find((a) => typeof a === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  } as typeof stderr.write;
  return () => {
    stderr.write = original;
    if (pending) original.call(stderr, pending);
  };
}

export interface StatsOutputOptions {
  /** The command shows stats (copy, sync, check...), or --stats was given. */
  showStats: boolean;
  /** --stats interval in ms (0 = off). */
  statsInterval: number;
  /** Level the periodic stats are logged at. */
  level: LogLevel;
}

/**
 * Starts what the flags ask for: the -P display, or periodic stats logging.
 * Returns a function that stops it (drawing the final state).
 */
export function startStatsOutput(ctx: CommandContext, stats: TransferStats, o: StatsOutputOptions): () => Promise<void> {
  const flags = ctx.flags;
  const format = { oneLine: flagBool(flags, 'stats-one-line'), fileNameLength: flagNumber(flags, 'stats-file-name-length') || 45 };
  if (flagBool(flags, 'progress')) {
    const out = ctx.stdout as Writable & { isTTY?: boolean; columns?: number };
    const display = new ProgressDisplay(out, () => stats.string(format), {
      tty: out.isTTY === true,
      columns: () => out.columns ?? 80,
    });
    const statsGiven = flagString(flags, 'stats') !== '' && flagString(flags, 'stats') !== '1m0s';
    const restore = flagString(flags, 'log-file') ? () => undefined : interceptLogs(display);
    display.start(statsGiven && o.statsInterval > 0 ? o.statsInterval : DEFAULT_PROGRESS_INTERVAL_MS);
    return async () => {
      display.stop();
      restore();
    };
  }
  if (o.showStats && o.statsInterval > 0 && Number.isFinite(o.statsInterval)) {
    const timer = setInterval(() => log[o.level](stats.string(format)), o.statsInterval);
    timer.unref();
    return async () => clearInterval(timer);
  }
  return async () => undefined;
}
