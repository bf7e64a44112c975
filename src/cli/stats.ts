// Transfer accounting as rclone keeps it (fs/accounting): bytes, transfers,
// checks, deletes, renames and errors, the queue of work not yet started, and
// the files in flight; printed as rclone's stats block (-v at the end, --stats
// periodically, -P live). Also rclone's unit formatting and flag value parsing
// (SizeSuffix, Duration), which the stats lines and the filter flags share.
import type { ByteSource } from '../remote/remote.js';
import { CryptfsError, errorMessage } from '../errors.js';
import { ExitCode, exitCodeOf } from './exit-codes.js';
import { parseFsDuration, parseGoDuration } from './durations.js';

// ---- units ----

const BINARY_UNITS = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];

/** rclone's SizeSuffix: "0", "8", "97.656Ki", "1Mi" (three decimals unless whole). */
function sizeParts(n: number): [string, string] {
  if (n < 0) return ['off', ''];
  if (n === 0) return ['0', ''];
  let scaled = n;
  let i = 0;
  while (scaled >= 1024 && i < BINARY_UNITS.length - 1) {
    scaled /= 1024;
    i++;
  }
  const text = Math.floor(scaled) === scaled ? scaled.toFixed(0) : scaled.toFixed(3);
  return [text, BINARY_UNITS[i]];
}

/** "28.610Mi", "8", "0": the per-file sizes of the progress lines. */
export function sizeSuffix(n: number): string {
  const [v, s] = sizeParts(Math.trunc(n));
  return v + s;
}

/** "28.706 MiB", "8 B", "0 B": byte totals. */
export function byteUnit(n: number): string {
  const [v, s] = sizeParts(Math.trunc(n));
  return v === 'off' ? v : `${v} ${s}B`;
}

/** "20.055 MiB/s", "0 B/s". */
export function byteRateUnit(n: number): string {
  const [v, s] = sizeParts(Math.trunc(n));
  return v === 'off' ? v : `${v} ${s}B/s`;
}

/** rclone's CountSuffix (decimal): "3", "1.234k", "2M". */
export function countSuffix(n: number): string {
  const units = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
  if (n < 0) return 'off';
  let scaled = n;
  let i = 0;
  while (scaled >= 1000 && i < units.length - 1) {
    scaled /= 1000;
    i++;
  }
  return (Math.floor(scaled) === scaled ? scaled.toFixed(0) : scaled.toFixed(3)) + units[i];
}

/** A flag value that does not parse: rclone prints it as an invalid argument (usage error, exit 1). */
export class FlagValueError extends CryptfsError {}

const SIZE_SYMBOLS: Record<string, number> = { k: 1, m: 2, g: 3, t: 4, p: 5, e: 6 };

/**
 * Parses a SizeSuffix flag value as rclone's SizeSuffix.Set: a number in
 * `defaultUnit` (KiB for --min-size and --bwlimit), or with a suffix: "100B",
 * "10k", "1.5M", "2Gi", "2GiB"; "off" is -1. Errors are rclone's words.
 */
export function parseSizeSuffix(text: string, defaultUnit: 'B' | 'K' = 'K'): number {
  const s = text;
  if (s.length === 0) throw new FlagValueError('empty string');
  if (s.toLowerCase() === 'off') return -1;
  const multiplierOf = (c: string): number | undefined => {
    const e = SIZE_SYMBOLS[c.toLowerCase()];
    return e === undefined ? undefined : 1024 ** e;
  };
  const bad = (c: string) => new FlagValueError(`bad suffix '${c}'`);
  let suffix = s[s.length - 1];
  let suffixLen = 1;
  let multiplier: number | undefined;
  if (/[0-9.]/.test(suffix)) {
    suffixLen = 0;
    multiplier = defaultUnit === 'K' ? 1024 : 1;
  } else if (suffix === 'b' || suffix === 'B') {
    if (s.length > 2 && s[s.length - 2] === 'i') {
      suffix = s[s.length - 3];
      suffixLen = 3;
      multiplier = multiplierOf(suffix);
      if (multiplier === undefined) throw bad(suffix);
    } else multiplier = 1;
  } else if (suffix === 'i' || suffix === 'I') {
    if (s.length > 1) {
      suffix = s[s.length - 2];
      suffixLen = 2;
      multiplier = multiplierOf(suffix);
    }
    if (multiplier === undefined) throw bad(suffix);
  } else {
    multiplier = multiplierOf(suffix);
    if (multiplier === undefined) throw bad(suffix);
  }
  const num = s.slice(0, s.length - suffixLen);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(num)) {
    throw new FlagValueError(`strconv.ParseFloat: parsing ${JSON.stringify(num)}: invalid syntax`);
  }
  const value = Number(num);
  if (value < 0) throw new FlagValueError(`size can't be negative ${JSON.stringify(num)}`);
  return Math.trunc(value * multiplier);
}

/**
 * Parses an fs.Duration flag (--min-age, --max-age) in milliseconds as rclone's
 * fs.ParseDuration does (durations.ts): Go durations ("1m0s", "500ms"), a number
 * with a d|w|M|y suffix or bare seconds, or a date meaning the time since then.
 * "off" is Infinity. Errors are rclone's words, as FlagValueError.
 */
export function parseDuration(text: string): number {
  try {
    return parseFsDuration(text);
  } catch (err) {
    throw new FlagValueError((err as Error).message, { cause: err });
  }
}

/** Parses a time.Duration flag (--stats, --retries-sleep) in milliseconds as Go does; errors are Go's. */
export function parseTimeDuration(text: string): number {
  try {
    return parseGoDuration(text);
  } catch (err) {
    throw new FlagValueError((err as Error).message, { cause: err });
  }
}

/** rclone's fs.Duration ReadableString: "3s", "1d2h23m20s"; `maxUnits` keeps the most significant ones. */
export function readableDuration(ms: number, maxUnits = 0): string {
  let secs = Math.floor(Math.abs(ms) / 1000);
  if (secs === 0) return '0s';
  const parts: string[] = [];
  const units: [string, number][] = [
    ['y', 365 * 86400],
    ['w', 7 * 86400],
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ];
  for (const [suffix, size] of units) {
    const n = Math.floor(secs / size);
    secs -= n * size;
    if (n > 0) parts.push(`${n}${suffix}`);
  }
  const kept = maxUnits > 0 ? parts.slice(0, maxUnits) : parts;
  return (ms < 0 ? '-' : '') + kept.join('');
}

/** Go's time.Duration String for whole seconds: "0s", "5s", "1m30s", "2h0m5s". */
export function goDuration(ms: number): string {
  let s = Math.round(ms / 1000);
  if (s === 0) return '0s';
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}

/** "Elapsed time" as rclone prints it: "0.7s", "1m2.5s", "1h2m3.0s". */
function elapsedText(ms: number): string {
  const wholeMinutes = Math.floor(ms / 60_000) * 60_000;
  const head = wholeMinutes > 0 ? readableDuration(wholeMinutes).replace(/[0s]+$/, '') : '';
  const secs = (Math.floor((ms - wholeMinutes) / 100) / 10).toFixed(1);
  return head + secs;
}

/** a/b as a rounded percentage, or "-". */
function percent(a: number, b: number): string {
  if (a < 0 || b <= 0) return '-';
  return `${Math.floor((a * 100) / b + 0.5)}%`;
}

/** rclone's shortenName: keep both ends, "…" in the middle. */
export function shortenName(name: string, size: number): string {
  const chars = [...name];
  if (size <= 0 || chars.length <= size) return name;
  const keep = size - 1;
  const suffix = Math.floor(keep / 2);
  const prefix = keep - suffix;
  return chars.slice(0, prefix).join('') + '…' + chars.slice(chars.length - suffix).join('');
}

// ---- errors as rclone classifies them ----

/** Errors that retrying the whole command cannot fix (rclone's NoRetryError and FatalError). */
function isNoRetry(err: unknown): boolean {
  const code = exitCodeOf(err);
  return code === ExitCode.noRetryError || code === ExitCode.fatalError;
}

function isFatal(err: unknown): boolean {
  return exitCodeOf(err) === ExitCode.fatalError;
}

// ---- the accounting ----

/** Piece size under --bwlimit. */
const LIMITED_PIECE = 64 * 1024;

/** Seconds the overall speed is averaged over (rclone's averagePeriod). */
const AVERAGE_PERIOD = 16;

/** One file being transferred: its progress and speed. */
export class Transfer {
  done = 0;
  readonly startedAt = Date.now();
  /** Moving average of the speed, updated at most once a second. */
  private avgSpeed = 0;
  private lastSample = { at: Date.now(), done: 0 };

  constructor(
    readonly name: string,
    /** Bytes expected; -1 when unknown (rcat). */
    readonly size: number,
  ) {}

  /** Bytes per second, averaged the way rclone's per-file speed is: sampled once a second, 0 before the first sample. */
  speed(now = Date.now()): number {
    const dt = now - this.lastSample.at;
    if (dt >= 1000) {
      const current = ((this.done - this.lastSample.done) * 1000) / dt;
      this.avgSpeed = this.avgSpeed === 0 ? current : this.avgSpeed * 0.5 + current * 0.5;
      this.lastSample = { at: now, done: this.done };
    }
    return this.avgSpeed;
  }

  /** " name: 45% /100Mi, 10Mi/s, 5s" without the leading " * ". */
  line(nameWidth: number): string {
    const speed = this.speed();
    let eta = '-';
    if (this.size > 0 && speed > 0 && this.done <= this.size) {
      const remaining = ((this.size - this.done) / speed) * 1000;
      eta = remaining >= 1000 ? goDuration(remaining) : '0s';
    }
    const pct = this.size > 0 ? Math.floor((100 * this.done) / this.size) : 0;
    const name = shortenName(this.name, nameWidth).padStart(nameWidth);
    return `${name}:${String(pct).padStart(3)}% /${sizeSuffix(Math.max(this.size, 0))}, ${sizeSuffix(speed)}/s, ${eta}`;
  }
}

export interface StatsFormat {
  /** --stats-one-line */
  oneLine?: boolean;
  /** --stats-file-name-length (default 45) */
  fileNameLength?: number;
}

export class TransferStats {
  started = Date.now();
  /** Bytes moved so far, including the parts of files still in flight. */
  bytes = 0;
  /** Files transferred (completed). */
  transfers = 0;
  checks = 0;
  deletes = 0;
  deletedDirs = 0;
  renames = 0;
  errors = 0;
  lastError?: unknown;
  /** An error that retrying cannot fix was seen. */
  fatalError = false;
  /** An error that retrying may fix was seen. */
  retryError = false;
  /** Transfers decided but not started, and their bytes. */
  transferQueue = 0;
  transferQueueSize = 0;
  /** Checks decided but not started. */
  checkQueue = 0;
  /** Files being transferred now, in start order. */
  readonly transferring = new Map<string, Transfer>();
  /** Files being checked now. */
  readonly checking = new Map<string, number>();
  /** When the first transfer started (for the average rate). */
  private firstTransferAt?: number;

  // ---- transfers ----

  /** A transfer of `size` bytes was decided; it starts later (shows in the totals now). */
  queueTransfer(size: number): void {
    this.transferQueue++;
    this.transferQueueSize += Math.max(0, size);
  }

  /** Takes a queued transfer off the queue (it started, or was dropped). */
  unqueueTransfer(size: number): void {
    this.transferQueue = Math.max(0, this.transferQueue - 1);
    this.transferQueueSize = Math.max(0, this.transferQueueSize - Math.max(0, size));
  }

  /** Starts accounting a transfer; end it with `endTransfer`. */
  startTransfer(name: string, size: number): Transfer {
    const t = new Transfer(name, size);
    this.transferring.set(name, t);
    this.firstTransferAt ??= t.startedAt;
    return t;
  }

  /** Ends a transfer; it counts as transferred unless it failed. */
  endTransfer(t: Transfer, ok: boolean): void {
    if (this.transferring.get(t.name) === t) this.transferring.delete(t.name);
    if (ok) this.transfers++;
  }

  /** Wraps a byte stream so its bytes count against `t` (and pass the bandwidth limit, if any). */
  async *account(t: Transfer, source: ByteSource, limit?: { take(n: number): Promise<void> }): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      if (!limit) {
        t.done += chunk.length;
        this.bytes += chunk.length;
        yield chunk;
        continue;
      }
      // Limited: small pieces, so the rate and the progress are smooth.
      for (let off = 0; off < chunk.length; off += LIMITED_PIECE) {
        const piece = chunk.subarray(off, off + LIMITED_PIECE);
        await limit.take(piece.length);
        t.done += piece.length;
        this.bytes += piece.length;
        yield piece;
      }
    }
  }

  /** Counts a transfer that did not move bytes (--dry-run, server-side move). */
  countBytes(n: number): void {
    this.bytes += Math.max(0, n);
  }

  // ---- checks ----

  queueCheck(): void {
    this.checkQueue++;
  }

  startCheck(name: string): void {
    this.checkQueue = Math.max(0, this.checkQueue - 1);
    this.checking.set(name, (this.checking.get(name) ?? 0) + 1);
  }

  endCheck(name: string): void {
    const n = (this.checking.get(name) ?? 1) - 1;
    if (n <= 0) this.checking.delete(name);
    else this.checking.set(name, n);
    this.checks++;
  }

  // ---- errors ----

  /** Errors already counted, so a command's final error is not counted twice. */
  private readonly counted = new WeakSet<object>();

  error(err: unknown): void {
    if (typeof err === 'object' && err !== null) this.counted.add(err);
    this.errors++;
    this.lastError = err;
    if (isFatal(err)) this.fatalError = true;
    else if (!isNoRetry(err)) this.retryError = true;
  }

  /** Marks an error as accounted for without counting it (it sums errors already counted). */
  markCounted(err: object): void {
    this.counted.add(err);
    this.lastError = err;
  }

  isCounted(err: unknown): boolean {
    return typeof err === 'object' && err !== null && this.counted.has(err);
  }

  errored(): boolean {
    return this.errors > 0;
  }

  /** Between retries: errors are forgotten, the rest of the accounting carries on. */
  resetErrors(): void {
    this.errors = 0;
    this.lastError = undefined;
    this.fatalError = false;
    this.retryError = false;
  }

  // ---- figures ----

  elapsedMs(now = Date.now()): number {
    return now - this.started;
  }

  /**
   * Bytes per second as rclone shows it: a moving average over one-second
   * samples taken from the first transfer on (0 until a second has passed).
   */
  rate(now = Date.now()): number {
    const avg = this.average;
    if (this.firstTransferAt === undefined) return 0;
    avg.lastAt ??= this.firstTransferAt;
    const ticks = Math.floor((now - avg.lastAt) / 1000);
    if (ticks > 0) {
      const elapsed = (now - avg.lastAt) / 1000;
      const sample = (this.bytes - avg.lastBytes) / elapsed;
      avg.period = Math.min(AVERAGE_PERIOD, avg.period + ticks);
      const weight = Math.min(ticks, avg.period);
      avg.speed = (sample * weight + avg.speed * (avg.period - weight)) / avg.period;
      avg.lastAt += ticks * 1000;
      avg.lastBytes = this.bytes;
    }
    return avg.speed;
  }

  private readonly average: { lastAt?: number; lastBytes: number; period: number; speed: number } = {
    lastBytes: 0,
    period: 0,
    speed: 0,
  };

  totals(): { checks: number; transfers: number; bytes: number } {
    let doing = 0;
    let doingSize = 0;
    for (const t of this.transferring.values()) {
      if (t.size >= 0) {
        doing += t.done;
        doingSize += t.size;
      }
    }
    return {
      checks: this.checkQueue + this.checks + this.checking.size,
      transfers: this.transferQueue + this.transfers + this.transferring.size,
      // bytes already includes what in-flight transfers moved
      bytes: this.transferQueueSize + this.bytes + doingSize - doing,
    };
  }

  eta(now = Date.now()): string {
    const total = this.totals().bytes;
    const rate = this.rate(now);
    if (total <= 0 || rate <= 0 || total < this.bytes) return '-';
    return readableDuration(((total - this.bytes) / rate) * 1000, 3);
  }

  /** rclone's stats block (StatsInfo.String), starting with "\n" unless one-line. */
  string(format: StatsFormat = {}): string {
    const now = Date.now();
    const totals = this.totals();
    const nameWidth = format.fileNameLength ?? 45;
    const head = `${byteUnit(this.bytes).padStart(13)} / ${byteUnit(totals.bytes)}, ${percent(this.bytes, totals.bytes)}, ${byteRateUnit(this.rate(now))}, ETA ${this.eta(now)}`;
    if (format.oneLine) {
      const xfrchk: string[] = [];
      if (totals.transfers > 0 && this.transferQueue > 0) xfrchk.push(`xfr#${this.transfers}/${totals.transfers}`);
      if (totals.checks > 0 && this.checkQueue > 0) xfrchk.push(`chk#${this.checks}/${totals.checks}`);
      return head + (xfrchk.length ? ` (${xfrchk.join(', ')})` : '');
    }
    let out = `\nTransferred:   \t${head}\n`;
    if (this.errors) {
      const detail = this.fatalError
        ? ' (fatal error encountered)'
        : this.retryError
          ? ' (retrying may help)'
          : ' (no need to retry)';
      out += `Errors:        ${String(this.errors).padStart(10)}${detail}\n`;
    }
    if (this.checks || totals.checks) {
      out += `Checks:        ${String(this.checks).padStart(10)} / ${totals.checks}, ${percent(this.checks, totals.checks)}\n`;
    }
    if (this.deletes || this.deletedDirs) {
      out += `Deleted:       ${String(this.deletes).padStart(10)} (files), ${this.deletedDirs} (dirs)\n`;
    }
    if (this.renames) out += `Renamed:       ${String(this.renames).padStart(10)}\n`;
    if (this.transfers || totals.transfers) {
      out += `Transferred:   ${String(this.transfers).padStart(10)} / ${totals.transfers}, ${percent(this.transfers, totals.transfers)}\n`;
    }
    out += `Elapsed time:  ${elapsedText(this.elapsedMs(now)).padStart(10)}s\n`;
    const checkingOnly = [...this.checking.keys()].filter((n) => !this.transferring.has(n));
    if (checkingOnly.length) {
      const lines = checkingOnly.map((n) => ` * ${shortenName(n, nameWidth).padStart(nameWidth)}: checking`);
      out += `Checking:\n${lines.join('\n')}\n`;
    }
    if (this.transferring.size) {
      const lines = [...this.transferring.values()]
        .sort((a, b) => a.startedAt - b.startedAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((t) => ` * ${t.line(nameWidth)}`);
      out += `Transferring:\n${lines.join('\n')}\n`;
    }
    return out;
  }

  /** The same figures as rclone's core/stats (for --use-json-log). */
  json(): Record<string, unknown> {
    const totals = this.totals();
    const rate = this.rate();
    const eta = this.eta();
    return {
      bytes: this.bytes,
      checks: this.checks,
      deletedDirs: this.deletedDirs,
      deletes: this.deletes,
      elapsedTime: this.elapsedMs() / 1000,
      errors: this.errors,
      eta: eta === '-' ? null : Math.round((totals.bytes - this.bytes) / rate),
      fatalError: this.fatalError,
      renames: this.renames,
      retryError: this.retryError,
      speed: rate,
      totalBytes: totals.bytes,
      totalChecks: totals.checks,
      totalTransfers: totals.transfers,
      transfers: this.transfers,
      ...(this.errors ? { lastError: errorMessage(this.lastError) } : {}),
    };
  }

  /** Compatibility name for the final block. */
  summary(): string {
    return this.string();
  }
}
