// A directory being read through the VFS (opendir/readdir): names stream in
// as the remote lists them, then the files and directories the VFS holds that
// the remote does not list yet.
import { joinPath } from '../remote/remote.js';
import type { DirListing } from './dir-cache.js';
import type { VfsAttr } from './file-handle.js';
import { mountEntry } from './links.js';

export interface VfsDirEntry {
  name: string;
  isDir: boolean;
  /** A symlink (links on): the remote holds it as name + '.rclonelink'. */
  isLink?: boolean;
}

/** What a DirReader asks of the VFS. */
export interface DirReaderHost {
  readonly options: { readonly links: boolean };
  /** Files and directories that exist here but maybe not (yet) in the remote's listing. */
  overlayChildren(dir: string): VfsDirEntry[];
  /** The directory was read to the end: list its subdirectories ahead. */
  prefetchSubdirs(dir: string, entries: VfsDirEntry[]): void;
  /** lookup of `path` given its parent's listing, without waiting. */
  attrIn(listing: DirListing, path: string): VfsAttr | undefined;
}

/**
 * How long a readdir waits for more names to fill its reply while a listing streams in.
 * Real time, not VfsOptions.clock: a latency bound on a live remote listing, not VFS state.
 */
const BATCH_WAIT_MS = 20;

/** A directory being read (opendir/readdir): names stream in as the remote lists them. */
export class DirReader {
  private readonly names: VfsDirEntry[] = [];
  private readonly seen = new Set<string>();
  private pos = 0;
  private overlayDone = false;
  /** Links seen while the listing streams: shown once it is complete, unless a file or directory has their name. */
  private readonly pendingLinks: string[] = [];

  constructor(
    private readonly vfs: DirReaderHost,
    readonly dir: string,
    private readonly listing: DirListing,
  ) {}

  /**
   * Entries from index `offset`, at most `max`. While the remote is still
   * listing, returns what has arrived within a short wait (at least one entry
   * unless at the end), so the first names of a huge directory come early.
   */
  async read(offset: number, max: number): Promise<VfsDirEntry[]> {
    let deadline: number | undefined;
    for (;;) {
      this.pull();
      if (this.names.length >= offset + max || this.overlayDone) return this.names.slice(offset, offset + max);
      if (this.names.length > offset) {
        deadline ??= Date.now() + BATCH_WAIT_MS;
        const left = deadline - Date.now();
        if (left <= 0 || this.listing.complete) {
          if (!this.listing.complete) return this.names.slice(offset, offset + max);
        } else {
          await Promise.race([this.listing.changed(), new Promise((r) => setTimeout(r, left))]);
          continue;
        }
      }
      if (this.listing.error !== undefined) throw this.listing.error;
      if (this.listing.complete) {
        for (const name of this.pendingLinks) this.add(name, false, true);
        for (const e of this.vfs.overlayChildren(this.dir)) this.add(e.name, e.isDir, true);
        this.overlayDone = true;
        this.vfs.prefetchSubdirs(this.dir, this.names);
        continue;
      }
      await this.listing.changed();
    }
  }

  /** Attributes of an entry this reader listed, as lookup would give them now (readdirplus). */
  attr(name: string): VfsAttr | undefined {
    return this.vfs.attrIn(this.listing, joinPath(this.dir, name));
  }

  /** Every entry (for tests and small directories). */
  async all(): Promise<VfsDirEntry[]> {
    const out: VfsDirEntry[] = [];
    for (;;) {
      const batch = await this.read(out.length, 1000);
      if (batch.length === 0) return out;
      out.push(...batch);
    }
  }

  private pull(): void {
    const order = this.listing.order;
    while (this.pos < order.length) {
      const name = order[this.pos++];
      const info = this.listing.entries.get(name);
      if (info) this.add(name, info.isDir, this.listing.complete);
    }
  }

  /** Adds a remote name as the mount shows it (NAME.rclonelink as the link NAME, unless NAME exists too). */
  private add(remoteName: string, isDir: boolean, complete = false): void {
    const shown = this.vfs.options.links ? mountEntry(remoteName, isDir) : { name: remoteName, isLink: false };
    if (this.seen.has(shown.name)) return;
    if (shown.isLink && !complete) {
      this.pendingLinks.push(remoteName);
      return;
    }
    if (shown.isLink && this.listing.entries.has(shown.name)) return;
    this.seen.add(shown.name);
    this.names.push(shown.isLink ? { name: shown.name, isDir: false, isLink: true } : { name: shown.name, isDir });
  }
}
