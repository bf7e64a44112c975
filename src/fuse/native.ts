// Loads the libfuse3 N-API binding built by node-gyp (binding.gyp at the repo
// root, sources in native/) and describes its surface. The typed, safe API is
// fuse-session.ts; this module is the raw contract with the C side.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CryptfsError } from '../errors.js';
import type { Attr, DirEntry, DirPlusEntry, StatfsResult } from './fuse-session.js';

/** The native FUSE binding is missing (not built) or cannot load (no libfuse3). */
export class FuseUnavailableError extends CryptfsError {
  override errno = 'ENOSYS';
}

declare const sessionHandleBrand: unique symbol;
/** Opaque handle of one native session (a napi external). */
export type NativeSessionHandle = { readonly [sessionHandleBrand]: true };

/** Operation names the binding routes; also the keys of `opcodes`. */
export type NativeOpName =
  | 'init'
  | 'end'
  | 'log'
  | 'lookup'
  | 'forget'
  | 'getattr'
  | 'setattr'
  | 'readlink'
  | 'mkdir'
  | 'unlink'
  | 'rmdir'
  | 'symlink'
  | 'rename'
  | 'link'
  | 'open'
  | 'read'
  | 'write'
  | 'flush'
  | 'release'
  | 'fsync'
  | 'opendir'
  | 'readdir'
  | 'releasedir'
  | 'fsyncdir'
  | 'statfs'
  | 'access'
  | 'create'
  | 'fallocate'
  | 'readdirplus';

/**
 * Called on the JS thread for every request and notification:
 * `(opcode, requestId, ...operation arguments)`. Notifications (init, end,
 * log, forget) carry request id 0 and take no reply.
 */
export type NativeDispatch = (op: number, id: number, ...args: any[]) => void;

export interface NativeFuseBinding {
  /**
   * Creates the session (option errors throw here) and starts its loop
   * thread, which mounts. `opsMask` has bit (opcode - opFirst) set for each
   * operation JS implements; the others answer ENOSYS inside libfuse.
   */
  mount(mountpoint: string, args: string[], opsMask: number, dispatch: NativeDispatch): NativeSessionHandle;
  /** Ends the loop; `detached` = the mount was already removed by the caller. */
  stop(handle: NativeSessionHandle, detached: boolean): boolean;
  /** umount2(path, MNT_DETACH): 0 or an errno number. */
  umount(path: string): number;

  // Replies, by request id. Each returns false when the id is no longer
  // pending (answered already). A malformed value answers EIO and throws.
  replyErr(id: number, errno: number): boolean;
  replyEntry(id: number, attr: Attr | null, entryTimeout: number, attrTimeout: number): boolean;
  replyAttr(id: number, attr: Attr, timeout: number): boolean;
  /** false also when the opener was interrupted: no release will follow. */
  replyOpen(id: number, fh: bigint, flags: number): boolean;
  replyCreate(
    id: number,
    attr: Attr,
    entryTimeout: number,
    attrTimeout: number,
    fh: bigint,
    flags: number,
  ): boolean;
  replyData(id: number, data: ArrayBufferView | ArrayBuffer): boolean;
  replyWrite(id: number, count: number): boolean;
  replyReadlink(id: number, target: string): boolean;
  replyStatfs(id: number, stats: StatfsResult): boolean;
  /** Number of entries that fit the kernel's buffer, or false. */
  replyReaddir(id: number, entries: readonly DirEntry[]): number | false;
  /**
   * Number of entries that fit, or false. Each entry that fit and has an attr
   * is a lookup of attr.ino for the kernel (except "." and ".."); the others
   * are plain names.
   */
  replyReaddirPlus(
    id: number,
    entries: readonly DirPlusEntry[],
    entryTimeout: number,
    attrTimeout: number,
  ): number | false;

  readonly opcodes: Readonly<Record<NativeOpName, number>>;
  readonly openFlags: Readonly<{
    directIo: number;
    keepCache: number;
    nonSeekable: number;
    cacheReaddir: number;
    noFlush: number;
  }>;
  /** FUSE_CAP_* bits, to test FuseConnectionInfo.capable / want. */
  readonly capabilities: Readonly<{ readdirplus: number; readdirplusAuto: number }>;
  readonly opFirst: number;
  /** libfuse version, e.g. 314 for 3.14. */
  readonly fuseVersion: number;
}

export const NATIVE_ADDON_NAME = 'cryptfs_fuse.node';

let cached: NativeFuseBinding | undefined;

/**
 * Where node-gyp put the addon: build/Release under the package root.
 * CRYPTFS_FUSE_ADDON names another build (a debug or sanitizer one).
 */
export function findNativeAddon(): string | undefined {
  const override = process.env.CRYPTFS_FUSE_ADDON;
  if (override) return existsSync(override) ? override : undefined;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    for (const config of ['Release', 'Debug']) {
      const candidate = join(dir, 'build', config, NATIVE_ADDON_NAME);
      if (existsSync(candidate)) return candidate;
    }
    if (existsSync(join(dir, 'package.json'))) return undefined;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Loads the binding once; throws FuseUnavailableError with the reason. */
export function loadNativeFuse(): NativeFuseBinding {
  if (cached) return cached;
  const path = findNativeAddon();
  if (!path) {
    throw new FuseUnavailableError(
      `the FUSE binding is not built (build/Release/${NATIVE_ADDON_NAME} missing): ` +
        'run `npm install` or `node-gyp rebuild` (needs libfuse3-dev and pkg-config)',
    );
  }
  const require = createRequire(import.meta.url);
  try {
    cached = require(path) as NativeFuseBinding;
  } catch (err) {
    throw new FuseUnavailableError(`cannot load the FUSE binding ${path} (is fuse3 installed?)`, {
      cause: err,
    });
  }
  return cached;
}
