// The VFS cache directory of one remote (--vfs-cache-mode writes/full): its lock,
// its journal of dirty files (journal.ts), and the cached files in it, each a
// CacheItem (cache-item.ts) over a block file of ciphertext (block-file.ts).
import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { CryptfsError } from '../errors.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import { subKey } from './cache-key.js';
import { Journal, type JournalEntry } from './journal.js';
import { FilePool } from './file-pool.js';
import { BlockFile, unlimitedSpace, type SpaceBudget } from './block-file.js';
import { CacheItem, type CacheItemInit } from './cache-item.js';
/** The cache directory of one remote: lock, journal, block files. */
export class CacheStore {
  /** Descriptors of block files, bounded: pending files do not each hold one. */
  readonly pool: FilePool;

  private constructor(
    readonly dir: string,
    private readonly dataDir: string,
    private readonly key: Buffer,
    readonly journal: Journal,
    private readonly lockFile: string,
    readonly space: SpaceBudget,
    maxOpenFiles: number,
    /** The VFS clock's now() (clock.ts), for the items' lastUsed. */
    private readonly now: () => number,
  ) {
    this.pool = new FilePool(maxOpenFiles);
  }

  /**
   * Opens the cache in `dir` (made if missing), taking its lock; returns the
   * dirty files the journal lists. Block files the journal does not list are
   * leftovers of clean cache from an earlier run and are removed — unless the
   * journal could not be read whole: then they are moved aside with it, never
   * deleted, since they may hold changes the unreadable records described.
   */
  static async open(
    dir: string,
    key: Buffer,
    options: { space?: SpaceBudget; maxOpenFiles?: number; now?: () => number } = {},
  ): Promise<{ store: CacheStore; dirty: JournalEntry[] }> {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const dataDir = join(dir, 'data');
    await fsp.mkdir(dataDir, { recursive: true, mode: 0o700 });
    const lockFile = join(dir, 'lock');
    await takeLock(lockFile);
    let opened: Awaited<ReturnType<typeof Journal.open>>;
    try {
      opened = await Journal.open(dir, key);
    } catch (err) {
      await fsp.rm(lockFile, { force: true });
      throw err;
    }
    const { journal, entries } = opened;
    const unlisted = (await fsp.readdir(dataDir)).filter((name) => !entries.has(name));
    if (opened.complete) {
      for (const name of unlisted) await fsp.rm(join(dataDir, name), { force: true });
    } else if (unlisted.length > 0) {
      const aside = join(dir, `unreadable-${Date.now()}`);
      await fsp.mkdir(join(aside, 'data'), { recursive: true, mode: 0o700 });
      for (const name of unlisted) await fsp.rename(join(dataDir, name), join(aside, 'data', name));
      if (opened.setAside) await fsp.rename(opened.setAside, join(aside, 'journal')).catch(() => undefined);
      log.error(
        `vfs cache: ${unlisted.length} cached file(s) not described by a readable journal record were moved ` +
          `to ${aside} (not deleted): mount the remote they belong to with this cache to recover them`,
      );
    }
    const store = new CacheStore(dir, dataDir, key, journal, lockFile, options.space ?? unlimitedSpace, options.maxOpenFiles ?? 128, options.now ?? Date.now);
    return { store, dirty: [...entries.values()] };
  }

  async create(init: CacheItemInit): Promise<CacheItem> {
    const id = randomBytes(16).toString('hex');
    const block = await BlockFile.create(join(this.dataDir, id), subKey(this.key, `block:${id}`), this.pool, this.space);
    return new CacheItem(id, block, init, this.now);
  }

  /** Reopens the block file of a journaled dirty file. */
  async recover(entry: JournalEntry): Promise<CacheItem> {
    const block = await BlockFile.open(join(this.dataDir, entry.id), subKey(this.key, `block:${entry.id}`), this.pool, this.space);
    const item = new CacheItem(entry.id, block, {
      path: entry.path,
      size: entry.size,
      sourceSize: entry.source ? Math.min(entry.sourceBytes ?? entry.size, entry.source.size) : 0,
      source: entry.source,
      mtime: new Date(entry.mtimeMs),
      metadata: entry.metadata,
    }, this.now);
    item.journaled = true;
    item.writing = entry.writing === true;
    item.mtimeSetAt = entry.mtimeSetAtMs;
    const { end, mtime, torn } = await item.rescan();
    if (torn.length > 0) {
      log.notice(`${logPath(entry.path)}: ${torn.length} cache block(s) cut short by the unclean stop are dropped`);
    }
    // Writes after the last size change show only in the block file.
    item.size = Math.max(item.size, end);
    if (entry.mtimeSetAtMs === undefined || mtime.getTime() > entry.mtimeSetAtMs + 1000) item.mtime = mtime;
    return item;
  }

  /** Records the item as dirty (or its new state: path, size, mtime). */
  async markDirty(item: CacheItem): Promise<void> {
    item.journaled = true;
    await this.journal.put(item.journalEntry());
  }

  async markClean(item: CacheItem): Promise<void> {
    if (!item.journaled) return;
    item.journaled = false;
    await this.journal.remove(item.id);
  }

  /** Closes and deletes an item's block file. */
  async remove(item: CacheItem): Promise<void> {
    await item.close();
    // One unlink(2) from the event loop, once per uploaded file: fsp.rm costs an lstat and an unlink,
    // each a thread-pool round trip.
    try {
      unlinkSync(item.block.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await this.markClean(item);
  }

  async close(): Promise<void> {
    await this.journal.close();
    await fsp.rm(this.lockFile, { force: true });
  }
}

async function takeLock(lockFile: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fsp.writeFile(lockFile, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number((await fsp.readFile(lockFile, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
      throw new CryptfsError(
        `the VFS cache ${lockFile.replace(/\/lock$/, '')} is in use by process ${pid} (another mount of the same remote)`,
      );
    }
    log.info(`vfs cache: removing stale lock of process ${pid || '?'}`);
    await fsp.rm(lockFile, { force: true });
  }
  throw new CryptfsError(`cannot take the VFS cache lock ${lockFile}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
