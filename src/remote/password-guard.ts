// The wrong-password guard. A crypt remote opened with the wrong password lists
// as empty (names that do not decrypt are skipped, as rclone does), so a write
// would quietly put new data beside the old under another key. Before writing,
// the commands (and mount) check that the directory they write into holds no
// entries, or at least one whose name decrypts.
import { PasswordMismatchError } from '../errors.js';
import { log } from '../log.js';
import { CryptRemote } from './crypt.js';
import type { Remote } from './remote.js';
import { joinPath, parentPath } from './remote.js';
import { SubRemote } from './sub-remote.js';

export interface PasswordGuardOptions {
  /** Write anyway (the --allow-undecryptable-dir flag); the finding is still logged. */
  allowUndecryptable?: boolean;
}

/** The global flag that lets a write go ahead into a directory whose names do not decrypt. */
export const ALLOW_UNDECRYPTABLE_FLAG = 'allow-undecryptable-dir';

/** The crypt remote under `remote` (through SubRemotes) and `dir` as a path of it; undefined when there is none. */
function cryptBeneath(remote: Remote, dir: string): { crypt: CryptRemote; path: string } | undefined {
  let r: Remote = remote;
  let path = dir;
  while (r instanceof SubRemote) {
    path = joinPath(r.base, path);
    r = r.inner;
  }
  return r instanceof CryptRemote ? { crypt: r, path } : undefined;
}

/**
 * Throws PasswordMismatchError when `dir` of `remote` is in a crypt remote and
 * the nearest directory that exists there (`dir` itself, else its parents up to
 * the crypt root) holds entries none of whose names decrypt with the password.
 * Does nothing for a remote that is not crypt, and for crypt with
 * filename_encryption = off (the password does not touch names there).
 * Obfuscated names decrypt under any password, so they cannot be judged.
 */
export async function assertPasswordFits(remote: Remote, dir = '', options: PasswordGuardOptions = {}): Promise<void> {
  const found = cryptBeneath(remote, dir);
  if (!found) return;
  const { crypt } = found;
  let path = found.path;
  for (;;) {
    const fit = await crypt.nameFit(path);
    if (fit.anyDecrypts) return;
    if (fit.entries > 0) {
      const finding = CryptRemote.undecryptableMessage(fit.entries, crypt.describeDir(path));
      if (options.allowUndecryptable) {
        log.notice(`${finding} Writing anyway as --${ALLOW_UNDECRYPTABLE_FLAG} is set.`);
        return;
      }
      throw new PasswordMismatchError(
        path,
        fit.entries,
        `${finding} Refusing to write there: new data would sit beside the old under another key. ` +
          `Check the password (and password2), or give --${ALLOW_UNDECRYPTABLE_FLAG} to write anyway.`,
      );
    }
    if (path === '') return;
    path = parentPath(path);
  }
}
