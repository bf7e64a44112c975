// User metadata of local files as extended attributes, as rclone's local backend keeps it
// (backend/local/xattr.go): key k is stored as "user.k" with the key in lower case. The POSIX keys
// (mode, uid, gid, times) are the file's real attributes instead and never go to xattrs.
import { NotSupportedError } from '../errors.js';
import { osNative } from '../os-native.js';
import type { Metadata } from './metadata.js';

const XATTR_PREFIX = 'user.';

/** rclone's local system metadata: kept as the file's own attributes, not as xattrs. */
const POSIX_KEYS = new Set(['mode', 'uid', 'gid', 'rdev', 'atime', 'mtime', 'btime']);

/** Whether `key` is kept as an extended attribute (everything but the POSIX keys). */
export function isXattrKey(key: string): boolean {
  return !POSIX_KEYS.has(key.toLowerCase());
}

/** The filesystem under a local path does not take user extended attributes (or the addon is not built). */
export class XattrNotSupportedError extends NotSupportedError {
  constructor(file: string, options?: { cause?: unknown }) {
    super(
      `${file}: this filesystem does not store user extended attributes, which hold metadata ` +
        `(such as cryptfs's sealed record) on a local remote`,
      options,
    );
  }
}

/** The user metadata stored as xattrs on `file` ({} when none, or when the addon is not built). */
export function readUserXattrs(file: string): Metadata {
  if (!osNative) return {};
  const md = osNative.userXattrs(file);
  // A stray user.mode would otherwise shadow the file's real mode.
  for (const k of Object.keys(md)) if (!isXattrKey(k)) delete md[k];
  return md;
}

/**
 * Stores the non-POSIX keys of `metadata` on `file` (a value of '' removes the key; on a `fresh`
 * file, which has none yet, removals are skipped: a sealed record clears 15 spare pieces). Throws
 * XattrNotSupportedError where the filesystem refuses them; other errors as Node's (code set).
 */
export function writeUserXattrs(file: string, metadata: Metadata, options: { fresh?: boolean } = {}): void {
  const entries = Object.entries(metadata).filter(([k, v]) => isXattrKey(k) && !(options.fresh && v === ''));
  if (entries.length === 0) return;
  if (!osNative) throw new XattrNotSupportedError(file, { cause: new Error('the native fs addon (cryptfs_fs.node) is not built') });
  for (const [k, v] of entries) {
    const name = XATTR_PREFIX + k.toLowerCase();
    try {
      if (v === '') osNative.removeXattr(file, name);
      else osNative.setXattr(file, name, v);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOTSUP') throw new XattrNotSupportedError(file, { cause: err });
      throw err;
    }
  }
}

/** Copies every user xattr of `from` onto `to` (a server-side copy keeps metadata, as on S3 and Swift). */
export function copyUserXattrs(from: string, to: string): void {
  const md = readUserXattrs(from);
  if (Object.keys(md).length > 0) writeUserXattrs(to, md);
}
