// Loads the libfuse3 N-API binding built by node-gyp (binding.gyp at the repo
// root, sources in native/) and describes its surface. The typed, safe API is
// fuse-session.ts; this module is the raw contract with the C side.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CryptfsError } from '../errors.js';
import type {
  Attr,
  DirEntry,
  DirPlusEntry,
  FuseConnectionInfo,
  SetattrChanges,
  StatfsResult,
} from './fuse-types.js';

/** The native FUSE binding is missing (not built) or cannot load (no libfuse3). */
export class FuseUnavailableError extends CryptfsError {}

declare const sessionHandleBrand: unique symbol;
/** Opaque handle of one native session (a napi external). */
export type NativeSessionHandle = { readonly [sessionHandleBrand]: true };

/**
 * What the binding passes to dispatch after (op, id), by operation: the JS
 * half of the ABI whose C half is the table in native/fuse_ops.h (same names;
 * the marshaller of each row there builds the tuple here). The session checks
 * at mount that the binding's `ops` and these keys are the same set.
 */
export interface NativeOpArgs {
  // Notifications (request id 0, no reply).
  init: [info: FuseConnectionInfo];
  end: [errno: number, message: string | null];
  log: [level: number, message: string];
  // Requests. forget takes no reply (id 0) and comes once per inode.
  lookup: [parent: bigint, name: string];
  forget: [ino: bigint, nlookup: number];
  getattr: [ino: bigint, fh: bigint | undefined];
  setattr: [ino: bigint, changes: SetattrChanges, fh: bigint | undefined];
  readlink: [ino: bigint];
  mkdir: [parent: bigint, name: string, mode: number, uid: number, gid: number];
  unlink: [parent: bigint, name: string];
  rmdir: [parent: bigint, name: string];
  symlink: [target: string, parent: bigint, name: string, uid: number, gid: number];
  rename: [parent: bigint, name: string, newParent: bigint, newName: string, flags: number];
  link: [ino: bigint, newParent: bigint, newName: string];
  mknod: [parent: bigint, name: string, mode: number, rdev: number, uid: number, gid: number];
  open: [ino: bigint, flags: number];
  read: [ino: bigint, fh: bigint, offset: number, size: number];
  /** data: the handler's own copy of the payload. */
  write: [ino: bigint, fh: bigint, data: Buffer, offset: number];
  flush: [ino: bigint, fh: bigint];
  release: [ino: bigint, fh: bigint, flags: number];
  fsync: [ino: bigint, fh: bigint, datasync: number];
  opendir: [ino: bigint, flags: number];
  readdir: [ino: bigint, fh: bigint, offset: number, size: number];
  releasedir: [ino: bigint, fh: bigint];
  fsyncdir: [ino: bigint, fh: bigint, datasync: number];
  statfs: [ino: bigint];
  access: [ino: bigint, mask: number, uid: number, gid: number];
  create: [parent: bigint, name: string, mode: number, flags: number, uid: number, gid: number];
  fallocate: [ino: bigint, fh: bigint, mode: number, offset: number, length: number];
  readdirplus: [ino: bigint, fh: bigint, offset: number, size: number];
}

/** Operation names the binding routes. */
export type NativeOpName = keyof NativeOpArgs;

/**
 * Called on the JS thread for every request and notification:
 * `(opcode, requestId, ...NativeOpArgs[ops[opcode]])`. Notifications (init,
 * end, log, forget) carry request id 0 and take no reply.
 */
export type NativeDispatch = (op: number, id: number, ...args: unknown[]) => void;

export interface NativeFuseBinding {
  /**
   * Creates the session (option errors throw here) and starts its loop
   * thread, which mounts. `implemented` names the requests JS handles
   * (notification names are ignored); the others answer ENOSYS inside libfuse.
   */
  mount(
    mountpoint: string,
    args: string[],
    implemented: readonly NativeOpName[],
    dispatch: NativeDispatch,
  ): NativeSessionHandle;
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

  /** Operation names by opcode (the first argument of dispatch). */
  readonly ops: readonly string[];
  readonly openFlags: Readonly<{
    directIo: number;
    keepCache: number;
    nonSeekable: number;
    cacheReaddir: number;
    noFlush: number;
  }>;
  /** FUSE_CAP_* bits, to test FuseConnectionInfo.capable / want. */
  readonly capabilities: Readonly<{ readdirplus: number; readdirplusAuto: number }>;
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
    // The packed tarball carries a build for linux-x64 only (README, "Installing").
    const elsewhere = process.platform !== 'linux' || process.arch !== 'x64';
    const hint = elsewhere
      ? `the package's prebuilt binding is for linux-x64 and this is ${process.platform}-${process.arch}: build it from a checkout (\`make setup\`)`
      : 'is fuse3 installed?';
    throw new FuseUnavailableError(`cannot load the FUSE binding ${path} (${hint})`, {
      cause: err,
    });
  }
  return cached;
}
