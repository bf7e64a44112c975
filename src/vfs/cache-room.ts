// Eviction from the VFS cache: mode full's clean cached copies go after
// --vfs-cache-max-age or beyond --vfs-cache-max-size, and a full cache disk
// is made room on by dropping clean copies and starting pending uploads early.
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import type { VfsFile } from './file-handle.js';
import type { VfsOptions } from './options.js';
import type { Uploads } from './uploads.js';
import type { CacheStore } from './write-cache.js';

/** What eviction asks of the VFS. */
export interface CacheRoomHost {
  /** The VFS's file objects by path (evicted ones leave it). */
  readonly files: Map<string, VfsFile>;
  readonly options: VfsOptions;
  readonly uploads: Uploads;
  store(): CacheStore | undefined;
  closing(): boolean;
}

/** Mode full: removes clean cached files unused for --vfs-cache-max-age, then the oldest beyond --vfs-cache-max-size. */
export async function evict(host: CacheRoomHost): Promise<void> {
  const store = host.store();
  if (!store || host.closing()) return;
  const now = Date.now();
  const passive = [...host.files.values()].filter((f) => f.cache && !f.active && !f.dirty);
  let total = 0;
  for (const f of host.files.values()) total += f.cache?.diskBytes ?? 0;
  passive.sort((a, b) => a.cache!.lastUsed - b.cache!.lastUsed);
  for (const f of passive) {
    const item = f.cache!;
    const old = now - item.lastUsed > host.options.cacheMaxAgeMs;
    if (!old && total <= host.options.cacheMaxSizeBytes) continue;
    total -= item.diskBytes;
    f.cache = undefined;
    if (host.files.get(f.path) === f) host.files.delete(f.path);
    await store.remove(item).catch(() => undefined);
    log.debug(`${logPath(f.path)}: removed from the VFS cache (${old ? 'old' : 'cache full'})`);
  }
}

/**
 * Makes room on a full cache disk: drops clean cached copies nothing uses,
 * and starts the uploads of closed files now instead of after the write-back
 * delay. Resolves true when something was freed or is on its way.
 */
export async function makeRoom(host: CacheRoomHost, bytes: number): Promise<boolean> {
  const store = host.store();
  if (!store) return false;
  let freed = 0;
  const clean = [...host.files.values()]
    .filter((f) => f.cache && !f.active && !f.dirty)
    .sort((a, b) => a.cache!.lastUsed - b.cache!.lastUsed);
  for (const f of clean) {
    if (freed >= bytes) break;
    const item = f.cache!;
    freed += item.diskBytes;
    f.cache = undefined;
    if (host.files.get(f.path) === f) host.files.delete(f.path);
    await store.remove(item).catch(() => undefined);
  }
  if (freed > 0) {
    log.debug(`vfs cache: cache disk full: dropped ${clean.length} clean cached file(s)`);
    return true;
  }
  let waiting = false;
  for (const f of host.files.values()) {
    if (!f.dirty || f.unlinked || f.handles > 0 || !f.cache) continue;
    if (f.uploadTimer) {
      host.uploads.cancel(f);
      host.uploads.start(f);
    }
    waiting = true;
  }
  if (!waiting || host.closing()) return false;
  await new Promise((r) => setTimeout(r, 500).unref());
  return true;
}
