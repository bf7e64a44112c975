// Which names of files log lines show (--log-names): `plain`, the decrypted
// paths (rclone's lines); `encrypted`, the crypt remote's names as stored on
// the underlying remote; `none`, no name at all. On a shared machine a log
// file at -v otherwise lists every decrypted path. Every message that names a
// file of the user's tree goes through logPath().
import { UsageError } from './errors.js';
import { CryptRemote } from './remote/crypt.js';
import { joinPath, type Remote } from './remote/remote.js';
import { SubRemote } from './remote/sub-remote.js';

export type LogNames = 'plain' | 'encrypted' | 'none';

/** What a hidden name shows as (also `encrypted` without a crypt remote to encrypt with). */
export const HIDDEN_NAME = '<name hidden>';

let mode: LogNames = 'plain';
let encrypt: ((path: string) => string) | undefined;

export function parseLogNames(text: string): LogNames {
  const v = text.trim().toLowerCase();
  if (v === 'plain' || v === 'encrypted' || v === 'none') return v;
  throw new UsageError(`invalid argument "${text}" for "--log-names" flag: want plain, encrypted or none`);
}

export function setLogNames(next: LogNames): void {
  mode = next;
}

/**
 * The remote whose paths log lines name (the mount's remote, a command's
 * crypt side): `encrypted` shows its crypt remote's names, from the crypt
 * remote's root (a sub-path of it is encrypted too).
 */
export function setLogNamesRemote(remote: Remote | undefined): void {
  let base = '';
  let r = remote;
  while (r instanceof SubRemote) {
    base = joinPath(r.base, base);
    r = r.inner;
  }
  if (r instanceof CryptRemote) {
    const crypt = r;
    encrypt = (path) => crypt.encryptName(joinPath(base, path));
  } else {
    encrypt = undefined;
  }
}

/**
 * Called for every remote a command opens: the first crypt remote (or a
 * sub-path of one) names the files (a copy names the same relative path on
 * both sides; the crypt side is the one whose names are private).
 */
export function noteOpenedRemote(remote: Remote): void {
  if (!encrypt) setLogNamesRemote(remote);
}

/** A path of the user's tree as log lines show it. */
export function logPath(path: string): string {
  if (mode === 'plain' || path === '') return path;
  if (mode === 'encrypted' && encrypt) {
    try {
      return encrypt(path);
    } catch {
      return HIDDEN_NAME; // e.g. a name too long to encrypt
    }
  }
  return HIDDEN_NAME;
}
