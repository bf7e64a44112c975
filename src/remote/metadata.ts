// rclone's object metadata (`rclone copy -M`): string keys and values, of which
// the POSIX ones are mode (octal with the file-type bits, as Go's "%o" of
// st_mode prints it: "100644"), uid and gid (decimal), atime, mtime and btime
// (RFC 3339 with up to nine fraction digits, trailing zeros dropped, as Go's
// RFC3339Nano). The local remote keeps them as the file's real attributes,
// S3 as x-amz-meta-<key>, Swift as X-Object-Meta-<Key>.

/** Metadata keys to values, lower-case keys. */
export type Metadata = Record<string, string>;

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFSOCK = 0o140000;

/** The special file types a mount can make with mknod: an empty object whose stored mode says what it is. */
const SPECIAL_TYPES = new Set([S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK]);

/** Whether `type` (st_mode & S_IFMT) is a FIFO, socket or device. */
export function isSpecialType(type: number): boolean {
  return SPECIAL_TYPES.has(type);
}

/** Ownership and permission bits as stored in metadata (each only when present and well-formed). */
export interface PosixAttrs {
  /** Permission bits including setuid/setgid/sticky (0o7777), without the file type. */
  mode?: number;
  uid?: number;
  gid?: number;
}

const DECIMAL = /^[0-9]{1,10}$/;
const OCTAL = /^0?[0-7]{1,7}$/;

/** The POSIX attributes a metadata record carries; malformed values are left out, as rclone does. */
export function posixAttrsOf(md: Metadata | undefined): PosixAttrs {
  const out: PosixAttrs = {};
  if (!md) return out;
  if (md.mode !== undefined && OCTAL.test(md.mode)) out.mode = parseInt(md.mode, 8) & 0o7777;
  if (md.uid !== undefined && DECIMAL.test(md.uid)) out.uid = Number(md.uid);
  if (md.gid !== undefined && DECIMAL.test(md.gid)) out.gid = Number(md.gid);
  return out;
}

/**
 * The file type a file's (not a directory's) stored mode gives: a FIFO, socket or device when the
 * mode says so, otherwise (no mode, a malformed one, any other type) a regular file.
 */
export function fileTypeOf(md: Metadata | undefined): number {
  const mode = md?.mode;
  if (mode === undefined || !OCTAL.test(mode)) return S_IFREG;
  const type = parseInt(mode, 8) & S_IFMT;
  return isSpecialType(type) ? type : S_IFREG;
}

/**
 * rclone's `rdev` (backend/local/metadata_linux.go): hexadecimal of major << 32 | minor, set only
 * when not 0. Linux's dev_t, as FUSE passes it, keeps the major in bits 8-19 and the minor in bits
 * 0-7 and 20-31 (the kernel's new_encode_dev; glibc's makedev gives the same for majors below 4096).
 */
export function formatRdev(dev: number): string | undefined {
  const major = (dev >>> 8) & 0xfff;
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  if (major === 0 && minor === 0) return undefined;
  return ((BigInt(major) << 32n) | BigInt(minor)).toString(16);
}

const HEX = /^[0-9a-fA-F]{1,16}$/;

/** The dev_t (Linux encoding, as formatRdev takes it) of a stored `rdev`; 0 when absent or malformed. */
export function rdevOf(md: Metadata | undefined): number {
  const text = md?.rdev;
  if (text === undefined || !HEX.test(text)) return 0;
  const v = BigInt(`0x${text}`);
  const major = Number((v >> 32n) & 0xfffn);
  const minor = Number(v & 0xfffffn);
  return ((major << 8) | (minor & 0xff) | ((minor & 0xfff00) << 12)) >>> 0;
}

/**
 * Metadata for POSIX attributes, as rclone's local backend writes them: mode with the type bits
 * `type` gives ("100755" for a file, "40755" for a directory, "10644" for a FIFO); `true`/`false`
 * are a directory and a regular file.
 */
export function metadataOfPosix(attrs: PosixAttrs, type: boolean | number): Metadata {
  const md: Metadata = {};
  const typeBits = type === true ? S_IFDIR : type === false ? S_IFREG : type & S_IFMT;
  if (attrs.mode !== undefined) md.mode = formatMode(typeBits | (attrs.mode & 0o7777));
  if (attrs.uid !== undefined) md.uid = String(attrs.uid);
  if (attrs.gid !== undefined) md.gid = String(attrs.gid);
  return md;
}

/** st_mode as rclone prints it: octal, no leading zero. */
export function formatMode(stMode: number): string {
  return (stMode & (S_IFMT | 0o7777)).toString(8);
}

/** Nanoseconds since the epoch as RFC 3339 in UTC with Go's RFC3339Nano fraction ("…:05.1234Z", none when whole). */
export function formatMetadataTime(ns: bigint): string {
  const ms = ns >= 0n ? ns / 1_000_000n : -((-ns + 999_999n) / 1_000_000n);
  const iso = new Date(Number(ms)).toISOString(); // …T03:04:05.123Z
  const frac = (((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${iso.slice(0, 19)}${frac === '' ? '' : `.${frac}`}Z`;
}

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

/** Parses an RFC 3339 time to nanoseconds since the epoch; undefined when malformed. */
export function parseMetadataTime(text: string | undefined): bigint | undefined {
  const m = text === undefined ? null : RFC3339.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (!Number.isFinite(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** `base` with `changes` laid over it (a key set to '' is removed). */
export function mergeMetadata(base: Metadata | undefined, changes: Metadata): Metadata {
  const out: Metadata = { ...base };
  for (const [k, v] of Object.entries(changes)) {
    if (v === '') delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Whether two records hold the same keys and values. */
export function sameMetadata(a: Metadata | undefined, b: Metadata | undefined): boolean {
  const ka = Object.keys(a ?? {});
  if (ka.length !== Object.keys(b ?? {}).length) return false;
  return ka.every((k) => a![k] === b?.[k]);
}

/** Keys a remote sets itself when an object is (re)written: the VFS does not carry them over to a new upload. */
const TIME_KEYS = new Set(['atime', 'mtime', 'btime']);

/**
 * What a rewrite of the object keeps of its stored metadata (mode, owner, user keys; not the
 * times, which the new upload makes afresh); undefined when nothing.
 */
export function carriedMetadata(md: Metadata | undefined): Metadata | undefined {
  if (!md) return undefined;
  let out: Metadata | undefined;
  for (const [k, v] of Object.entries(md)) if (!TIME_KEYS.has(k)) (out ??= {})[k] = v;
  return out;
}
