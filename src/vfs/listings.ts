// Directory listings for the VFS: starts a listing of a remote directory into
// the DirCache (a directory the VFS keeps, or that holds files not uploaded
// yet, lists as empty when the remote has no such directory), lists
// subdirectories ahead for recursive walks, and adds the files and
// directories the VFS holds that the remote does not list yet.
import type { Remote } from '../remote/remote.js';
import { baseName, joinPath, parentPath } from '../remote/remote.js';
import type { DirCache, DirListing } from './dir-cache.js';
import type { VfsDirEntry } from './dir-reader.js';
import type { VfsFile } from './file-handle.js';
import { isNotFound, under } from './names.js';
import type { VfsOptions } from './options.js';
import { Semaphore } from './sync.js';
import { carriedMetadata } from '../remote/metadata.js';

/** What listings ask of the VFS. */
export interface ListingHost {
  readonly remote: Remote;
  readonly options: VfsOptions;
  readonly dirCache: DirCache;
  /** The VFS's file objects by path (read only here). */
  readonly files: ReadonlyMap<string, VfsFile>;
  /** Directories kept only by the VFS (read only here). */
  readonly virtualDirs: ReadonlySet<string>;
  closing(): boolean;
  /** Fires when the VFS closes: a listing still running then stops (nobody will read it). */
  readonly requestSignal?: AbortSignal;
}

export class Listings {
  private readonly prefetchSlots = new Semaphore(4);

  constructor(private readonly host: ListingHost) {}

  /**
   * A directory was read to the end (readdir): list its subdirectories ahead,
   * a few at a time, since recursive walks (ls -R, find, du, rsync) go there
   * next. Bounded by --vfs-dir-prefetch subdirectories per directory.
   */
  prefetchSubdirs(dir: string, entries: VfsDirEntry[]): void {
    const limit = this.host.options.dirPrefetch;
    if (limit <= 0 || this.host.closing()) return;
    // In name order: the order ls -R and most tree walkers that sort visit them in.
    const subdirs = entries.filter((e) => e.isDir).map((e) => e.name);
    subdirs.sort();
    for (const name of subdirs.slice(0, limit)) {
      const sub = joinPath(dir, name);
      if (this.host.dirCache.get(sub)) continue;
      void this.prefetchSlots.run(async () => {
        if (this.host.closing() || this.host.dirCache.get(sub)) return;
        await this.start(sub).whenComplete().catch(() => undefined);
      });
    }
  }

  /** Files and directories that exist here but maybe not (yet) in the remote's listing. */
  overlayChildren(dir: string): VfsDirEntry[] {
    const out: VfsDirEntry[] = [];
    for (const f of this.host.files.values()) {
      if (f.active && !f.unlinked && parentPath(f.path) === dir && f.path !== dir) out.push({ name: baseName(f.path), isDir: false });
    }
    for (const d of this.host.virtualDirs) if (d !== '' && parentPath(d) === dir) out.push({ name: baseName(d), isDir: true });
    return out;
  }

  /**
   * A directory's link count as POSIX has it (2 + its subdirectories) while its complete listing
   * is cached; undefined otherwise, and the mount answers 1, "not counted", as rclone's does (find
   * and fts read 1 as unknown). Counted from the listing readdir shows, so never fewer than it has.
   */
  dirLinkCount(dir: string): number | undefined {
    const listing = this.host.dirCache.get(dir);
    if (!listing?.complete) return undefined;
    let subdirs = 0;
    for (const info of listing.entries.values()) if (info.isDir) subdirs++;
    for (const d of this.host.virtualDirs) if (d !== '' && parentPath(d) === dir && !listing.entries.has(baseName(d))) subdirs++;
    return 2 + subdirs;
  }

  /** Starts listing `dir` from the remote into the DirCache; the listing fills as names arrive. */
  start(dir: string): DirListing {
    const listing = this.host.dirCache.begin(dir);
    void (async () => {
      try {
        for await (const e of this.host.remote.list(dir, { signal: this.host.requestSignal })) {
          listing.addRemote(baseName(e.path), { isDir: e.isDir, size: e.size, mtime: e.mtime, metadata: carriedMetadata(e.metadata) });
        }
        listing.finish();
      } catch (err) {
        if (isNotFound(err) && (dir === '' || this.host.virtualDirs.has(dir) || this.hasActiveUnder(dir))) {
          listing.finish();
          return;
        }
        this.host.dirCache.discard(listing);
        listing.fail(err);
      }
    })();
    return listing;
  }

  private hasActiveUnder(dir: string): boolean {
    for (const f of this.host.files.values()) if (f.active && !f.unlinked && under(f.path, [dir])) return true;
    for (const d of this.host.virtualDirs) if (under(d, [dir])) return true;
    return false;
  }
}
