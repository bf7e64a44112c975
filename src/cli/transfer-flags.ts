// The settings of the transfer commands: rclone's transfer flags (--checksum,
// --delete-*, --track-renames, --retries, --stats-*, --bwlimit, ...), the
// checks rclone makes on their values while parsing, the TransferOptions they
// turn into, and the --bwlimit token bucket.
import { errorMessage } from '../errors.js';
import { flagBool, flagNumber, flagString, type FlagSpec, type FlagValues } from './args.js';
import { Filter, filterFromFlags } from './filter.js';
import { FlagValueError, TransferStats, parseDuration, parseSizeSuffix, parseTimeDuration } from './stats.js';
import { MAX_BACKLOG } from './concurrency.js';

export type DeleteMode = 'before' | 'during' | 'after';
export type RenameStrategy = 'hash' | 'modtime' | 'leaf';

export interface TransferOptions {
  /** The command's: fires on Ctrl-C, ending the transfers and listings in flight. */
  signal?: AbortSignal;
  transfers: number;
  checkers: number;
  /** Checks and transfers decided but not finished before the directory walk waits (--max-backlog). */
  maxBacklog: number;
  /** List S3/Swift sides whole at once, held in memory (--fast-list). */
  fastList: boolean;
  dryRun: boolean;
  /** Skip files that exist on the destination, whatever they hold. */
  ignoreExisting: boolean;
  /** Compare by size only. */
  sizeOnly: boolean;
  /** Transfer even when size and time match. */
  ignoreTimes: boolean;
  /** Compare by size and hash instead of size and time (--checksum). */
  checksum: boolean;
  /** Skip files that are newer on the destination (--update). */
  update: boolean;
  /** Don't fix up a differing mtime on the destination when the contents are the same. */
  noUpdateModTime: boolean;
  /** Levels to descend; negative = unlimited. */
  maxDepth: number;
  filter: Filter;
  stats: TransferStats;
  /** Create empty source directories on the destination. */
  createEmptySrcDirs: boolean;
  /** move: remove source directories left empty. */
  deleteEmptySrcDirs: boolean;
  /** sync: when to delete destination files the source lacks. */
  deleteMode: DeleteMode;
  /** sync: move renamed files on the destination instead of delete + copy. */
  trackRenames: boolean;
  trackRenamesStrategy: RenameStrategy[];
  /** Shared bandwidth limit, if any. */
  bwlimit?: TokenBucket;
  /** -M: copy the source's metadata (mode, owner, times, user keys) with each object, as rclone does. */
  metadata?: boolean;
}

/**
 * A token bucket for --bwlimit: `take` waits while the bytes already let through
 * are ahead of the rate. Pieces may be larger than the bucket: the debt is paid
 * by waiting before the next piece.
 */
export class TokenBucket {
  private available = 0;
  private last = Date.now();
  /** Unused allowance kept for later bursts: a tenth of a second's worth. Debt is paid by waiting. */
  private readonly burst: number;

  constructor(readonly bytesPerSecond: number) {
    this.burst = bytesPerSecond / 10;
  }

  /** Lets `n` bytes through, waiting as long as they take at the rate. */
  async take(n: number): Promise<void> {
    const now = Date.now();
    this.available = Math.min(this.burst, this.available + ((now - this.last) * this.bytesPerSecond) / 1000) - n;
    this.last = now;
    if (this.available < 0) {
      await new Promise((r) => setTimeout(r, Math.ceil((-this.available * 1000) / this.bytesPerSecond)));
    }
  }
}

/** Global flags of the transfer commands (rclone's names and defaults). */
export const transferFlags: FlagSpec[] = [
  { name: 'checksum', short: 'c', type: 'bool', help: 'Check for changes with size & checksum (if available, or fallback to size only).' },
  { name: 'update', short: 'u', type: 'bool', help: 'Skip files that are newer on the destination' },
  { name: 'no-update-modtime', type: 'bool', help: "Don't update destination mod-time if files identical" },
  { name: 'delete-before', type: 'bool', help: 'When synchronizing, delete files on destination before transferring' },
  { name: 'delete-during', type: 'bool', help: 'When synchronizing, delete files during transfer' },
  { name: 'delete-after', type: 'bool', help: 'When synchronizing, delete files on destination after transferring (default)' },
  { name: 'track-renames', type: 'bool', help: 'When synchronizing, track file renames and do a server-side move if possible' },
  { name: 'track-renames-strategy', type: 'string', default: 'hash', help: 'Strategies to use when synchronizing using track-renames hash|modtime|leaf' },
  { name: 'retries', type: 'int', default: 3, help: 'Retry operations this many times if they fail' },
  { name: 'retries-sleep', type: 'string', default: '0s', help: 'Interval between retrying operations if they fail, e.g. 500ms, 60s, 5m (0 to disable)' },
  { name: 'stats-one-line', type: 'bool', help: 'Make the stats fit on one line' },
  { name: 'stats-file-name-length', type: 'int', default: 45, help: 'Max file name length in stats (0 for no limit)' },
  { name: 'stats-log-level', type: 'string', default: 'INFO', help: 'Log level to show --stats output DEBUG|INFO|NOTICE|ERROR' },
  { name: 'bwlimit', type: 'string', default: 'off', help: 'Bandwidth limit in KiB/s, or use suffix B|K|M|G|T|P' },
  { name: 'create-empty-src-dirs', type: 'bool', help: 'Create empty source dirs on destination after sync' },
  { name: 'metadata', short: 'M', type: 'bool', help: 'If set, preserve metadata when copying objects' },
  // Downloads from S3/Swift: parallel ranged GETs ahead of the reader (src/remote/parallel-read.ts).
  { name: 'multi-thread-streams', type: 'int', default: 4, help: 'Number of ranged GETs in flight per file read from an object store (1: one GET per read)' },
  { name: 'multi-thread-chunk-size', type: 'string', default: '16Mi', help: 'Bytes per ranged GET of a multi-thread download' },
  { name: 'max-buffer-memory', type: 'string', default: '64Mi', help: 'Most memory all multi-thread downloads together hold ahead of their readers' },
  // rclone's default is 256Mi (for copy only); here reads of any size gain from parallel GETs, so 0.
  { name: 'multi-thread-cutoff', type: 'string', default: '0', help: 'Use multi-thread downloads for objects of at least this size' },
  // Accepted so rclone command lines keep working: downloads are not written at offsets here.
  { name: 'multi-thread-write-buffer-size', type: 'string', default: '128Ki', help: 'In memory buffer size for writing when in multi-thread mode (accepted, no effect)' },
];

/** The download parallelism the flags set (--multi-thread-streams, --multi-thread-chunk-size, --max-buffer-memory). */
export function parallelReadsFromFlags(flags: FlagValues): { streams: number; chunkSize: number; maxMemory: number; cutoff: number } {
  const streams = flags['multi-thread-streams'] === undefined ? 4 : flagNumber(flags, 'multi-thread-streams');
  const chunk = parseSizeSuffix(flagString(flags, 'multi-thread-chunk-size') || '16Mi');
  // Whole crypt blocks (65,552 bytes) per part, so a part never splits a block needlessly.
  const chunkSize = Math.max(1, Math.round(chunk / 65_552)) * 65_552;
  const memory = parseSizeSuffix(flagString(flags, 'max-buffer-memory') || '64Mi');
  const cutoff = Math.max(0, parseSizeSuffix(flagString(flags, 'multi-thread-cutoff') || '0'));
  return { streams: Math.max(1, streams), chunkSize, maxMemory: memory < 0 ? Infinity : memory, cutoff };
}

/**
 * A flag value rclone would refuse while parsing the command line: the message,
 * and whether it is shown with the usage (invalid arguments) or alone.
 */
export function flagValueProblem(flags: FlagValues): { message: string; usage: boolean } | undefined {
  const check = (name: string, parse: (v: string) => unknown): string | undefined => {
    const v = flags[name];
    if (v === undefined || v === '') return undefined;
    try {
      parse(String(v));
      return undefined;
    } catch (err) {
      return `invalid argument ${JSON.stringify(String(v))} for "--${name}" flag: ${errorMessage(err)}`;
    }
  };
  const level = (v: string) => {
    if (!['DEBUG', 'INFO', 'NOTICE', 'ERROR'].includes(v.toUpperCase())) throw new FlagValueError(`unknown log level ${JSON.stringify(v)}`);
  };
  const invalid =
    check('bwlimit', (v) => parseSizeSuffix(v)) ??
    check('min-size', (v) => parseSizeSuffix(v)) ??
    check('max-size', (v) => parseSizeSuffix(v)) ??
    check('stats', parseTimeDuration) ??
    check('retries-sleep', parseTimeDuration) ??
    check('min-age', parseDuration) ??
    check('max-age', parseDuration) ??
    check('stats-log-level', level) ??
    check('multi-thread-chunk-size', (v) => {
      if (parseSizeSuffix(v) < 64 * 1024) throw new FlagValueError('must be at least 64Ki');
    }) ??
    check('max-buffer-memory', (v) => parseSizeSuffix(v)) ??
    check('multi-thread-cutoff', (v) => parseSizeSuffix(v)) ??
    check('multi-thread-write-buffer-size', (v) => parseSizeSuffix(v));
  if (invalid) return { message: invalid, usage: true };
  if (['delete-before', 'delete-during', 'delete-after'].filter((f) => flagBool(flags, f)).length > 1) {
    return { message: 'Only one of --delete-before, --delete-during or --delete-after can be used.', usage: false };
  }
  return undefined;
}

/** The transfer settings the flags describe. Throws FlagValueError for bad values. */
export function transferOptionsFromFlags(flags: FlagValues, stats = new TransferStats()): TransferOptions {
  const deleteFlags = ['delete-before', 'delete-during', 'delete-after'].filter((f) => flagBool(flags, f));
  if (deleteFlags.length > 1) throw new FlagValueError('Only one of --delete-before, --delete-during or --delete-after can be used.');
  let deleteMode: DeleteMode = deleteFlags[0] === 'delete-before' ? 'before' : deleteFlags[0] === 'delete-during' ? 'during' : 'after';
  const trackRenames = flagBool(flags, 'track-renames');
  if (trackRenames) deleteMode = 'after'; // rclone: --track-renames forces --delete-after
  const strategies = (flagString(flags, 'track-renames-strategy') || 'hash').split(',').map((s) => s.trim());
  for (const s of strategies) {
    if (!['hash', 'modtime', 'leaf'].includes(s)) throw new FlagValueError(`unknown track renames strategy ${JSON.stringify(s)}`);
  }
  const bw = parseSizeSuffix(flagString(flags, 'bwlimit') || 'off');
  return {
    transfers: Math.max(1, flagNumber(flags, 'transfers') || 4),
    checkers: Math.max(1, flagNumber(flags, 'checkers') || 8),
    maxBacklog: Math.max(1, flagNumber(flags, 'max-backlog') || MAX_BACKLOG),
    fastList: flagBool(flags, 'fast-list'),
    dryRun: flagBool(flags, 'dry-run'),
    ignoreExisting: flagBool(flags, 'ignore-existing'),
    sizeOnly: flagBool(flags, 'size-only'),
    ignoreTimes: flagBool(flags, 'ignore-times'),
    checksum: flagBool(flags, 'checksum'),
    update: flagBool(flags, 'update'),
    noUpdateModTime: flagBool(flags, 'no-update-modtime'),
    maxDepth: flags['max-depth'] === undefined ? -1 : flagNumber(flags, 'max-depth'),
    filter: filterFromFlags(flags),
    stats,
    createEmptySrcDirs: flagBool(flags, 'create-empty-src-dirs'),
    deleteEmptySrcDirs: flagBool(flags, 'delete-empty-src-dirs'),
    deleteMode,
    trackRenames,
    trackRenamesStrategy: strategies as RenameStrategy[],
    bwlimit: bw > 0 ? new TokenBucket(bw) : undefined,
    metadata: flagBool(flags, 'metadata'),
  };
}

export const defaultTransferOptions = (): TransferOptions => ({
  transfers: 4,
  checkers: 8,
  maxBacklog: MAX_BACKLOG,
  fastList: false,
  dryRun: false,
  ignoreExisting: false,
  sizeOnly: false,
  ignoreTimes: false,
  checksum: false,
  update: false,
  noUpdateModTime: false,
  maxDepth: -1,
  filter: new Filter(),
  stats: new TransferStats(),
  createEmptySrcDirs: false,
  deleteEmptySrcDirs: false,
  deleteMode: 'after',
  trackRenames: false,
  trackRenamesStrategy: ['hash'],
});
