// Exact (nanosecond) file times through the small native helper in native/fs_times.c.
// Without the built addon, times fall back to Node's utimes (about 240 ns off).
import { osNative as binding } from '../os-native.js';

/** Whether times can be set to the nanosecond. */
export const exactTimes = binding !== undefined;

/** Sets atime and mtime of an open file; exact when the addon is built. */
export function setFileTimesNs(fd: number, mtimeNs: bigint, fallback: (seconds: number) => void): void {
  if (binding) binding.futimensNs(fd, mtimeNs);
  else fallback(Number(mtimeNs) / 1e9);
}
