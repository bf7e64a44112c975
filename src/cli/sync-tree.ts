// Copying, syncing and moving whole trees (rclone's fs/sync): marches source
// against destination, compares pairs with --checkers workers, copies with
// --transfers workers, and for sync deletes what the source lacks (after every
// transfer succeeded, by default); --track-renames, empty directories, and the
// refusal to sync or move a tree into itself.
import { errorMessage } from '../errors.js';
import { ExitCode, ExitStatusError } from './exit-codes.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import type { Remote, RemoteEntry } from '../remote/remote.js';
import { baseName, parentPath } from '../remote/remote.js';
import { LocalRemote } from '../remote/local.js';
import { JobQueue, Limiter, WorkSet } from './concurrency.js';
import type { Filter } from './filter.js';
import { march, type MarchItem, type MarchOptions } from './march.js';
import {
  commonHash,
  copyObject,
  deleteObject,
  fsString,
  moveObject,
  needsTransfer,
  removeDirs,
  serverSideMove,
  unwrap,
} from './operations.js';
import { sizeSuffix, type TransferStats } from './stats.js';
import type { TransferOptions } from './transfer-flags.js';

export type SyncMode = 'copy' | 'sync' | 'move';

/**
 * Makes `dst` hold what `src` holds: `copy` adds and replaces, `sync` also
 * deletes what the source lacks (after all transfers succeeded, by default),
 * `move` deletes each source file once it is safely on the destination.
 * Per-file errors are logged and counted in `opts.stats`; the walk goes on.
 * Throws only when the source root cannot be listed.
 */
export async function syncTree(src: Remote, dst: Remote, opts: TransferOptions, mode: SyncMode): Promise<void> {
  if (mode !== 'copy' && overlapping(src, dst, opts.filter)) {
    const err = new OverlappingError('can\'t sync or move files on overlapping remotes (try excluding the destination with a filter rule)');
    opts.stats.error(err);
    throw err;
  }
  await new SyncRun(src, dst, opts, mode).run();
}

/** Syncing or moving a tree into itself: rclone refuses with a fatal error (exit 7). */
class OverlappingError extends ExitStatusError {
  constructor(message: string) {
    super(message, ExitCode.fatalError);
  }
}

/**
 * Whether `src` and `dst` are the same storage with one path inside the other
 * (unless the filter keeps the destination out of the source walk).
 */
function overlapping(src: Remote, dst: Remote, filter: Filter): boolean {
  const a = unwrap(src);
  const b = unwrap(dst);
  let pa: string;
  let pb: string;
  if (a.base instanceof LocalRemote && b.base instanceof LocalRemote) {
    pa = a.base.abs(a.prefix);
    pb = b.base.abs(b.prefix);
  } else if (a.base === b.base) {
    pa = `/${a.prefix}`;
    pb = `/${b.prefix}`;
  } else return false;
  const inside = (inner: string, outer: string) => inner === outer || inner.startsWith(outer.endsWith('/') ? outer : `${outer}/`);
  if (inside(pb, pa) && pb !== pa) {
    // The destination is a directory of the source: fine if the filter leaves it out.
    const rel = pb.slice(pa.length).replace(/^\/+/, '');
    return filter.includeDir(rel);
  }
  return inside(pb, pa) || inside(pa, pb);
}

interface RenameCandidate {
  item: MarchItem & { src: RemoteEntry };
}

/** A queued check: a pair to compare, or a destination file to delete. */
type CheckJob = { kind: 'check'; item: Required<MarchItem> } | { kind: 'delete'; entry: RemoteEntry; rel: string };

/** A queued transfer: a copy (or move) of a source file, or a --track-renames rename on the destination. */
type TransferJob =
  | { kind: 'copy'; rel: string; src: RemoteEntry; replacing: boolean; dstEntry?: RemoteEntry }
  | { kind: 'rename'; rel: string; match: RemoteEntry };

class SyncRun {
  private readonly stats: TransferStats;
  /** --checkers for one-off calls (--track-renames' keys, after the walk's checks have ended). */
  private readonly checkers: Limiter;
  /** Every check, transfer and delete started or queued: the backlog the walk waits on. */
  private readonly work = new WorkSet();
  /** Pair checks and deletes, --checkers at once. */
  private readonly checks: JobQueue<CheckJob>;
  /** Copies, moves and --track-renames' renames, --transfers at once. */
  private readonly transfers: JobQueue<TransferJob>;
  /** move: source to destination on the same storage. */
  private readonly mover?: (from: string, to: string) => Promise<RemoteEntry>;
  /** --track-renames: destination to destination. */
  private readonly renamer?: (from: string, to: string) => Promise<RemoteEntry>;
  /** sync, delete-after: destination files the source lacks. */
  private readonly dstOnly: RemoteEntry[] = [];
  /** sync: destination directories the source lacks (removed at the end if empty). */
  private readonly dstOnlyDirs: string[] = [];
  /** Every source directory (move --delete-empty-src-dirs). */
  private readonly srcDirs: string[] = [];
  /** Source directories with nothing in them, missing on the destination (--create-empty-src-dirs). */
  private readonly emptySrcDirs = new Set<string>();
  private readonly renameCandidates: RenameCandidate[] = [];
  private trackRenames: boolean;

  constructor(
    private readonly src: Remote,
    private readonly dst: Remote,
    private readonly opts: TransferOptions,
    private readonly mode: SyncMode,
  ) {
    this.stats = opts.stats;
    this.checkers = new Limiter(opts.checkers);
    this.checks = new JobQueue(this.work, opts.checkers, (job) => this.runCheck(job));
    this.transfers = new JobQueue(this.work, opts.transfers, (job) => this.runTransfer(job));
    this.mover = mode === 'move' ? serverSideMove(src, dst) : undefined;
    this.renamer = mode === 'sync' && opts.trackRenames ? serverSideMove(dst, dst) : undefined;
    this.trackRenames = mode === 'sync' && opts.trackRenames;
  }

  private marchOptions(): MarchOptions {
    return {
      signal: this.opts.signal,
      filter: this.opts.filter,
      checkers: this.opts.checkers,
      maxDepth: this.opts.maxDepth,
      stats: this.stats,
      unfilteredDst: this.mode === 'sync' && this.opts.filter.deleteExcluded,
      fastList: this.opts.fastList,
      // Times are read only for the files that need them (a pair whose sizes agree; a copy takes the
      // source's from its read), as rclone reads them: over S3/Swift a HEAD each. Renames matched by
      // time need every one.
      modTimes: this.trackRenames && this.opts.trackRenamesStrategy.includes('modtime'),
    };
  }

  async run(): Promise<void> {
    if (this.opts.checksum && !commonHash(this.src, this.dst)) {
      log.notice(`${fsString(this.dst)}: --checksum is in use but the source and destination have no hashes in common; falling back to --size-only`);
    }
    if (this.trackRenames) this.checkTrackRenames();
    if (this.mode === 'sync' && this.opts.deleteMode === 'before') {
      await this.deleteOnlyPass();
      if (this.stats.errored()) {
        log.error(`${fsString(this.dst)}: not deleting files as there were IO errors`);
        return;
      }
    }
    let marchError: unknown;
    try {
      await march(this.src, this.dst, this.marchOptions(), (item) => this.visit(item));
    } catch (err) {
      marchError = err;
    }
    await this.work.drain();
    if (this.trackRenames) await this.doRenames();
    await this.work.drain();

    if (this.opts.createEmptySrcDirs) await this.makeEmptyDirs();
    if (this.mode === 'sync') {
      if (this.opts.deleteMode === 'after') {
        if (this.stats.errored()) log.error(`${fsString(this.dst)}: not deleting files as there were IO errors`);
        else await this.deleteFiles(this.dstOnly);
      }
      if (this.stats.errored()) log.error(`${fsString(this.dst)}: not deleting directories as there were IO errors`);
      else if (this.dst.features.realDirectories) await removeDirs(this.dst, this.dstOnlyDirs, this.opts);
    }
    if (this.mode === 'move' && this.opts.deleteEmptySrcDirs) {
      await removeDirs(this.src, this.srcDirs, this.opts);
    }
    if (this.stats.transfers === 0) log.info('There was nothing to transfer');
    if (marchError) throw marchError;
  }

  /** --track-renames needs a server-side move and (for the hash strategy) a common hash. */
  private checkTrackRenames(): void {
    if (!this.renamer) {
      log.error(`${fsString(this.dst)}: Ignoring --track-renames as the destination does not support server-side move or copy`);
      this.trackRenames = false;
      return;
    }
    if (this.opts.trackRenamesStrategy.includes('hash') && !commonHash(this.src, this.dst)) {
      log.error(`${fsString(this.dst)}: Ignoring --track-renames as the source and destination do not have a common hash`);
      this.trackRenames = false;
    }
  }

  /** --delete-before: a walk that only deletes, before anything is copied. */
  private async deleteOnlyPass(): Promise<void> {
    const dirs: string[] = [];
    try {
      await march(this.src, this.dst, this.marchOptions(), (item) => {
        if (item.dst && !item.src) {
          if (item.dst.isDir) {
            dirs.push(item.rel);
            return true;
          }
          const entry = item.dst;
          this.checks.push({ kind: 'delete', entry, rel: item.rel });
          return false;
        }
        return item.src?.isDir === true && item.dst !== undefined;
      });
    } catch {
      // counted by the march
    }
    await this.work.drain();
    this.dstOnlyDirs.push(...dirs);
  }

  private async visit(item: MarchItem): Promise<boolean> {
    const { src, dst } = item;
    const parent = parentPath(item.rel);
    if (src) this.emptySrcDirs.delete(parent);
    // Directories
    if (src?.isDir || (!src && dst?.isDir)) {
      if (src) {
        this.srcDirs.push(item.rel);
        if (!dst) this.emptySrcDirs.add(item.rel);
        return true;
      }
      // Only on the destination: for sync, everything in it goes.
      if (this.mode === 'sync') {
        this.dstOnlyDirs.push(item.rel);
        return true;
      }
      return false;
    }
    // Backpressure: don't run ahead of the workers without bound.
    await this.work.below(this.opts.maxBacklog);
    if (src && dst) {
      this.stats.queueCheck();
      this.checks.push({ kind: 'check', item: item as Required<MarchItem> });
    } else if (src) {
      if (this.trackRenames) this.renameCandidates.push({ item: item as MarchItem & { src: RemoteEntry } });
      else this.queueTransfer(item.rel, src, false);
    } else if (dst && this.mode === 'sync') {
      if (this.opts.deleteMode === 'during') {
        this.checks.push({ kind: 'delete', entry: dst, rel: item.rel });
      } else if (this.opts.deleteMode === 'after') {
        this.dstOnly.push(dst);
      }
    }
    return false;
  }

  /** A file on both sides: transfer it, or leave it (and for move, delete the source). */
  private async checkPair(item: Required<MarchItem>): Promise<void> {
    const { rel, src, dst } = item;
    this.stats.startCheck(rel);
    let transfer = false;
    try {
      transfer = await needsTransfer(this.src, src, this.dst, dst, rel, this.opts);
    } catch (err) {
      this.stats.error(err);
      log.error(`${logPath(rel)}: Failed to check: ${errorMessage(err)}`);
      return;
    } finally {
      this.stats.endCheck(rel);
    }
    if (transfer) {
      this.queueTransfer(rel, src, true, dst);
    } else if (this.mode === 'move') {
      // Already there: the source copy is surplus.
      await deleteObject(this.src, src, rel, this.opts).catch(() => undefined);
    }
  }

  private queueTransfer(rel: string, src: RemoteEntry, replacing: boolean, dstEntry?: RemoteEntry): void {
    this.stats.queueTransfer(src.size);
    this.transfers.push({ kind: 'copy', rel, src, replacing, dstEntry });
  }

  private async runCheck(job: CheckJob): Promise<void> {
    if (job.kind === 'check') await this.checkPair(job.item);
    else await deleteObject(this.dst, job.entry, job.rel, this.opts).catch(() => undefined);
  }

  private async runTransfer(job: TransferJob): Promise<void> {
    if (job.kind === 'rename') return this.renameOne(job.rel, job.match);
    const { rel, src, replacing, dstEntry } = job;
    this.stats.unqueueTransfer(src.size);
    try {
      if (this.mode === 'move') await this.moveOne(rel, src, replacing);
      else await copyObject(this.src, src, this.dst, dstEntry?.path ?? rel, this.opts, { name: rel, replacing });
    } catch (err) {
      this.stats.error(err);
      // Interrupted: rclone's signal handler exits without a line per transfer.
      if (!this.opts.signal?.aborted) {
        log.error(`${logPath(rel)}: Failed to ${this.mode === 'move' ? 'move' : 'copy'}: ${errorMessage(err)}`);
      }
    }
  }

  /** Moves one file: server-side where the storage allows it, else copy then delete the source. */
  private async moveOne(rel: string, src: RemoteEntry, replacing: boolean): Promise<void> {
    await moveObject(this.src, src, this.dst, rel, this.opts, { name: rel, replacing, mover: this.mover });
  }

  private async deleteFiles(entries: RemoteEntry[]): Promise<void> {
    // Destination paths are relative to the destination root, which is what messages show.
    for (const e of entries) {
      this.checks.push({ kind: 'delete', entry: e, rel: e.path });
    }
    await this.work.drain();
  }

  private async makeEmptyDirs(): Promise<void> {
    for (const d of [...this.emptySrcDirs].sort()) {
      if (this.opts.dryRun) {
        log.notice(`${logPath(d)}: Skipped make directory as --dry-run is set`);
        continue;
      }
      try {
        await this.dst.mkdir(d);
        log.debug(`${logPath(d)}: Making directory`);
      } catch (err) {
        this.stats.error(err);
        log.error(`${logPath(d)}: Failed to make directory: ${errorMessage(err)}`);
      }
    }
  }

  /** --track-renames: a new source file that matches a destination file about to be deleted is moved there. */
  private async doRenames(): Promise<void> {
    log.info(`${fsString(this.dst)}: Making map for --track-renames`);
    const strategies = this.opts.trackRenamesStrategy;
    const ht = strategies.includes('hash') ? commonHash(this.src, this.dst) : undefined;
    const keyOf = async (remote: Remote, e: RemoteEntry): Promise<string | undefined> => {
      const parts = [String(e.size)];
      if (strategies.includes('modtime')) parts.push(String(e.mtime.getTime()));
      if (strategies.includes('leaf')) parts.push(baseName(e.path));
      if (ht) {
        const h = await remote.hash!(e.path, ht).catch(() => undefined);
        if (!h) return undefined;
        parts.push(h);
      }
      return parts.join('\0');
    };
    const byKey = new Map<string, RemoteEntry[]>();
    for (const d of this.dstOnly) {
      const key = await this.checkers.run(() => keyOf(this.dst, d));
      if (key === undefined) continue;
      const list = byKey.get(key) ?? [];
      list.push(d);
      byKey.set(key, list);
    }
    log.info(`${fsString(this.dst)}: Finished making map for --track-renames`);
    for (const { item } of this.renameCandidates) {
      const key = await this.checkers.run(() => keyOf(this.src, item.src));
      const match = key === undefined ? undefined : byKey.get(key)?.shift();
      if (!match) {
        this.queueTransfer(item.rel, item.src, false);
        continue;
      }
      this.dstOnly.splice(this.dstOnly.indexOf(match), 1);
      this.transfers.push({ kind: 'rename', rel: item.rel, match });
    }
  }

  /** --track-renames: moves destination file `match` to `rel` on the destination. */
  private async renameOne(rel: string, match: RemoteEntry): Promise<void> {
    this.stats.startCheck(rel);
    try {
      if (this.opts.dryRun) {
        log.notice(`${logPath(match.path)}: Skipped move as --dry-run is set (size ${sizeSuffix(match.size)})`);
      } else {
        await this.renamer!(match.path, rel);
        log.info(`${logPath(match.path)}: Moved (server-side) to: ${logPath(rel)}`);
        log.info(`${logPath(rel)}: Renamed from ${JSON.stringify(logPath(match.path))}`);
      }
      this.stats.renames++;
      this.stats.countBytes(match.size);
    } catch (err) {
      this.stats.error(err);
      log.error(`${logPath(rel)}: Failed to rename: ${errorMessage(err)}`);
    } finally {
      this.stats.endCheck(rel);
    }
  }
}
