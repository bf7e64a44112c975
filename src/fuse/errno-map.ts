// The errno a FUSE request answers for an error: the one table from error
// class to errno (as cli/exit-codes.ts is the one from error class to exit
// status). The error classes themselves carry none, except ErrnoError, which
// exists to carry an explicit one.
import os from 'node:os';
import {
  AbortedError,
  AlreadyExistsError,
  ConfigError,
  CryptfsError,
  DirNotEmptyError,
  DirNotFoundError,
  ErrnoError,
  IsDirectoryError,
  NameTooLongError,
  NoSpaceError,
  NotDirectoryError,
  NotPermittedError,
  NotSupportedError,
  ObjectNotFoundError,
  PasswordMismatchError,
  ReadOnlyError,
  SseNotEnforcedError,
  UsageError,
} from '../errors.js';
import { CacheFullError } from '../vfs/block-file.js';
import { FuseUnavailableError } from './native.js';

/**
 * errno names by error class; a class not listed answers what its nearest
 * listed ancestor answers. CryptfsError itself (remote I/O, crypt format and
 * authentication failures, a corrupt cache file) answers EIO. The CLI's own
 * errors (FlagValueError, ExitStatusError, ...) never reach a mount and
 * answer EIO through CryptfsError.
 */
const errnoByClass = new Map<abstract new (...args: never[]) => CryptfsError, string>([
  [CryptfsError, 'EIO'],
  [UsageError, 'EINVAL'],
  [ConfigError, 'EINVAL'],
  [ObjectNotFoundError, 'ENOENT'],
  [DirNotFoundError, 'ENOENT'],
  [AlreadyExistsError, 'EEXIST'],
  [DirNotEmptyError, 'ENOTEMPTY'],
  [IsDirectoryError, 'EISDIR'],
  [NotDirectoryError, 'ENOTDIR'],
  [NameTooLongError, 'ENAMETOOLONG'],
  [ReadOnlyError, 'EROFS'],
  [NoSpaceError, 'ENOSPC'],
  [CacheFullError, 'ENOSPC'],
  [NotSupportedError, 'ENOTSUP'],
  [NotPermittedError, 'EPERM'],
  [SseNotEnforcedError, 'EACCES'],
  [PasswordMismatchError, 'EACCES'],
  [FuseUnavailableError, 'ENOSYS'],
  // The request was given up on (handle released, unmount): an interrupted call.
  [AbortedError, 'EINTR'],
]);

const errnoNumbers = os.constants.errno as Record<string, number>;

/** The errno name for errno number `n` (Node's names). */
export function errnoName(n: number): string | undefined {
  for (const [name, value] of Object.entries(errnoNumbers)) if (value === n) return name;
  return undefined;
}

/** The errno name a typed error answers: its own for ErrnoError, else its class's. */
function errnoNameOfClass(err: CryptfsError): string {
  if (err instanceof ErrnoError) return err.errno;
  for (let c: unknown = err.constructor; typeof c === 'function'; c = Object.getPrototypeOf(c)) {
    const name = errnoByClass.get(c as typeof CryptfsError);
    if (name !== undefined) return name;
  }
  return 'EIO';
}

/**
 * The errno an error answers, or undefined when it carries none (answered EIO
 * and reported as unexpected). Besides the typed errors: a bare errno number,
 * Node's system errors (numeric `errno`, `code`) and any error with an errno name.
 */
export function errnoOf(err: unknown): number | undefined {
  if (typeof err === 'number' && Number.isInteger(err) && err !== 0) return Math.abs(err);
  if (err === null || typeof err !== 'object') return undefined;
  if (err instanceof CryptfsError) {
    const name = errnoNameOfClass(err);
    if (Object.hasOwn(errnoNumbers, name)) return errnoNumbers[name];
  }
  const e = err as { errno?: unknown; code?: unknown };
  if (typeof e.errno === 'string' && Object.hasOwn(errnoNumbers, e.errno)) return errnoNumbers[e.errno];
  if (typeof e.errno === 'number' && Number.isInteger(e.errno) && e.errno !== 0) return Math.abs(e.errno);
  if (typeof e.code === 'string' && Object.hasOwn(errnoNumbers, e.code)) return errnoNumbers[e.code];
  return undefined;
}
