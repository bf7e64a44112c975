// Copying between remotes: a directory "march" (list source and destination
// side by side, one directory at a time), skip-if-unchanged by size and
// modification time, and bounded parallel transfers.
import { CryptfsError, DirNotFoundError, ObjectNotFoundError, RemoteIOError, errorMessage } from '../errors.js';
import { log } from '../log.js';
import type { Remote, RemoteEntry } from '../remote/remote.js';
import { joinPath } from '../remote/remote.js';
import { TransferStats } from './stats.js';

export interface TransferOptions {
  transfers: number;
  checkers: number;
  dryRun: boolean;
  /** Skip files that exist on the destination, whatever they hold. */
  ignoreExisting: boolean;
  /** Compare by size only. */
  sizeOnly: boolean;
  /** Transfer even when size and time match. */
  ignoreTimes: boolean;
  /** Return false to leave a path out (filters). */
  include?: (path: string, isDir: boolean) => boolean;
  stats: TransferStats;
}

export const defaultTransferOptions = (): TransferOptions => ({
  transfers: 4,
  checkers: 8,
  dryRun: false,
  ignoreExisting: false,
  sizeOnly: false,
  ignoreTimes: false,
  stats: new TransferStats(),
});

/** A simple counting semaphore. */
export class Limiter {
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiters.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiters.shift()?.();
    }
  }
}

async function listAll(remote: Remote, dir: string): Promise<RemoteEntry[]> {
  const out: RemoteEntry[] = [];
  for await (const e of remote.list(dir)) out.push(e);
  return out;
}

/** Modification times equal within 1 ms (our common precision) or within the remote's own. */
export function sameTime(a: Date, b: Date): boolean {
  return Math.abs(a.getTime() - b.getTime()) < 1;
}

/** Whether `dst` already holds what `src` has (rclone's default size + modtime check). */
export function unchanged(src: RemoteEntry, dst: RemoteEntry, opts: TransferOptions): boolean {
  if (opts.ignoreTimes) return false;
  if (src.size !== dst.size) return false;
  if (opts.sizeOnly) return true;
  return sameTime(src.mtime, dst.mtime);
}

/** Copies one object; verifies the size that arrived. */
export async function copyObject(
  src: Remote,
  srcEntry: RemoteEntry,
  dst: Remote,
  dstPath: string,
  opts: TransferOptions,
): Promise<void> {
  const stats = opts.stats;
  if (opts.dryRun) {
    log.notice(`${dstPath}: Skipped copy as --dry-run is set (size ${srcEntry.size})`);
    return;
  }
  const source = await src.openRead(srcEntry.path);
  const written = await dst.write(dstPath, stats.count(dstPath, source, srcEntry.size), {
    mtime: srcEntry.mtime,
    size: srcEntry.size,
  });
  if (srcEntry.size >= 0 && written.size !== srcEntry.size) {
    // Never leave a file that looks complete but is not.
    await dst.delete(dstPath).catch(() => undefined);
    throw new RemoteIOError(
      `corrupted on transfer: sizes differ ${srcEntry.size} vs ${written.size}`,
      { retryable: true },
    );
  }
  stats.files++;
  log.info(`${dstPath}: Copied (new)`);
}

interface Work {
  transfers: Promise<void>[];
}

/**
 * Copies every file under `srcDir` of `src` to `dstDir` of `dst`, skipping unchanged ones.
 * Errors of single files are logged and counted; the copy goes on.
 */
export async function copyTree(
  src: Remote,
  srcDir: string,
  dst: Remote,
  dstDir: string,
  opts: TransferOptions,
  onDstEntry?: (kept: Set<string>) => void,
): Promise<TransferStats> {
  const stats = opts.stats;
  const dirLimiter = new Limiter(Math.max(1, opts.checkers));
  const fileLimiter = new Limiter(Math.max(1, opts.transfers));
  const work: Work = { transfers: [] };
  const kept = new Set<string>();

  const marchDir = async (rel: string): Promise<void> => {
    const [srcEntries, dstEntries] = await dirLimiter.run(() =>
      Promise.all([
        listAll(src, joinPath(srcDir, rel)),
        listAll(dst, joinPath(dstDir, rel)).catch((err) => {
          if (err instanceof DirNotFoundError || err instanceof ObjectNotFoundError) return [] as RemoteEntry[];
          throw err;
        }),
      ]),
    );
    const strip = (base: string, p: string) => (base === '' ? p : p.slice(base.length + 1));
    const dstByName = new Map(dstEntries.map((e) => [strip(joinPath(dstDir, rel), e.path), e]));
    const subdirs: Promise<void>[] = [];
    for (const s of srcEntries) {
      const name = strip(joinPath(srcDir, rel), s.path);
      const relPath = joinPath(rel, name);
      if (opts.include && !opts.include(relPath, s.isDir)) continue;
      kept.add(relPath);
      if (s.isDir) {
        subdirs.push(marchDir(relPath));
        continue;
      }
      stats.totalFiles++;
      stats.totalBytes += Math.max(0, s.size);
      const d = dstByName.get(name);
      if (d && !d.isDir && (opts.ignoreExisting || unchanged(s, d, opts))) {
        stats.checks++;
        stats.totalFiles--;
        stats.totalBytes -= Math.max(0, s.size);
        log.debug(`${relPath}: Unchanged skipping`);
        continue;
      }
      const dstPath = joinPath(dstDir, relPath);
      work.transfers.push(
        fileLimiter.run(() => copyObject(src, s, dst, dstPath, opts)).catch((err) => {
          stats.error(err);
          log.error(`${relPath}: Failed to copy: ${errorMessage(err)}`);
        }),
      );
    }
    await Promise.all(subdirs);
  };

  await marchDir('');
  // Transfers are appended while directories are marched; wait for all of them.
  for (let i = 0; i < work.transfers.length; i++) await work.transfers[i];
  onDstEntry?.(kept);
  return stats;
}

/** Error to end a copy with when some files failed: rclone's "Failed to copy with N errors". */
export function summariseErrors(verb: string, stats: TransferStats): CryptfsError | undefined {
  if (!stats.errors) return undefined;
  const last = stats.lastError;
  const err = new CryptfsError(
    `${verb} with ${stats.errors} error${stats.errors === 1 ? '' : 's'}: last error was: ${errorMessage(last)}`,
    { cause: last },
  );
  err.exitCode = last instanceof CryptfsError ? last.exitCode : 1;
  return err;
}
