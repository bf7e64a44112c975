// Exact (nanosecond) file times through the small native helper in native/fs_times.c.
// Without the built addon, times fall back to Node's utimes (about 240 ns off).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface FsTimesBinding {
  futimensNs(fd: number, mtimeNs: bigint): void;
}

function load(): FsTimesBinding | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'build', 'Release', 'cryptfs_fs.node');
    if (existsSync(candidate)) {
      try {
        return createRequire(import.meta.url)(candidate) as FsTimesBinding;
      } catch {
        return undefined;
      }
    }
    const parent = dirname(dir);
    if (parent === dir || existsSync(join(dir, 'package.json'))) return undefined;
    dir = parent;
  }
}

const binding = load();

/** Whether times can be set to the nanosecond. */
export const exactTimes = binding !== undefined;

/** Sets atime and mtime of an open file; exact when the addon is built. */
export function setFileTimesNs(fd: number, mtimeNs: bigint, fallback: (seconds: number) => void): void {
  if (binding) binding.futimensNs(fd, mtimeNs);
  else fallback(Number(mtimeNs) / 1e9);
}
