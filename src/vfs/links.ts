// Symlinks on the VFS, stored as rclone stores them (--links): a link NAME is
// an object NAME.rclonelink whose (encrypted) content is the link's target,
// verbatim. The rest of the VFS keeps working in remote names; this module
// says which remote name a mount name stands for and makes, reads, removes and
// renames link objects. A link object is written in one go when symlink()
// is called (it is never a cached or open file), so it is on the remote when
// symlink returns.
//
// When the remote holds both NAME (file or directory) and NAME.rclonelink,
// NAME wins: the link is hidden, so no file contents ever become unreachable.
import { AlreadyExistsError, ErrnoError, IsDirectoryError } from '../errors.js';
import { logPath } from '../log-names.js';
import type { Remote } from '../remote/remote.js';
import { baseName, parentPath } from '../remote/remote.js';
import { mergeMetadata, metadataOfPosix, type Metadata, type PosixAttrs } from '../remote/metadata.js';
import type { DirCache, DirEntryInfo, DirListing } from './dir-cache.js';
import { type VfsAttr } from './file-handle.js';
import { validateName } from './names.js';
import { moveObject } from './rename.js';

/** The suffix rclone gives the object that stores a symlink. */
export const LINK_SUFFIX = '.rclonelink';

/** Longest target readlink hands out (PATH_MAX, with its NUL). */
const MAX_TARGET_BYTES = 4095;

/** readlink targets kept in memory, checked against the object's size and time. */
const TARGET_CACHE_ENTRIES = 1024;

/** Whether a remote file name is a link object (and not just the suffix). */
export function isLinkObjectName(name: string): boolean {
  return name.length > LINK_SUFFIX.length && name.endsWith(LINK_SUFFIX);
}

/** The mount name of a listed remote entry, and whether it is a link (links on). */
export function mountEntry(name: string, isDir: boolean): { name: string; isLink: boolean } {
  if (isDir || !isLinkObjectName(name)) return { name, isLink: false };
  return { name: name.slice(0, -LINK_SUFFIX.length), isLink: true };
}

/**
 * lookup of a link at mount path `path` in its parent's listing: the attributes
 * when the listing holds `path`.rclonelink and no entry named `path` itself.
 */
export function linkAttrIn(listing: DirListing, path: string): VfsAttr | undefined {
  const name = baseName(path);
  if (listing.entries.has(name)) return undefined;
  const info = listing.entries.get(name + LINK_SUFFIX);
  if (!info || info.isDir) return undefined;
  return { path, isDir: false, isLink: true, size: Math.max(0, info.size), mtime: info.mtime, metadata: info.metadata };
}

/** What the link operations ask of the VFS. */
export interface LinkHost {
  readonly remote: Remote;
  readonly dirCache: DirCache;
  /** Links on (--links); off, symlink() is refused. */
  readonly enabled: boolean;
  lookup(path: string): Promise<VfsAttr | undefined>;
  requireDir(dir: string): Promise<void>;
  /** Removes a file at `path` (a rename over it replaced it). */
  unlinkFile(path: string): Promise<void>;
}

export class Links {
  private readonly targets = new Map<string, { target: string; size: number; mtimeMs: number }>();

  constructor(private readonly host: LinkHost) {}

  /** symlink(2): a new link at mount path `path` pointing at `target` (stored verbatim). */
  async create(path: string, target: string, metadata?: Metadata): Promise<VfsAttr> {
    if (!this.host.enabled) throw new ErrnoError('EPERM', 'symlinks are turned off (--links=false)');
    const object = path + LINK_SUFFIX;
    validateName(this.host.remote, object, false);
    const bytes = Buffer.from(target, 'utf8');
    if (bytes.length === 0) throw new ErrnoError('ENOENT', `${logPath(path)}: empty symlink target`);
    if (bytes.length > MAX_TARGET_BYTES) throw new ErrnoError('ENAMETOOLONG', `${logPath(path)}: symlink target too long`);
    if (await this.host.lookup(path)) throw new AlreadyExistsError(path);
    await this.host.requireDir(parentPath(path));
    const mtime = new Date();
    const entry = await this.host.remote.write(object, (async function* () {
      yield bytes;
    })(), { size: bytes.length, mtime, metadata });
    this.remember(object, target, bytes.length, entry.mtime);
    const info: DirEntryInfo = { isDir: false, size: bytes.length, mtime: entry.mtime, metadata };
    this.host.dirCache.upsert(parentPath(path), baseName(object), info);
    return { path, isDir: false, isLink: true, size: bytes.length, mtime: entry.mtime, metadata };
  }

  /** readlink(2) of the link `attr` (as lookup gave it). */
  async read(attr: VfsAttr): Promise<string> {
    if (!attr.isLink) throw new ErrnoError('EINVAL', `${logPath(attr.path)}: not a symlink`);
    const object = attr.path + LINK_SUFFIX;
    const known = this.targets.get(object);
    if (known && known.size === attr.size && known.mtimeMs === attr.mtime.getTime()) return known.target;
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of await this.host.remote.openRead(object)) {
      length += chunk.length;
      if (length > MAX_TARGET_BYTES) {
        throw new ErrnoError('EIO', `${logPath(object)}: symlink target longer than ${MAX_TARGET_BYTES} bytes`);
      }
      chunks.push(Buffer.from(chunk));
    }
    const target = Buffer.concat(chunks).toString('utf8');
    this.remember(object, target, attr.size, attr.mtime);
    return target;
  }

  /** unlink(2) of a link. */
  async remove(path: string): Promise<void> {
    const object = path + LINK_SUFFIX;
    await this.host.remote.delete(object);
    this.targets.delete(object);
    this.host.dirCache.remove(parentPath(path), baseName(object));
  }

  /** rename(2) of the link `src` to mount path `to` (replacing a file or link there unless noReplace). */
  async rename(src: VfsAttr, to: string, noReplace: boolean): Promise<void> {
    const dst = await this.host.lookup(to);
    if (dst?.isDir) throw new IsDirectoryError(to);
    if (dst && noReplace) throw new AlreadyExistsError(to);
    const from = src.path;
    const fromObject = from + LINK_SUFFIX;
    const toObject = to + LINK_SUFFIX;
    validateName(this.host.remote, toObject, false);
    await moveObject(this.host.remote, fromObject, toObject);
    const known = this.targets.get(fromObject);
    this.targets.delete(fromObject);
    this.targets.delete(toObject);
    if (known) this.targets.set(toObject, known);
    this.host.dirCache.remove(parentPath(from), baseName(fromObject));
    this.host.dirCache.upsert(parentPath(to), baseName(toObject), { isDir: false, size: src.size, mtime: src.mtime, metadata: src.metadata });
    // A regular file the link replaces goes only now: a failed move leaves it in place.
    if (dst && !dst.isLink) await this.host.unlinkFile(to);
  }

  /** Sets the time of a link (touch -h). */
  async setMtime(attr: VfsAttr, mtime: Date): Promise<VfsAttr> {
    const object = attr.path + LINK_SUFFIX;
    await this.host.remote.setMtime(object, mtime);
    const known = this.targets.get(object);
    if (known) known.mtimeMs = mtime.getTime();
    this.host.dirCache.upsert(parentPath(attr.path), baseName(object), { isDir: false, size: attr.size, mtime, metadata: attr.metadata });
    return { ...attr, mtime };
  }

  /**
   * lchown(2) of a link: the owner goes on its object as rclone metadata (uid, gid), as for a
   * file. A link has no mode of its own (symlink(7): its permission bits are never used), so a
   * mode in `changes` is not stored. On a remote without metadata the change is not kept.
   */
  async setOwner(attr: VfsAttr, changes: PosixAttrs): Promise<VfsAttr> {
    const { remote } = this.host;
    const md = metadataOfPosix({ uid: changes.uid, gid: changes.gid }, false);
    if (Object.keys(md).length === 0 || !remote.setMetadata) return attr;
    const object = attr.path + LINK_SUFFIX;
    await remote.setMetadata(object, md);
    const metadata = mergeMetadata(attr.metadata, md);
    this.host.dirCache.upsert(parentPath(attr.path), baseName(object), { isDir: false, size: attr.size, mtime: attr.mtime, metadata });
    return { ...attr, metadata };
  }

  private remember(object: string, target: string, size: number, mtime: Date): void {
    this.targets.delete(object);
    this.targets.set(object, { target, size, mtimeMs: mtime.getTime() });
    if (this.targets.size > TARGET_CACHE_ENTRIES) this.targets.delete(this.targets.keys().next().value!);
  }
}
