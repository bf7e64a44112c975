// What the object-store drivers (s3, swift) share: rclone's modification-time text and a bounded
// parallel map for per-object requests.

import { dateToNs, nsToDate } from './remote.js';

// rclone stores a modification time (S3's X-Amz-Meta-Mtime, Swift's X-Object-Meta-Mtime) as
// seconds since the epoch in fixed-point decimal, trailing zeros dropped ("1354040105.123456789",
// "1354040105"). JavaScript dates hold milliseconds.

export function formatMtime(date: Date): string {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('invalid date');
  return formatMtimeNs(dateToNs(date));
}

/** The same text from nanoseconds, so times rclone wrote to the nanosecond round-trip exactly. */
export function formatMtimeNs(ns: bigint): string {
  if (ns < 0n) return '-' + formatMtimeNs(-ns);
  const seconds = ns / 1_000_000_000n;
  const fraction = String(ns % 1_000_000_000n).padStart(9, '0').replace(/0+$/, '');
  return fraction === '' ? String(seconds) : `${seconds}.${fraction}`;
}

/** Parses rclone's (and python-swiftclient's) mtime string to nanoseconds; undefined when it is not one. */
export function parseMtimeNs(text: string | null | undefined): bigint | undefined {
  if (text === undefined || text === null) return undefined;
  const m = /^\s*(-?)(\d+)(?:\.(\d*))?\s*$/.exec(text);
  if (!m) return undefined;
  const ns = BigInt(m[2]) * 1_000_000_000n + BigInt((m[3] ?? '').padEnd(9, '0').slice(0, 9));
  const signed = m[1] === '-' ? -ns : ns;
  // Beyond what a Date can hold, it is not a time we can use.
  if (Number.isNaN(nsToDate(signed).getTime())) return undefined;
  return signed;
}

/** Parses rclone's mtime string to a Date (milliseconds); undefined when it is not one. */
export function parseMtime(text: string | null | undefined): Date | undefined {
  const ns = parseMtimeNs(text);
  return ns === undefined ? undefined : nsToDate(ns);
}

/**
 * For a recursive listing, which has only keys: the directories on the way to the key `rel`
 * (relative to the listed prefix; "a/b/c" gives "a" and "a/b", as does the marker "a/b/") not in
 * `seen` yet, in order, added to it. Empty segments ("a//b") make none.
 */
export function newDirectoriesOf(rel: string, seen: Set<string>): string[] {
  const parts = rel.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) {
    if (parts[i - 1] === '') continue;
    const d = parts.slice(0, i).join('/');
    if (seen.has(d)) continue;
    seen.add(d);
    out.push(d);
  }
  return out;
}
