// Crash recovery for the VFS cache: re-uploads, in the background, the files
// the journal lists as left dirty by an unclean stop. Operations on a path
// being recovered wait for it (settle); a file that was open for writing is
// kept aside under a side name instead of replacing the remote's version.
import { errorMessage } from '../errors.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import type { Remote } from '../remote/remote.js';
import { baseName, joinPath, parentPath } from '../remote/remote.js';
import type { DirCache } from './dir-cache.js';
import { VfsFile } from './file-handle.js';
import type { JournalEntry } from './journal.js';
import { isNotFound } from './names.js';
import type { RangeOpener } from './read-ahead.js';
import { mapLimit } from '../concurrency.js';
import type { Uploads } from './uploads.js';
import type { CacheStore } from './write-cache.js';

/** What recovery asks of the VFS. */
export interface RecoveryHost {
  readonly remote: Remote;
  readonly dirCache: DirCache;
  /** The VFS's file objects by path (recovered files join them). */
  readonly files: Map<string, VfsFile>;
  readonly uploads: Uploads;
  store(): CacheStore;
  closing(): boolean;
  sourceOpener(file: VfsFile): RangeOpener;
  /** Drops a file whose name went away. */
  discard(file: VfsFile): Promise<void>;
  validateName(path: string, isDir: boolean): void;
}

export class Recovery {
  /** Paths whose changes left by an unclean stop are being recovered. */
  private readonly recovering = new Map<string, () => Promise<void>>();

  constructor(private readonly host: RecoveryHost) {}

  /** Whether any path is still being recovered. */
  get active(): boolean {
    return this.recovering.size > 0;
  }

  /**
   * Re-uploads what the journal lists, in the background. Operations on a
   * path being recovered wait for it (settle); everything else goes on.
   */
  start(entries: JournalEntry[]): void {
    if (entries.length === 0) return;
    log.notice(`vfs cache: ${entries.length} file(s) left modified by an unclean stop: recovering in the background`);
    const byPath = new Map<string, JournalEntry[]>();
    for (const e of entries) byPath.set(e.path, [...(byPath.get(e.path) ?? []), e]);
    for (const [path, list] of byPath) {
      // Started once: by the background queue, or at once by an operation on the path (settle).
      let started: Promise<void> | undefined;
      const start = (): Promise<void> =>
        (started ??= (async () => {
          for (const entry of list) {
            try {
              await this.recover(entry);
            } catch (err) {
              log.error(`${logPath(entry.path)}: recovery of changes left by an unclean stop failed: ${errorMessage(err)}`);
            }
          }
        })().finally(() => {
          if (this.recovering.get(path) === start) this.recovering.delete(path);
        }));
      this.recovering.set(path, start);
    }
    const run = mapLimit(
      [...byPath.keys()],
      4,
      async (path) => {
        await this.recovering.get(path)?.();
      },
      { continueOnError: true },
    ).then(() => undefined);
    this.host.uploads.track(run);
  }

  /** Waits while `path` is being recovered from the journal (recovering it first if it was still queued). */
  async settle(...paths: string[]): Promise<void> {
    if (this.recovering.size === 0) return;
    for (const p of paths) await this.recovering.get(p)?.();
  }

  private async recover(entry: JournalEntry): Promise<void> {
    if (this.host.closing()) return;
    let item;
    try {
      item = await this.host.store().recover(entry);
    } catch (err) {
      log.error(`vfs cache: cannot read the cached changes of ${logPath(entry.path)}: ${errorMessage(err)}`);
      await this.host.store().journal.remove(entry.id);
      return;
    }
    const file = new VfsFile(entry.path, item.size, item.mtime, true);
    file.cache = item;
    file.metadata = item.metadata;
    file.dirty = true;
    item.fetch = this.host.sourceOpener(file);
    if (item.sourceSize > 0 && !item.complete) {
      let same = false;
      try {
        const now = await this.host.remote.stat(entry.path);
        same = !now.isDir && now.size === entry.source?.size && now.mtime.getTime() === entry.source.mtimeMs;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (!same) {
        log.error(
          `${logPath(entry.path)}: the changes cached before an unclean stop cannot be uploaded: ` +
            `the remote object they modify has changed meanwhile`,
        );
        await this.host.store().remove(item);
        return;
      }
    }
    if (item.writing) {
      await this.keepAside(file, entry);
      return;
    }
    const old = this.host.files.get(entry.path);
    if (old) await this.host.discard(old);
    this.host.files.set(entry.path, file);
    log.notice(`${logPath(entry.path)}: uploading changes left by an unclean stop (${item.size} bytes)`);
    this.host.uploads.start(file);
  }

  /**
   * A file that was open for writing when the daemon died may be half-written:
   * it must not replace the version on the remote. Its bytes go up under a
   * side name next to it; the name itself keeps its last saved version.
   */
  private async keepAside(file: VfsFile, entry: JournalEntry): Promise<void> {
    const item = file.cache!;
    // Blocks not cached come from the object at the old name: take them now, before it can change.
    await item.fillFromSource();
    const side = this.sideName(entry.path);
    file.path = side;
    item.path = side;
    item.writing = false;
    file.existsOnRemote = false;
    item.source = undefined;
    await this.host.store().markDirty(item);
    this.host.files.set(side, file);
    this.host.dirCache.upsert(parentPath(side), baseName(side), { isDir: false, size: item.size, mtime: item.mtime, metadata: item.metadata });
    log.notice(
      `${logPath(entry.path)}: was open for writing when cryptfs stopped; it keeps its last saved version and ` +
        `the unsaved contents (${item.size} bytes) are uploaded as ${side}`,
    );
    this.host.uploads.start(file);
  }

  /** `dir/name.cryptfs-recovered-<UTC time>` (shortened if the format cannot hold that name). */
  private sideName(path: string): string {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
    const dir = parentPath(path);
    const base = baseName(path);
    const taken = (p: string) => this.host.files.has(p);
    const candidates = [`${base}.cryptfs-recovered-${stamp}`, `cryptfs-recovered-${stamp}`];
    for (const name of candidates) {
      for (let n = 1; n < 100; n++) {
        const p = joinPath(dir, n === 1 ? name : `${name}-${n}`);
        if (taken(p)) continue;
        try {
          this.host.validateName(p, false);
        } catch {
          break;
        }
        return p;
      }
    }
    return joinPath(dir, `cryptfs-recovered-${stamp}-${Math.random().toString(36).slice(2, 8)}`);
  }
}
