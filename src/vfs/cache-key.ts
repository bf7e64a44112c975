// The key of the VFS cache (block files and journal) and the cache directory of
// a remote.
//
// The key must survive a crash: a daemon killed with dirty files re-uploads
// them on the next mount of the same remote, so that mount has to read the
// cache. For a remote with keys (crypt) the key is derived from a secret the
// remote computes from them (Remote.cacheKeySecret; crypt: its content
// cipher's keystream under a fixed nonce no real file uses), run through
// HMAC-SHA256 with a label. Nothing new is stored on disk.
//
// A remote without crypt stores its data in the clear at the remote anyway, so
// the cache holds nothing the remote does not; it still uses the same encrypted
// format (one code path), with a random key kept in a 0600 key file in the
// cache directory. That protects nothing against someone who can read the
// cache directory, and is documented as such.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { CryptfsError } from '../errors.js';
import os from 'node:os';
import { join } from 'node:path';
import type { Remote } from '../remote/remote.js';

export const CACHE_KEY_SIZE = 32;
const KEY_LABEL = 'cryptfs vfs cache key v1';

export interface CacheKey {
  key: Buffer;
  /** Where it came from: derived from the crypt keys, or a key file next to the cache. */
  source: 'crypt' | 'keyfile';
}

/** HMAC-SHA256(the remote's cache-key secret, label): the same keys, the same cache key; undefined for a remote without keys. */
export async function deriveRemoteCacheKey(remote: Remote): Promise<Buffer | undefined> {
  const secret = await remote.cacheKeySecret?.();
  if (!secret) return undefined;
  const key = createHmac('sha256', secret).update(KEY_LABEL).digest();
  secret.fill(0);
  return key;
}

/** The cache key for `remote`, creating the key file in `cacheDir` for a non-crypt remote. */
export async function cacheKeyFor(remote: Remote, cacheDir: string): Promise<CacheKey> {
  const derived = await deriveRemoteCacheKey(remote);
  if (derived) return { key: derived, source: 'crypt' };
  const file = join(cacheDir, 'key');
  try {
    const key = await fsp.readFile(file);
    if (key.length === CACHE_KEY_SIZE) return { key, source: 'keyfile' };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(CACHE_KEY_SIZE);
  await writeFileAtomic(file, key);
  return { key, source: 'keyfile' };
}

/**
 * Writes `data` to `file` through a temp file of a random name created with
 * O_EXCL|O_NOFOLLOW (mode 0600), then renames it over: no predictable name
 * another user could plant a symlink at, no half-written file.
 */
export async function writeFileAtomic(file: string, data: Uint8Array): Promise<void> {
  const temp = `${file}.${randomBytes(8).toString('hex')}.tmp`;
  const fh = await fsp.open(temp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  try {
    await fh.writeFile(data);
    await fh.close();
    await fsp.rename(temp, file);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await fsp.rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/**
 * Refuses a cache directory someone else could tamper with: it must be a real
 * directory (not a symlink), owned by this user, with no group or other write.
 */
export async function checkCacheDirSafe(dir: string): Promise<void> {
  const st = await fsp.lstat(dir);
  const uid = process.getuid?.();
  const problem = !st.isDirectory()
    ? 'is not a directory (or is a symbolic link)'
    : uid !== undefined && st.uid !== uid
      ? `is owned by uid ${st.uid}, not by this user (uid ${uid})`
      : (st.mode & 0o022) !== 0
        ? `is writable by ${st.mode & 0o020 ? 'its group' : 'other users'} (mode ${(st.mode & 0o777).toString(8)})`
        : undefined;
  if (problem) {
    throw new CryptfsError(
      `refusing the cache directory ${dir}: it ${problem}; use a private directory (chmod 700, owned by you) or --cache-dir`,
    );
  }
}

/** A sub-key for one purpose ('journal', 'block:<id>'). */
export function subKey(key: Buffer, purpose: string): Buffer {
  return createHmac('sha256', key).update(`cryptfs vfs ${purpose}`).digest();
}

/** The default cache root, found as rclone finds its own ($XDG_CACHE_HOME or ~/.cache) but named cryptfs, not rclone. */
export function defaultCacheRoot(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg !== '' ? xdg : join(os.homedir(), '.cache'), 'cryptfs');
}

/**
 * The cache directory of one remote *definition*: <root>/vfs/<digest>, from
 * the remote's definition digest (type, root, non-secret options, wrapped
 * remotes) and, for a crypt remote, a value derived from its keys — never from
 * its name, so two configs that both call a remote `secret:` never share (or
 * clean up) each other's cache. Hashed because remote paths can be sensitive.
 *
 * Caches of earlier versions were named after the remote's name alone; such a
 * directory is taken over when its journal opens with this remote's key.
 */
export async function remoteCacheDir(root: string, remote: Remote): Promise<string> {
  // The root and <root>/vfs must be private too: whoever can write them can swap the cache.
  for (const dir of [root, join(root, 'vfs')]) {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    await checkCacheDirSafe(dir);
  }
  const parts = ['cryptfs vfs cache dir v2', remote.definitionId ?? `name:${remote.displayName}`];
  const cryptKey = await deriveRemoteCacheKey(remote);
  if (cryptKey) parts.push(subKey(cryptKey, 'cache dir').toString('hex'));
  const dir = join(root, 'vfs', createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 32));
  if (cryptKey) await adoptLegacyCacheDir(legacyRemoteCacheDir(root, remote.displayName), dir, cryptKey);
  return dir;
}

/** Before cache dirs were per definition: <root>/vfs/<hash of the remote's display name>. */
export function legacyRemoteCacheDir(root: string, remoteName: string): string {
  const hash = createHash('sha256').update(remoteName).digest('hex').slice(0, 32);
  return join(root, 'vfs', hash);
}

async function adoptLegacyCacheDir(legacy: string, dir: string, key: Buffer): Promise<void> {
  if (legacy === dir) return;
  const exists = (p: string) => fsp.stat(p).then(() => true, () => false);
  if ((await exists(dir)) || !(await exists(join(legacy, 'journal')))) return;
  const { journalOpensWith } = await import('./journal.js');
  if (!(await journalOpensWith(legacy, key))) return;
  await fsp.rename(legacy, dir).catch(() => undefined);
}
