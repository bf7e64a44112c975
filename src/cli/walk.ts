// Recursive listing with several directory listings in flight at once
// (rclone's --checkers), yielding entries as they arrive.
import type { ListOptions, Remote, RemoteEntry } from '../remote/remote.js';
import type { Filter } from './filter.js';

export interface WalkOptions {
  /** 1 = only the directory itself; undefined/negative = unlimited. */
  maxDepth?: number;
  /** Directory listings in flight. */
  concurrency?: number;
  /** Called for each directory; return false to skip descending into it. */
  descend?: (dir: RemoteEntry) => boolean;
  /** rclone's --include/--exclude/... rules: excluded files are not yielded, excluded directories not entered. */
  filter?: Filter;
  /** false: the caller needs no modification times (ListOptions.modTimes); an age filter needs them anyway. */
  modTimes?: boolean;
  /** Ends the listings (Ctrl-C). */
  signal?: AbortSignal;
}

/**
 * Yields every entry under `dir` (not `dir` itself). Errors of sub-listings propagate. Where the
 * remote lists a whole tree at once (S3, Swift) and nothing limits the walk's depth or prunes
 * directories, as rclone's walk.ListR does, one recursive listing (a request per ~1,000 objects,
 * not per directory; entries in the store's order); else directory by directory, each sorted.
 */
export async function* walk(remote: Remote, dir: string, options: WalkOptions = {}): AsyncGenerator<RemoteEntry> {
  const maxDepth = options.maxDepth !== undefined && options.maxDepth >= 0 ? options.maxDepth : Infinity;
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const listOptions: ListOptions = { modTimes: options.modTimes !== false || options.filter?.usesModTimes === true, signal: options.signal };
  const filter = options.filter?.active ? options.filter : undefined;
  /** Whether the filter lets `e` through (its path taken relative to `dir`). */
  const included = (e: RemoteEntry): boolean => {
    if (!filter) return true;
    const rel = dir === '' ? e.path : e.path.slice(dir.length + 1);
    return e.isDir ? filter.includeDir(rel) : filter.includeFile(rel, e.size, e.mtime);
  };
  if (remote.listRecursive && maxDepth === Infinity && !options.descend && !options.filter?.usesDirectoryFilters) {
    for await (const e of remote.listRecursive(dir, listOptions)) if (included(e)) yield e;
    return;
  }
  const pending: { dir: string; depth: number }[] = [{ dir, depth: 1 }];
  const results: { entries?: RemoteEntry[]; error?: unknown; depth: number }[] = [];
  let inFlight = 0;
  let wake: (() => void) | undefined;

  const start = (job: { dir: string; depth: number }) => {
    inFlight++;
    (async () => {
      const entries: RemoteEntry[] = [];
      for await (const e of remote.list(job.dir, listOptions)) entries.push(e);
      // rclone sorts each directory's entries by name.
      return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    })().then(
      (entries) => results.push({ entries, depth: job.depth }),
      (error) => results.push({ error, depth: job.depth }),
    ).finally(() => {
      inFlight--;
      wake?.();
    });
  };

  while (pending.length || inFlight || results.length) {
    // Listings done but not yet handed on count against the bound too: a consumer slower than the
    // listings (hashsum) otherwise had the whole tree listed ahead of it and held.
    while (pending.length && inFlight + results.length < concurrency) start(pending.shift()!);
    if (!results.length) {
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
      continue;
    }
    const res = results.shift()!;
    if (res.error) throw res.error;
    for (const e of res.entries!) {
      if (!included(e)) continue;
      yield e;
      if (e.isDir && res.depth < maxDepth && (options.descend?.(e) ?? true)) {
        pending.push({ dir: e.path, depth: res.depth + 1 });
      }
    }
  }
}
