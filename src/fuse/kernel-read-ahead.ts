// The kernel's read-ahead of a FUSE mount (its backing device's read_ahead_kb).
import { writeFile } from 'node:fs/promises';
import { errorMessage } from '../errors.js';
import { log } from '../log.js';
import { mountTable } from './mount-table.js';

/**
 * The kernel reads ahead 128 KiB on a FUSE mount (and a FUSE daemon can only
 * lower that at init); larger read requests need the mount's backing-device
 * setting in sysfs, found through /proc/self/mountinfo (not by touching the
 * mount). Best effort: needs root.
 */
export async function setKernelReadAhead(mountpoint: string, bytes: number): Promise<void> {
  const dev = (await mountTable()).get(mountpoint)?.device;
  if (!dev || !Number.isFinite(bytes) || bytes <= 0) return;
  const file = `/sys/class/bdi/${dev}/read_ahead_kb`;
  try {
    await writeFile(file, `${Math.max(4, Math.round(bytes / 1024))}\n`);
    log.debug(`${mountpoint}: kernel read-ahead ${Math.round(bytes / 1024)} KiB`);
  } catch (err) {
    log.debug(`${mountpoint}: cannot set ${file}: ${errorMessage(err)}`);
  }
}
