// Times the remote does not keep, held in memory while mounted: atime (set by
// utimensat; otherwise it follows mtime), ctime (the last change of contents,
// name or attributes; otherwise it is mtime), directory mtimes (a remote's
// directories have none, or one nobody updates), and the nanoseconds of an
// explicitly set mtime (remotes keep milliseconds at best).
//
// Entries are by path: renames move them (a directory's whole subtree),
// unlink and rmdir drop them. A file whose times were never set explicitly and
// whose name never changed has no entry, so plain writes cost nothing here.
import { parentPath } from '../remote/remote.js';

/** Times of one node, ns since the epoch. */
export interface NodeTimesNs {
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

interface Entry {
  atimeNs?: bigint;
  /** For directories: their mtime. For files: an explicitly set mtime, used while the remote's mtime still matches it. */
  mtimeNs?: bigint;
  ctimeNs?: bigint;
}

const MS = 1_000_000n;

// Wall clock, not VfsOptions.clock: these are file times, compared with the mtimes
// writes get (new Date()) and the remote's, not timers.
export const nowNs = (): bigint => BigInt(Date.now()) * MS;
const dateNs = (d: Date): bigint => BigInt(d.getTime()) * MS;

export class NodeTimes {
  private readonly entries = new Map<string, Entry>();

  /** Entries held (for tests and diagnostics). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The times of `path` given the mtime the VFS has for it (the remote's, or
   * the cached file's). A file's explicitly set mtime keeps its nanoseconds
   * while the VFS mtime is that same millisecond (a write since replaces it).
   */
  resolve(path: string, isDir: boolean, mtime: Date): NodeTimesNs {
    const base = dateNs(mtime);
    const e = this.entries.get(path);
    if (!e) return { atimeNs: base, mtimeNs: base, ctimeNs: base };
    const explicit = e.mtimeNs !== undefined && (isDir || (e.mtimeNs / MS) * MS === base);
    const mtimeNs = explicit ? e.mtimeNs! : base;
    // A newer mtime not set here (a write, another client) is a change after the recorded one.
    const ctimeNs = e.ctimeNs === undefined || (!explicit && base > e.ctimeNs) ? mtimeNs : e.ctimeNs;
    return { atimeNs: e.atimeNs ?? mtimeNs, mtimeNs, ctimeNs };
  }

  private entry(path: string): Entry {
    let e = this.entries.get(path);
    if (!e) {
      e = {};
      this.entries.set(path, e);
    }
    return e;
  }

  /** utimensat: the times given (undefined = UTIME_OMIT); ctime becomes now. */
  set(path: string, times: { atimeNs?: bigint; mtimeNs?: bigint }): void {
    const e = this.entry(path);
    if (times.atimeNs !== undefined) e.atimeNs = times.atimeNs;
    if (times.mtimeNs !== undefined) e.mtimeNs = times.mtimeNs;
    e.ctimeNs = nowNs();
  }

  /** An attribute or the name of `path` changed (chmod, chown, truncate, rename): ctime now. */
  changed(path: string): void {
    this.entry(path).ctimeNs = nowNs();
  }

  /**
   * The contents of a file changed (write): its ctime follows its new mtime.
   * Only an entry that has a ctime needs the update (without one ctime is mtime).
   */
  written(path: string): void {
    const e = this.entries.get(path);
    if (e?.ctimeNs !== undefined) e.ctimeNs = nowNs();
  }

  /** An entry was added to or removed from directory `dir`: its mtime and ctime are now. */
  dirChanged(dir: string): void {
    const e = this.entry(dir);
    e.mtimeNs = e.ctimeNs = nowNs();
  }

  /** A new node at `path` (mkdir, create): its parent directory changed; a stale entry is gone. */
  added(path: string): void {
    this.entries.delete(path);
    this.dirChanged(parentPath(path));
  }

  /** `path` was unlinked or removed (an empty directory): its entry goes, its parent directory changed. */
  removed(path: string): void {
    this.entries.delete(path);
    this.dirChanged(parentPath(path));
  }

  /**
   * `from` was renamed to `to`, replacing what was there. Only a directory
   * rename walks the table (for the entries below it); a file rename is O(1).
   */
  renamed(from: string, to: string, isDir: boolean): void {
    this.entries.delete(to);
    const own = this.entries.get(from);
    this.entries.delete(from);
    if (own) this.entries.set(to, own);
    if (isDir) {
      const prefix = `${from}/`;
      const below = [...this.entries].filter(([p]) => p.startsWith(prefix));
      for (const [p] of below) this.entries.delete(p);
      for (const [p, e] of below) this.entries.set(to + p.slice(from.length), e);
    }
    this.changed(to);
    this.dirChanged(parentPath(from));
    this.dirChanged(parentPath(to));
  }
}
