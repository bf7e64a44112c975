// The kernel's mount table of this process (/proc/self/mountinfo), read
// without touching any mount point (a hung FUSE daemon cannot block it).
import { readFile } from 'node:fs/promises';

export interface MountEntry {
  /** "major:minor" of the mount's device. */
  device: string;
  /** e.g. "fuse.cryptfs". */
  fsType: string;
}

/** Mount points (octal escapes decoded) with their device numbers and types; the last mount on a path wins. */
export async function mountTable(): Promise<Map<string, MountEntry>> {
  const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const out = new Map<string, MountEntry>();
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const field = fields[4];
    if (!field) continue;
    const dash = fields.indexOf('-', 6);
    out.set(field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), {
      device: fields[2] ?? '',
      fsType: dash > 0 ? (fields[dash + 1] ?? '') : '',
    });
  }
  return out;
}
