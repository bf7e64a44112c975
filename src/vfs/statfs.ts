// statfs(2) for the mount: sizes from the remote's `about` where it has one;
// otherwise a very large, mostly free file system, so that tools checking for
// room before they write (cp, rsync, installers) go ahead, as rclone's mount does.
import type { Remote } from '../remote/remote.js';

export interface VfsStatfs {
  blockSize: number;
  blocks: number;
  blocksFree: number;
  blocksAvailable: number;
  files: number;
  filesFree: number;
  nameMax: number;
}

const BLOCK_SIZE = 4096;
/** What is reported when the remote says nothing of its size (1 PiB). */
const UNKNOWN_SIZE = 2 ** 50;

/** The file system's figures for `remote`; `nameMax` is the longest name that fits. */
export async function statfsOf(remote: Remote, nameMax: number): Promise<VfsStatfs> {
  let total = UNKNOWN_SIZE;
  let free = UNKNOWN_SIZE;
  const about = await remote.about?.().catch(() => undefined);
  if (about?.total !== undefined) {
    total = about.total;
    free = about.free ?? (about.used !== undefined ? Math.max(0, total - about.used) : total);
  } else if (about?.free !== undefined) {
    free = about.free;
    total = about.free + (about.used ?? 0);
  }
  const blocks = Math.floor(total / BLOCK_SIZE);
  const blocksFree = Math.floor(free / BLOCK_SIZE);
  return { blockSize: BLOCK_SIZE, blocks, blocksFree, blocksAvailable: blocksFree, files: 1e9, filesFree: 1e9, nameMax };
}
