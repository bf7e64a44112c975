// The march (rclone's fs/march): lists source and destination side by side,
// one directory at a time, and hands each pair of same-named entries to a
// visitor, which decides what to do with it and whether to descend.
import { DirNotFoundError, ObjectNotFoundError, errorMessage } from '../errors.js';
import { log } from '../log.js';
import type { ListOptions, Remote, RemoteEntry } from '../remote/remote.js';
import { joinPath } from '../remote/remote.js';
import { Limiter } from './concurrency.js';
import type { Filter } from './filter.js';
import { fsString } from './operations.js';
import type { TransferStats } from './stats.js';

/** One name in a directory, as found on either side. */
export interface MarchItem {
  /** Path relative to both roots. */
  rel: string;
  src?: RemoteEntry;
  dst?: RemoteEntry;
}

export interface MarchOptions {
  /** Ends the listings (Ctrl-C). */
  signal?: AbortSignal;
  filter: Filter;
  /** Directory listings in flight. */
  checkers: number;
  /** Levels to descend; negative = unlimited. */
  maxDepth: number;
  stats: TransferStats;
  /** Don't filter the destination side (--delete-excluded). */
  unfilteredDst?: boolean;
  /** false: the visitor needs no modification times (ListOptions.modTimes); an age filter needs them anyway. */
  modTimes?: boolean;
  /**
   * --fast-list: a side whose remote lists whole trees at once (S3, Swift) is listed so, once, and
   * held: a request per ~1,000 objects instead of one per directory, for memory for every entry.
   */
  fastList?: boolean;
  /**
   * The files of a source directory the filter lets through, as soon as its listing is in (before
   * the destination's): work that needs only the source (hashing it) can start early.
   */
  onSourceListed?: (files: RemoteEntry[]) => void;
}

/**
 * Lists `src` and `dst` side by side, directory by directory, and hands each
 * file pair, file on one side, and directory to `visit` (in name order within a
 * directory). For directories `visit` returns whether to descend. Listing errors
 * are logged and counted; a missing source root is thrown (rclone exits 3).
 */
export async function march(
  src: Remote | undefined,
  dst: Remote | undefined,
  opts: MarchOptions,
  visit: (item: MarchItem) => boolean | Promise<boolean>,
): Promise<void> {
  // A directory holds a slot from its listings until its entries are handed to `visit`, as in
  // rclone's march: at most --checkers directories' listings are held at once. (Slots for the
  // listings alone let the walk list the whole tree ahead of a full backlog and hold all of it.)
  const dirSlots = new Limiter(Math.max(1, opts.checkers));
  const maxDepth = opts.maxDepth >= 0 ? opts.maxDepth : Infinity;
  const listOptions: ListOptions = { modTimes: opts.modTimes !== false || opts.filter.usesModTimes, signal: opts.signal };
  let rootError: unknown;
  // --fast-list: each side's whole tree, by directory, listed on first use.
  const trees = new Map<Remote, Promise<Map<string, RemoteEntry[]>>>();
  const treeOf = (remote: Remote): Promise<Map<string, RemoteEntry[]>> => {
    let tree = trees.get(remote);
    if (!tree) trees.set(remote, (tree = listTree(remote, listOptions)));
    return tree;
  };

  const list = async (remote: Remote | undefined, dir: string, side: 'source' | 'destination'): Promise<RemoteEntry[] | undefined> => {
    if (!remote) return [];
    try {
      if (opts.fastList && remote.listRecursive && maxDepth === Infinity) {
        const entries = (await treeOf(remote)).get(dir);
        if (!entries) throw new DirNotFoundError(dir);
        return entries;
      }
      const out: RemoteEntry[] = [];
      for await (const e of remote.list(dir, listOptions)) out.push(e);
      return out;
    } catch (err) {
      const missing = err instanceof DirNotFoundError || err instanceof ObjectNotFoundError;
      if (side === 'destination' && missing) return [];
      let error = err;
      if (missing) {
        // rclone's wording: the bare "directory not found" (exit 3).
        error = new DirNotFoundError(dir, { cause: err });
        (error as Error).message = 'directory not found';
      }
      opts.stats.error(error);
      if (dir === '') {
        log.error(`${fsString(remote)}: error reading ${side} root directory: ${missing ? 'directory not found' : errorMessage(err)}`);
        if (side === 'source') rootError = error;
      } else {
        log.error(`${fsString(remote)}: error reading ${side} directory ${JSON.stringify(dir)}: ${errorMessage(err)}`);
      }
      return undefined;
    }
  };

  const rel = (dir: string, path: string) => (dir === '' ? path : path.slice(dir.length + 1));

  /** Whether the filter lets entry `e` of directory `dir` through (`name`: its name there). */
  const included = (dir: string, name: string, e: RemoteEntry) => {
    const path = joinPath(dir, name);
    return e.isDir ? opts.filter.includeDir(path) : opts.filter.includeFile(path, e.size, e.mtime);
  };

  interface Subdir {
    rel: string;
    hasSrc: boolean;
    hasDst: boolean;
  }

  /** Lists one directory on both sides and visits its entries; returns the subdirectories to descend into. */
  const visitDir = async (dir: string, depth: number, hasSrc: boolean, hasDst: boolean): Promise<Subdir[]> => {
    const [srcList, dstList] = await Promise.all([
      hasSrc
        ? list(src, dir, 'source').then((entries) => {
            if (entries && opts.onSourceListed) opts.onSourceListed(entries.filter((e) => !e.isDir && included(dir, rel(dir, e.path), e)));
            return entries;
          })
        : Promise.resolve([] as RemoteEntry[]),
      hasDst ? list(dst, dir, 'destination') : Promise.resolve([] as RemoteEntry[]),
    ]);
    // A directory that cannot be listed on one side must not look empty there (no deletes, no copies).
    if (srcList === undefined || dstList === undefined) return [];
    const files = new Map<string, MarchItem>();
    const dirs = new Map<string, MarchItem>();
    const take = (entries: RemoteEntry[], side: 'src' | 'dst') => {
      for (const e of entries) {
        const name = rel(dir, e.path);
        if ((side === 'src' || !opts.unfilteredDst) && !included(dir, name, e)) continue;
        const map = e.isDir ? dirs : files;
        const item = map.get(name) ?? { rel: joinPath(dir, name) };
        item[side] = e;
        map.set(name, item);
      }
    };
    take(srcList, 'src');
    take(dstList, 'dst');
    const byName = (a: [string, MarchItem], b: [string, MarchItem]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    for (const [, item] of [...files].sort(byName)) await visit(item);
    const subdirs: Subdir[] = [];
    for (const [, item] of [...dirs].sort(byName)) {
      const descend = await visit(item);
      if (descend && depth < maxDepth) subdirs.push({ rel: item.rel, hasSrc: item.src !== undefined, hasDst: item.dst !== undefined });
    }
    return subdirs;
  };

  const marchDir = async (dir: string, depth: number, hasSrc: boolean, hasDst: boolean): Promise<void> => {
    const subdirs = await dirSlots.run(() => visitDir(dir, depth, hasSrc, hasDst));
    await Promise.all(subdirs.map((d) => marchDir(d.rel, depth + 1, d.hasSrc, d.hasDst)));
  };

  await marchDir('', 1, src !== undefined, dst !== undefined);
  if (rootError) throw rootError;
}

/** A remote's whole tree from one recursive listing: each directory's entries ('' the root's). */
async function listTree(remote: Remote, options: ListOptions): Promise<Map<string, RemoteEntry[]>> {
  const tree = new Map<string, RemoteEntry[]>([['', []]]);
  for await (const e of remote.listRecursive!('', options)) {
    const slash = e.path.lastIndexOf('/');
    const parent = slash < 0 ? '' : e.path.slice(0, slash);
    let siblings = tree.get(parent);
    if (!siblings) tree.set(parent, (siblings = []));
    siblings.push(e);
    if (e.isDir && !tree.has(e.path)) tree.set(e.path, []);
  }
  return tree;
}
