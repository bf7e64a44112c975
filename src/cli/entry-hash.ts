// The hash a remote states for a listed object, at the least cost: a crypt listing's entries carry
// their sealed record (RemoteEntry.sealText), which states the plaintext hashes without another
// request; otherwise the remote's hash() (for crypt: one stat to read the record).
import { CryptRemote } from '../remote/crypt.js';
import type { HashType, Remote, RemoteEntry } from '../remote/remote.js';
import { SubRemote } from '../remote/sub-remote.js';

/** Objects compared by size alone because one side had no hash (an unsealed crypt object), this process. */
export const hashless = { count: 0 };

/** Lower-case hex, or undefined where the remote has none for this object (an unsealed crypt object). */
export async function entryHash(remote: Remote, entry: RemoteEntry, type: HashType): Promise<string | undefined> {
  let base = remote;
  while (base instanceof SubRemote) base = base.inner;
  if (base instanceof CryptRemote && base.listedRecordsStateHashes && entry.sealText !== undefined) {
    const stated = base.hashOfSealText(entry.sealText, type, entry.size);
    if (stated !== undefined) return stated;
  }
  if (!remote.hash || !remote.features.hashes.includes(type)) return undefined;
  return remote.hash(entry.path, type);
}
