// Name checks for the VFS: which names the remote (or the crypt format over
// it) can hold, and small path helpers shared by the VFS modules.
import { CryptfsError, DirNotFoundError, NameTooLongError, ObjectNotFoundError } from '../errors.js';
import type { Remote } from '../remote/remote.js';
import { joinPath } from '../remote/remote.js';
import { SubRemote } from '../remote/sub-remote.js';
import { findCryptRemote } from './cache-key.js';

export const isNotFound = (err: unknown) => err instanceof ObjectNotFoundError || err instanceof DirNotFoundError;

/** Whether `path` is one of `roots` or below one ('' is the root, above everything). */
export const under = (path: string, roots: string[]) =>
  roots.some((r) => r === '' || path === r || path.startsWith(r + '/'));

/** Throws NameTooLongError for a name the remote (or the crypt format over it) cannot hold. */
export function validateName(remote: Remote, path: string, isDir: boolean): void {
  let base = '';
  let r: Remote = remote;
  while (r instanceof SubRemote) {
    base = joinPath(r.base, base);
    r = r.inner;
  }
  const crypt = findCryptRemote(remote);
  if (crypt && r === crypt) {
    const full = joinPath(base, path);
    if (isDir) crypt.encryptDirPath(full);
    else crypt.encryptFilePath(full);
    return;
  }
  const limit = remote.features.maxSegmentBytes;
  if (limit === undefined) return;
  for (const seg of path.split('/')) {
    const len = Buffer.byteLength(seg);
    if (len > limit) throw new NameTooLongError(seg, len, limit);
  }
}

/** Longest name (bytes) that fits, for statfs. */
export function nameMax(remote: Remote): number {
  const crypt = findCryptRemote(remote);
  const limit = remote.features.maxSegmentBytes;
  let n = limit ?? 255;
  if (crypt && limit !== undefined && crypt.options.mode !== 'off') n = crypt.maxPlainSegmentBytes(limit);
  return Math.min(255, n);
}

/**
 * The error for a name that is not there: ENAMETOOLONG when no file or
 * directory could have it (checked only on a miss: it costs an encryption).
 */
export function notFound(remote: Remote, path: string): CryptfsError {
  try {
    validateName(remote, path, false);
    return new ObjectNotFoundError(path);
  } catch (err) {
    if (!(err instanceof NameTooLongError)) throw err;
    try {
      validateName(remote, path, true);
      return new ObjectNotFoundError(path);
    } catch {
      return err;
    }
  }
}
