// Settings of one VFS, named after rclone's --vfs-* / mount flags. Times are
// milliseconds, sizes bytes.
import { systemClock, type Clock } from './clock.js';

/**
 * How writes are handled (rclone's --vfs-cache-mode):
 * - off: no local cache; files open for writing stream straight to the remote
 *   and must be written sequentially.
 * - writes: files open for writing go through the local (encrypted) cache,
 *   so random writes, truncate and read-while-write work; read-only opens
 *   stream from the remote.
 * - full: as writes, and read-only opens also go through the cache, which
 *   keeps the blocks read for later opens.
 * rclone's "minimal" is accepted and treated as "writes".
 */
export type CacheMode = 'off' | 'writes' | 'full';

export interface VfsOptions {
  cacheMode: CacheMode;
  /** Directory of this remote's cache (journal, block files). Needed unless cacheMode is off. */
  cacheDir?: string;
  /** How long directory listings and attributes are trusted (--dir-cache-time). */
  dirCacheTimeMs: number;
  /** Delay between the last close of a modified file and its upload (--vfs-write-back). */
  writeBackMs: number;
  /** Bytes kept read ahead of sequential reads, in memory (--buffer-size + --vfs-read-ahead). */
  readAheadBytes: number;
  /** Largest total size of clean cached files before the oldest are evicted (--vfs-cache-max-size); Infinity = off. */
  cacheMaxSizeBytes: number;
  /** Clean cached files unused for longer are evicted (--vfs-cache-max-age). */
  cacheMaxAgeMs: number;
  /** How often the cache is checked for eviction (--vfs-cache-poll-interval). */
  cachePollIntervalMs: number;
  /** Refuse every change (EROFS). */
  readOnly: boolean;
  /** Uploads and directory-rename copies running at once (--transfers). */
  transfers: number;
  /** How long a non-sequential write waits for the missing earlier writes in mode off (--vfs-write-wait). */
  writeWaitMs: number;
  /** Subdirectories listed ahead when a directory has been read (0 = off). */
  dirPrefetch: number;
  /** How long a write to a full cache disk waits for uploads to free room before ENOSPC. */
  cacheSpaceWaitMs: number;
  /** Block files of the cache kept open at once (pending files do not each hold a descriptor). */
  cacheMaxOpenFiles: number;
  /** Show NAME.rclonelink objects as symlinks NAME, and store symlinks so (rclone's --links). */
  links: boolean;
  /** The time the VFS's timers and ages run on (clock.ts); tests pass a manual clock. */
  clock: Clock;
}

export const DEFAULT_VFS_OPTIONS: VfsOptions = {
  cacheMode: 'off',
  dirCacheTimeMs: 5 * 60_000,
  writeBackMs: 5_000,
  readAheadBytes: 16 * 1024 * 1024,
  cacheMaxSizeBytes: Infinity,
  cacheMaxAgeMs: 3_600_000,
  cachePollIntervalMs: 60_000,
  readOnly: false,
  transfers: 4,
  writeWaitMs: 1_000,
  dirPrefetch: 64,
  cacheSpaceWaitMs: 30_000,
  cacheMaxOpenFiles: 128,
  links: false,
  clock: systemClock,
};

export function parseCacheMode(text: string): CacheMode {
  const t = text.trim().toLowerCase();
  if (t === 'off' || t === 'writes' || t === 'full') return t;
  if (t === 'minimal') return 'writes';
  throw new RangeError(`--vfs-cache-mode: unknown mode ${JSON.stringify(text)} (off, minimal, writes, full)`);
}
