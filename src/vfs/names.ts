// Name checks for the VFS: which names the remote (or the crypt format over
// it) can hold, and small path helpers shared by the VFS modules.
import { CryptfsError, DirNotFoundError, NameTooLongError, ObjectNotFoundError } from '../errors.js';
import type { Remote } from '../remote/remote.js';
import { checkSegmentLengths } from '../remote/remote.js';

export const isNotFound = (err: unknown) => err instanceof ObjectNotFoundError || err instanceof DirNotFoundError;

/** Whether `path` is one of `roots` or below one ('' is the root, above everything). */
export const under = (path: string, roots: string[]) =>
  roots.some((r) => r === '' || path === r || path.startsWith(r + '/'));

/** Throws NameTooLongError for a name the remote (or the crypt format over it) cannot hold. */
export function validateName(remote: Remote, path: string, isDir: boolean): void {
  if (remote.checkName) remote.checkName(path, isDir);
  else checkSegmentLengths(path, remote.features.maxSegmentBytes);
}

/** Longest name (bytes) that fits, for statfs (at most 255, what Linux tools expect). */
export function nameMax(remote: Remote): number {
  const n = remote.nameMax ? remote.nameMax() : remote.features.maxSegmentBytes;
  return Math.min(255, n ?? 255);
}

/** The NameTooLongError of a name that no file and no directory could have, else undefined. */
function tooLongForAny(remote: Remote, path: string): NameTooLongError | undefined {
  let first: NameTooLongError | undefined;
  for (const isDir of [false, true]) {
    try {
      validateName(remote, path, isDir);
      return undefined;
    } catch (err) {
      if (!(err instanceof NameTooLongError)) throw err;
      first ??= err;
    }
  }
  return first;
}

/**
 * What a lookup of a name that is not there answers, without making an error object (a miss is
 * the common answer of a lookup: every create starts with one): ENAMETOOLONG when no file or
 * directory could have the name (checked only on a miss: it costs an encryption), else ENOENT.
 */
export function missingNameErrno(remote: Remote, path: string): 'ENOENT' | 'ENAMETOOLONG' {
  return tooLongForAny(remote, path) ? 'ENAMETOOLONG' : 'ENOENT';
}

/** The error for a name that is not there (see missingNameErrno). */
export function notFound(remote: Remote, path: string): CryptfsError {
  return tooLongForAny(remote, path) ?? new ObjectNotFoundError(path);
}
