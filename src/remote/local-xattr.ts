// User metadata of local files as extended attributes, as rclone's local backend keeps it
// (backend/local/xattr.go): key k is stored as "user.k" with the key in lower case. The POSIX keys
// (mode, uid, gid, times) are the file's real attributes instead and never go to xattrs.
import { NotSupportedError } from '../errors.js';
import { osNative } from '../os-native.js';
import { formatMode, isSpecialType, S_IFMT, type Metadata } from './metadata.js';

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

/*
 * Special files (FIFOs, sockets, devices made by mknod on a mount) on a local remote. Elsewhere
 * they are an empty object whose rclone `mode` carries the file type ("10644" for a FIFO) and,
 * for a device, whose `rdev` the device number. Here the mode is the ciphertext file's own
 * st_mode, and that file must stay a regular file holding the ciphertext (rclone reads and copies
 * it like any other; a real FIFO would hold no bytes and hang readers). So the type and device
 * number go to two user xattrs of their own, which rclone lists as ordinary metadata keys
 * (`rclone lsjson -M` shows "cryptfs-type": "10000" beside the file's real "mode": "100644"):
 * - cryptfs-type: the file-type bits in octal (S_IFIFO "10000", S_IFSOCK "140000", ...);
 * - cryptfs-rdev: the device number in rclone's rdev format (hex major << 32 | minor).
 * They can't be user.mode and user.rdev: rclone's local backend skips xattrs named like its own
 * system keys. The local remote turns them back into mode and rdev when it reads an entry
 * (specialMetadata), so the VFS sees the same record on every remote.
 */
export const TYPE_KEY = 'cryptfs-type';
export const RDEV_KEY = 'cryptfs-rdev';

/** `metadata` with a special file's type and rdev as the keys kept in xattrs (see above). */
function withSpecialKeys(metadata: Metadata): Metadata {
  const mode = metadata.mode !== undefined && /^0?[0-7]{1,7}$/.test(metadata.mode) ? parseInt(metadata.mode, 8) : undefined;
  const type = mode === undefined ? 0 : mode & S_IFMT;
  if (!isSpecialType(type) && metadata.rdev === undefined) return metadata;
  const out: Metadata = { ...metadata };
  if (isSpecialType(type)) out[TYPE_KEY] = formatMode(type);
  if (metadata.rdev !== undefined) out[RDEV_KEY] = metadata.rdev;
  return out;
}

/**
 * A local entry's metadata as the other remotes give it: the type kept in cryptfs-type laid
 * over the file's own mode (whose permission bits stay), cryptfs-rdev as rdev.
 */
export function specialMetadata(md: Metadata): Metadata {
  const typeText = md[TYPE_KEY];
  const rdev = md[RDEV_KEY];
  if (typeText === undefined && rdev === undefined) return md;
  const out: Metadata = { ...md };
  delete out[TYPE_KEY];
  delete out[RDEV_KEY];
  const type = typeText !== undefined && /^[0-7]{1,7}$/.test(typeText) ? parseInt(typeText, 8) & S_IFMT : 0;
  if (isSpecialType(type) && out.mode !== undefined && /^0?[0-7]{1,7}$/.test(out.mode)) {
    out.mode = formatMode(type | (parseInt(out.mode, 8) & 0o7777));
  }
  if (rdev !== undefined) out.rdev = rdev;
  return out;
}

/** The user metadata stored as xattrs on `file` ({} when none, or when the addon is not built). */
export function readUserXattrs(file: string): Metadata {
  if (!osNative) return {};
  const md = osNative.userXattrs(file);
  // A stray user.mode would otherwise shadow the file's real mode.
  for (const k of Object.keys(md)) if (!isXattrKey(k)) delete md[k];
  return md;
}

/** The xattrs (full name, value; '' removes) that store the non-POSIX keys of `metadata` (`fresh`: no removals). */
export function userXattrEntries(metadata: Metadata, options: { fresh?: boolean } = {}): Array<[string, string]> {
  return Object.entries(withSpecialKeys(metadata))
    .filter(([k, v]) => isXattrKey(k) && !(options.fresh && v === ''))
    .map(([k, v]) => [XATTR_PREFIX + k.toLowerCase(), v]);
}

/**
 * Stores the non-POSIX keys of `metadata` on `file` (a value of '' removes the key; on a `fresh`
 * file, which has none yet, removals are skipped: a sealed record clears 15 spare pieces). Throws
 * XattrNotSupportedError where the filesystem refuses them; other errors as Node's (code set).
 */
export function writeUserXattrs(file: string, metadata: Metadata, options: { fresh?: boolean } = {}): void {
  const entries = userXattrEntries(metadata, options);
  if (entries.length === 0) return;
  if (!osNative) throw new XattrNotSupportedError(file, { cause: new Error('the native fs addon (cryptfs_fs.node) is not built') });
  for (const [name, v] of entries) {
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
