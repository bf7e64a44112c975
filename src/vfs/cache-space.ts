// How much the VFS cache may still write to its disk.
//
// A write that runs out of disk half-way leaves a torn slot that can neither be
// read nor uploaded; so every block write first reserves its bytes here, and a
// write the disk cannot take fails with ENOSPC before anything is written.
// free space is read with statfs only when the running budget is used up
// (budgets overcount: a rewrite of a slot is charged though it takes no new
// room), keeping a small margin for the journal and other writers.
import * as fsp from 'node:fs/promises';
import { log } from '../log.js';
import { CacheFullError, type SpaceBudget } from './block-file.js';

/** What the VFS can do to make room: evict clean copies, hurry uploads of closed files. */
export type MakeRoom = (bytes: number) => Promise<boolean>;

export interface CacheSpaceOptions {
  /** How long a write may wait for uploads to free room before ENOSPC. */
  waitMs: number;
  /** Largest total the cache may take (--vfs-cache-max-size as a hard stop for writes too). */
  maxBytes?: number;
  /** Bytes on the disk left alone (default: 5% of it, at most 8 MiB). */
  marginBytes?: number;
}

export class CacheSpace implements SpaceBudget {
  private budget = 0;
  private makeRoom: MakeRoom = async () => false;

  constructor(
    private readonly dir: string,
    private readonly options: CacheSpaceOptions,
  ) {}

  /** Set by the VFS once it exists. */
  setMakeRoom(fn: MakeRoom): void {
    this.makeRoom = fn;
  }

  /** Free bytes the cache may use now, read from the file system. */
  async available(): Promise<number> {
    const st = await fsp.statfs(this.dir);
    const size = st.blocks * st.bsize;
    const margin = this.options.marginBytes ?? Math.min(8 * 1024 * 1024, Math.floor(size * 0.05));
    return Math.max(0, st.bavail * st.bsize - margin);
  }

  async reserve(bytes: number): Promise<void> {
    if (bytes <= this.budget) {
      this.budget -= bytes;
      return;
    }
    this.budget = await this.available();
    if (bytes <= this.budget) {
      this.budget -= bytes;
      return;
    }
    const deadline = Date.now() + this.options.waitMs;
    let logged = false;
    for (;;) {
      const progress = await this.makeRoom(bytes);
      this.budget = await this.available();
      if (bytes <= this.budget) {
        this.budget -= bytes;
        return;
      }
      if (!progress || Date.now() >= deadline) break;
      if (!logged) {
        log.notice(`vfs cache: the cache disk of ${this.dir} is full: waiting for uploads to free room`);
        logged = true;
      }
    }
    this.budget = 0;
    throw new CacheFullError(`no space left in the VFS cache ${this.dir} (needs ${bytes} bytes)`);
  }
}
