// `mount.cryptfs`: the program mount(8) and fstab call for `-t cryptfs`
// (a symlink to cryptfs), as rclone's `mount.rclone`. It turns
//   mount.cryptfs REMOTE: /mnt/dir [-s] [-f] [-n] [-v] [-o opt,opt=value,...]
// into `cryptfs mount REMOTE: /mnt/dir --daemon --opt --opt=value ...`, so the
// mount runs in the background and the command returns once it answers.
import { UsageError } from '../errors.js';

/** The name mount(8) looks for: mount.<type>. */
export const MOUNT_HELPER_NAME = 'mount.cryptfs';

/** Options mount(8), fstab and systemd pass that mean nothing to a FUSE daemon (or are the kernel's defaults for it). */
const IGNORED = new Set([
  'rw', 'auto', 'noauto', 'user', 'nouser', 'users', 'group', 'owner', 'defaults', '_netdev', 'nofail',
  'dev', 'nodev', 'suid', 'nosuid', 'exec', 'noexec', 'async', 'atime', 'noatime', 'relatime', 'norelatime',
  'strictatime', 'lazytime', 'nolazytime', 'diratime', 'nodiratime', 'silent', 'loud',
]);

export type MountHelperPlan = { fake: true } | { fake: false; argv: string[] };

/** The `cryptfs` argv for a mount.cryptfs command line; throws UsageError when it can't be one. */
export function mountHelperArgv(argv: readonly string[]): MountHelperPlan {
  const positional: string[] = [];
  const out: string[] = [];
  let fake = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-o') {
      const list = argv[++i];
      if (list === undefined) throw new UsageError(`${MOUNT_HELPER_NAME}: -o needs a value`);
      out.push(...translateOptions(list));
    } else if (a.startsWith('-o') && a.length > 2) {
      out.push(...translateOptions(a.slice(2)));
    } else if (a === '-t') {
      i++; // the type is ours
    } else if (/^-[sfnvw]+$/.test(a)) {
      // mount(8): -s sloppy, -n no mtab, -f fake (check only), -v verbose, -w read-write.
      if (a.includes('f')) fake = true;
      if (a.includes('v')) out.push('-v');
    } else if (a.startsWith('-')) {
      throw new UsageError(`${MOUNT_HELPER_NAME}: unknown option ${a} (mount options go in -o)`);
    } else {
      positional.push(a);
    }
  }
  if (positional.length !== 2) {
    throw new UsageError(`usage: ${MOUNT_HELPER_NAME} REMOTE:path MOUNTPOINT [-o option[,option=value...]]`);
  }
  if (fake) return { fake: true };
  return { fake: false, argv: ['mount', positional[0], positional[1], '--daemon', ...out] };
}

/** `config=/etc/cryptfs.conf,vfs_cache_mode=full,allow_other,ro,_netdev` → flags. */
function translateOptions(list: string): string[] {
  const out: string[] = [];
  for (const raw of list.split(',')) {
    const option = raw.trim();
    if (option === '' || IGNORED.has(option) || option.startsWith('x-') || option.startsWith('comment=')) continue;
    if (option === 'ro') {
      out.push('--read-only');
      continue;
    }
    const eq = option.indexOf('=');
    const key = (eq < 0 ? option : option.slice(0, eq)).replace(/_/g, '-');
    out.push(eq < 0 ? `--${key}` : `--${key}=${option.slice(eq + 1)}`);
  }
  return out;
}
