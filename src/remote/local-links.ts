// Symlinks on the local remote, as rclone's local backend treats them:
// - links (-l/--links): a symlink NAME is the object NAME.rclonelink whose
//   content is the link's target; writing such an object makes a symlink.
// - copy_links (-L/--copy-links): symlinks are followed (a dangling or
//   looping one is an error in the listing and skipped).
// - neither: symlinks are skipped with a NOTICE (none with skip_links).
import { randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, IsDirectoryError, RemoteIOError } from '../errors.js';
import { log } from '../log.js';
import { logPath } from '../log-names.js';
import type { ByteSource, ReadRange } from './remote.js';

export const LINK_SUFFIX = '.rclonelink';

/** Longest link target written (PATH_MAX, with its NUL). */
const MAX_TARGET_BYTES = 4095;

export interface LocalLinkOptions {
  /** Translate symlinks to/from NAME.rclonelink objects (-l/--links). */
  links?: boolean;
  /** Follow symlinks (-L/--copy-links). */
  copyLinks?: boolean;
  /** Don't warn about skipped symlinks (--skip-links). */
  skipLinks?: boolean;
}

export function checkLinkOptions(o: LocalLinkOptions): void {
  if (o.links && o.copyLinks) throw new ConfigError("can't use -l/--links with -L/--copy-links");
}

/** Whether `name` is a translated link's name (links on). */
export function isLinkName(o: LocalLinkOptions, name: string): boolean {
  return o.links === true && name.length > LINK_SUFFIX.length && name.endsWith(LINK_SUFFIX);
}

/**
 * What a listing shows for the symlink at `abs` (remote path `path`): the
 * entry's remote path and stats, or undefined to leave it out.
 */
export async function listedLink(
  o: LocalLinkOptions,
  path: string,
  abs: string,
): Promise<{ path: string; st: BigIntStats } | undefined> {
  if (o.links) return { path: path + LINK_SUFFIX, st: await fsp.lstat(abs, { bigint: true }) };
  if (o.copyLinks) {
    try {
      return { path, st: await fsp.stat(abs, { bigint: true }) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ELOOP') throw err;
      log.error(`${logPath(path)}: Listing error: symlink: ${(err as Error).message}`);
      return undefined;
    }
  }
  if (!o.skipLinks) log.notice(`${logPath(path)}: Can't follow symlink without -L/--copy-links`);
  return undefined;
}

/** The on-disk symlink a link object's absolute path stands for, if there is one. */
export async function symlinkAt(absObject: string): Promise<string | undefined> {
  const abs = absObject.slice(0, -LINK_SUFFIX.length);
  const st = await fsp.lstat(abs).catch(() => undefined);
  return st?.isSymbolicLink() ? abs : undefined;
}

/** The target of the symlink `abs` as object content (a byte range of it). */
export async function readLinkContent(abs: string, range?: ReadRange): Promise<ByteSource> {
  const target = await fsp.readlink(abs, { encoding: 'buffer' });
  const start = range?.offset ?? 0;
  const end = range?.length === undefined ? target.length : start + range.length;
  const part = target.subarray(start, end);
  return (async function* () {
    if (part.length > 0) yield part;
  })();
}

/**
 * Makes the symlink `abs` from a link object's content: made under a
 * temporary name, then renamed over whatever file or link is at `abs`.
 */
export async function writeLink(abs: string, path: string, source: ByteSource, mtimeNs: bigint): Promise<void> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of source) {
    length += chunk.length;
    if (length > MAX_TARGET_BYTES) throw new RemoteIOError(`${path}: symlink target longer than ${MAX_TARGET_BYTES} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  const existing = await fsp.lstat(abs).catch(() => undefined);
  if (existing?.isDirectory()) throw new IsDirectoryError(path);
  const temp = join(abs, '..', `.cryptfs-partial-${randomBytes(6).toString('hex')}`);
  try {
    await fsp.symlink(Buffer.concat(chunks), temp);
    const seconds = Number(mtimeNs) / 1e9;
    await fsp.lutimes(temp, seconds, seconds);
    await fsp.rename(temp, abs);
  } catch (err) {
    await fsp.rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
}
