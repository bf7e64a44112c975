// Deleting the files of a tree (delete, and purge where a remote has no purge of its own), and the
// empty directories left behind.
import { errorMessage } from '../errors.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import type { Remote } from '../remote/remote.js';
import { JobQueue, WorkSet } from './concurrency.js';
import type { Filter } from './filter.js';
import type { TransferStats } from './stats.js';
import { walk } from './walk.js';

export interface DeleteOptions {
  /** Deletions at a time, and directory listings in flight (--checkers). */
  checkers: number;
  /** Files found and not yet deleted before the walk waits (--max-backlog). */
  maxBacklog: number;
  /** Log what would be deleted instead (--dry-run). */
  dryRun: boolean;
  /** Only the files it lets through (delete obeys --include/--exclude; purge does not). */
  filter?: Filter;
  /** This one file instead of a walk of the whole remote. */
  file?: string;
  signal?: AbortSignal;
}

/**
 * Deletes the files a walk of `remote` finds while it walks, as rclone's delete does (a channel of
 * objects read by workers): `checkers` deletions at a time, and at most `maxBacklog` files found
 * and not yet deleted before the walk waits. A tree of any size is then deleted in bounded memory,
 * the first deletions start with the first listing, and a slow deletion holds up only its worker
 * (deleting in fixed batches made each batch wait for its slowest one). A failed deletion is logged
 * and counted in `stats`; the others go on. Returns the directories the walk found.
 */
export async function deleteWalkedFiles(remote: Remote, stats: TransferStats, options: DeleteOptions): Promise<string[]> {
  const work = new WorkSet();
  const deletions = new JobQueue<string>(work, Math.max(1, options.checkers), async (path) => {
    if (options.dryRun) {
      log.notice(`${logPath(path)}: Skipped delete as --dry-run is set`);
      return;
    }
    try {
      await remote.delete(path);
      stats.deletes++;
      log.info(`${logPath(path)}: Deleted`);
    } catch (err) {
      stats.error(err);
      log.error(`${logPath(path)}: Couldn't delete: ${errorMessage(err)}`);
    }
  });
  const dirs: string[] = [];
  try {
    if (options.file !== undefined) {
      deletions.push(options.file);
      return dirs;
    }
    // No modification times: an object store would read each object's metadata for one.
    const walkOptions = { concurrency: options.checkers, signal: options.signal, filter: options.filter, modTimes: false };
    for await (const e of walk(remote, '', walkOptions)) {
      if (e.isDir) {
        dirs.push(e.path);
        continue;
      }
      await work.below(Math.max(1, options.maxBacklog));
      deletions.push(e.path);
    }
    return dirs;
  } finally {
    // Also when a listing failed: the deletions already under way end before that is reported.
    await work.drain();
  }
}

/** Removes the directories that are empty, deepest first; one that is not is left (logged at debug). */
export async function removeEmptyDirs(remote: Remote, dirs: string[], dryRun: boolean): Promise<void> {
  for (const d of [...dirs].sort((a, b) => b.split('/').length - a.split('/').length || b.localeCompare(a))) {
    if (dryRun) {
      log.notice(`${logPath(d)}: Skipped remove directory as --dry-run is set`);
      continue;
    }
    await remote.rmdir(d).catch((err) => log.debug(`${logPath(d)}: not removed: ${errorMessage(err)}`));
  }
}

/**
 * purge on a remote without a purge of its own (rclone's operations.Purge): every file, then the
 * directories and the root. When a deletion failed (counted in `stats`, for the caller to report),
 * no directory is removed.
 */
export async function purgeByDeleting(remote: Remote, stats: TransferStats, options: DeleteOptions): Promise<void> {
  const dirs = await deleteWalkedFiles(remote, stats, { ...options, filter: undefined, file: undefined });
  if (stats.errors > 0) return;
  await removeEmptyDirs(remote, [...dirs, ''], options.dryRun);
  if (!options.dryRun) {
    // The root itself must be gone; rmdir('') above reports nothing on failure, so check.
    const left = await remote.stat('').then(
      () => true,
      () => false,
    );
    if (left && remote.features.realDirectories) await remote.rmdir('');
  }
}
