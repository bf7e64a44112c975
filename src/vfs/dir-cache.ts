// Directory listings kept for --dir-cache-time. A listing fills while the
// remote's listing streams in, so a reader (readdir of a huge directory) can
// hand out the first names before the last have arrived. Our own changes
// (create, unlink, rename, mkdir, upload done) are applied to the cached
// listings in place; a change made while a listing is still streaming wins over
// what the remote later says about that name.
import { CryptfsError } from '../errors.js';
import type { Metadata } from '../remote/metadata.js';

export interface DirEntryInfo {
  isDir: boolean;
  /** Bytes; -1 for directories whose size the remote does not know. */
  size: number;
  mtime: Date;
  /** Stored metadata a rewrite keeps (mode, uid, gid, ...), where the listing carried it. */
  metadata?: Metadata;
}

export class DirListing {
  readonly entries = new Map<string, DirEntryInfo>();
  /** Names in the order they arrived; removed names stay here but not in `entries`. */
  readonly order: string[] = [];
  complete = false;
  error: unknown = undefined;
  private readonly touched = new Set<string>();
  private waiters: Array<() => void> = [];
  private readonly done: Promise<void>;
  private settle!: () => void;

  constructor(readonly dir: string, readonly startedAt: number) {
    this.done = new Promise((resolve) => (this.settle = resolve));
  }

  /** A listing known complete from the start (a directory we just made). */
  static empty(dir: string, now: number): DirListing {
    const l = new DirListing(dir, now);
    l.finish();
    return l;
  }

  /** An entry as the remote listed it; ignored when our own change to that name came first. */
  addRemote(name: string, info: DirEntryInfo): void {
    if (this.touched.has(name)) return;
    if (!this.entries.has(name)) this.order.push(name);
    this.entries.set(name, info);
    this.notify();
  }

  /** Our own change: a name appeared or changed. */
  upsert(name: string, info: DirEntryInfo): void {
    if (!this.complete) this.touched.add(name);
    if (!this.entries.has(name)) this.order.push(name);
    this.entries.set(name, info);
    this.notify();
  }

  /** Our own change: a name went away. */
  remove(name: string): void {
    if (!this.complete) this.touched.add(name);
    this.entries.delete(name);
  }

  finish(): void {
    if (this.complete) return;
    this.complete = true;
    this.touched.clear();
    this.notify();
    this.settle();
  }

  fail(err: unknown): void {
    this.error = err ?? new CryptfsError('listing failed');
    this.notify();
    this.settle();
  }

  /** Resolves when the listing completed or failed; rejects with the listing's error. */
  async whenComplete(): Promise<this> {
    await this.done;
    if (this.error !== undefined) throw this.error;
    return this;
  }

  /** Resolves at the next arrival, completion or failure. */
  changed(): Promise<void> {
    if (this.complete || this.error !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

export class DirCache {
  private readonly listings = new Map<string, DirListing>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A listing that may be used: complete and younger than the TTL, or still streaming. */
  get(dir: string): DirListing | undefined {
    const l = this.listings.get(dir);
    if (!l) return undefined;
    if (l.error !== undefined) {
      this.listings.delete(dir);
      return undefined;
    }
    if (l.complete && this.now() - l.startedAt >= this.ttlMs) {
      this.listings.delete(dir);
      return undefined;
    }
    return l;
  }

  /** Starts tracking a new listing of `dir` (replacing any older one). */
  begin(dir: string): DirListing {
    const l = new DirListing(dir, this.now());
    this.listings.set(dir, l);
    return l;
  }

  /** Records a directory known to be empty (just made). */
  setEmpty(dir: string): void {
    this.listings.set(dir, DirListing.empty(dir, this.now()));
  }

  /** Drops a failed listing so the next access lists again. */
  discard(listing: DirListing): void {
    if (this.listings.get(listing.dir) === listing) this.listings.delete(listing.dir);
  }

  upsert(dir: string, name: string, info: DirEntryInfo): void {
    this.listings.get(dir)?.upsert(name, info);
  }

  remove(dir: string, name: string): void {
    this.listings.get(dir)?.remove(name);
  }

  /** Forgets a listing (and, with `tree`, every listing below it). */
  invalidate(dir: string, tree = false): void {
    this.listings.delete(dir);
    if (!tree) return;
    const prefix = dir === '' ? '' : dir + '/';
    for (const key of [...this.listings.keys()]) if (key.startsWith(prefix)) this.listings.delete(key);
  }

  /** A directory moved: its listing and those below it now belong to `to`. */
  renameTree(from: string, to: string): void {
    this.invalidate(to, true);
    const prefix = from + '/';
    const moved: Array<[string, DirListing]> = [];
    for (const [key, l] of this.listings) {
      if (key === from || key.startsWith(prefix)) moved.push([key, l]);
    }
    for (const [key, l] of moved) {
      this.listings.delete(key);
      if (!l.complete) continue; // a listing still streaming names the old directory: list again
      const next = key === from ? to : to + key.slice(from.length);
      const copy = new DirListing(next, l.startedAt);
      for (const name of l.order) {
        const info = l.entries.get(name);
        if (info) copy.addRemote(name, info);
      }
      copy.finish();
      this.listings.set(next, copy);
    }
  }

  /** Every cached directory path (for tests and diagnostics). */
  keys(): string[] {
    return [...this.listings.keys()];
  }
}
