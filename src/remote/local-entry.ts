// How a local file's stat becomes a RemoteEntry's metadata (rclone's backend/local/metadata_linux.go).
import { formatMetadataTime, formatMode, type Metadata } from './metadata.js';
import { isXattrKey } from './local-xattr.js';

/** What metadataOfStat reads: a BigIntStats, or the statx the one-job small write returns. */
export interface StatTimes {
  mode: number | bigint;
  uid: number | bigint;
  gid: number | bigint;
  atimeNs: bigint;
  /** 0n where the filesystem does not report it. */
  birthtimeNs: bigint;
}

/**
 * rclone's metadata of a local file: mode, uid, gid, atime, btime (mtime is the entry's own).
 * Only what stat already returned, so listings stay one stat per entry.
 */
export function metadataOfStat(st: StatTimes): Metadata {
  const md: Metadata = {
    mode: formatMode(Number(st.mode)),
    uid: String(st.uid),
    gid: String(st.gid),
    atime: formatMetadataTime(st.atimeNs),
  };
  if (st.birthtimeNs > 0n) md.btime = formatMetadataTime(st.birthtimeNs);
  return md;
}

/** The keys of `metadata` kept as user xattrs (what a stat of the file would list besides its attributes). */
export function userXattrKeys(metadata: Metadata): Metadata {
  return Object.fromEntries(Object.entries(metadata).filter(([k, v]) => isXattrKey(k) && v !== ''));
}
