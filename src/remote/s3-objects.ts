// What the S3 modules share about objects: bucket/key locations, HEAD and what it tells (size,
// mtime, MD5), rclone's metadata keys, and small encodings (ETag MD5s, copy sources, listed keys, ACL).
import { createHash } from 'node:crypto';
import type { HeadObjectCommandOutput, ObjectCannedACL } from '@aws-sdk/client-s3';
import { asAborted } from '../abort.js';
import { parseMetadataTime, type Metadata } from './metadata.js';
import { formatMtimeNs, parseMtime, parseMtimeNs } from './object-store-util.js';
import type { S3Connection } from './s3-client.js';
import { toRemoteError } from './s3-errors.js';
import type { S3RemoteOptions } from './s3-options.js';
import { sseInput } from './s3-sse.js';

export interface Location {
  bucket: string;
  /** Key inside the bucket; '' for the bucket itself. */
  key: string;
}

export interface ObjectInfo {
  size: number;
  mtime: Date;
  /** The stored modification time to the nanosecond, when it came from rclone's metadata. */
  mtimeNs?: bigint;
  etag?: string;
  metadata: Record<string, string>;
  contentType?: string;
  lastModified?: Date;
}

/** Metadata keys as rclone writes them (the SDK lower-cases them on the way back). */
export const META_MTIME = 'mtime';
export const META_MD5 = 'md5chksum';
/** rclone metadata an object's user metadata carries: everything but the keys the backend itself keeps (mtime, MD5). */
export function userMetadataOf(stored: Record<string, string>): Metadata {
  const out: Metadata = {};
  for (const [k, v] of Object.entries(stored)) if (k !== META_MTIME && k !== META_MD5) out[k] = v;
  return out;
}

/** WriteOptions.metadata as S3 user metadata: keys lower-cased, never the backend's own. */
export function storableMetadata(md: Metadata | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md ?? {})) {
    const key = k.toLowerCase();
    if (key !== META_MTIME && key !== META_MD5 && v !== '') out[key] = v;
  }
  return out;
}

/** The MD5 (lower-case hex) an ETag carries, if it looks like one (multipart and SSE-C ETags do not). */
export function etagMd5(etag: string | undefined): string | undefined {
  const hex = etag?.replace(/"/g, '').toLowerCase();
  return hex && /^[0-9a-f]{32}$/.test(hex) ? hex : undefined;
}

export function md5Base64(data: Uint8Array): string {
  return createHash('md5').update(data).digest('base64');
}

/** S3's URL form of `x-amz-copy-source`: each key segment percent-encoded, '/' kept. */
export function copySource(bucket: string, key: string): string {
  return `${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** The canned ACL field for object requests (PUT, copy, multipart), when acl is set. */
export function aclInput(options: S3RemoteOptions): { ACL?: ObjectCannedACL } {
  return options.acl ? { ACL: options.acl as ObjectCannedACL } : {};
}

/** HEADs an object (with the SSE-C key, which S3 requires to answer for SSE-C objects); `signal` ends it at once. */
export async function headObject(conn: S3Connection, loc: Location, path: string, signal?: AbortSignal): Promise<ObjectInfo> {
  let out: HeadObjectCommandOutput;
  try {
    out = await conn.client.send(new conn.sdk.HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key, ...sseInput(conn.options) }), {
      abortSignal: signal,
    });
  } catch (err) {
    throw asAborted(toRemoteError(err, 'head', path), signal);
  }
  return objectInfo(out, conn.options);
}

/** What a GetObject answer says about the whole object (a ranged GET's Content-Range carries the total size). */
export function objectInfoOfGet(
  out: { ContentLength?: number; ContentRange?: string; ETag?: string; LastModified?: Date; Metadata?: Record<string, string>; ContentType?: string },
  options: S3RemoteOptions,
): ObjectInfo {
  const total = /\/([0-9]+)$/.exec(out.ContentRange ?? '')?.[1];
  return objectInfo({ ...out, ContentLength: total !== undefined ? Number(total) : out.ContentLength }, options);
}

/** Stored user metadata with rclone metadata `changes` laid over it ('' removes a key); the MD5 key is never changed, mtime only by a valid time. */
export function changedMetadata(stored: Record<string, string>, changes: Metadata): Record<string, string> {
  const metadata = { ...stored };
  for (const [k, v] of Object.entries(changes)) {
    const key = k.toLowerCase();
    if (key === META_MD5) continue;
    if (key === META_MTIME) {
      const ns = parseMetadataTime(v);
      if (ns !== undefined) metadata[META_MTIME] = formatMtimeNs(ns);
    } else if (v === '') delete metadata[key];
    else metadata[key] = v;
  }
  return metadata;
}

function objectInfo(
  out: {
    ContentLength?: number;
    ETag?: string;
    LastModified?: Date;
    Metadata?: Record<string, string>;
    ContentType?: string;
  },
  options: S3RemoteOptions,
): ObjectInfo {
  const metadata = out.Metadata ?? {};
  const lastModified = out.LastModified;
  return {
    size: out.ContentLength ?? 0,
    etag: out.ETag,
    metadata,
    contentType: out.ContentType,
    lastModified,
    mtime: pickMtime(options, metadata, lastModified),
    mtimeNs: options.useServerModtime ? undefined : parseMtimeNs(metadata?.[META_MTIME]),
  };
}

function pickMtime(options: S3RemoteOptions, metadata: Record<string, string> | undefined, lastModified: Date | undefined): Date {
  if (!options.useServerModtime) {
    const fromMeta = parseMtime(metadata?.[META_MTIME]);
    if (fromMeta) return fromMeta;
  }
  return lastModified ?? new Date(0);
}

/** The MD5 an object's metadata or ETag carries, as rclone reads it. */
export function md5Of(options: S3RemoteOptions, info: ObjectInfo): string | undefined {
  const stored = info.metadata[META_MD5];
  if (stored) {
    const bytes = Buffer.from(stored, 'base64');
    if (bytes.length === 16) return bytes.toString('hex');
  }
  // With SSE-C the ETag is not the MD5 of the content.
  if (options.sse) return undefined;
  return etagMd5(info.etag);
}
