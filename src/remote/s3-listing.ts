// Listing an S3 store: the buckets at the top, a directory (key prefix) inside a bucket with its
// objects' metadata, and the small listing that tells whether a prefix holds anything.
import { asAborted } from '../abort.js';
import { DirNotFoundError, ObjectNotFoundError, RemoteIOError } from '../errors.js';
import { mapLimit } from '../concurrency.js';
import { newDirectoriesOf } from './object-store-util.js';
import type { Metadata } from './metadata.js';
import { joinPath, type RemoteEntry } from './remote.js';
import type { S3Connection } from './s3-client.js';
import { toRemoteError } from './s3-errors.js';
import { listObjectsPage, type ListedObject, type ListPage } from './s3-list-page.js';
import { headObject, userMetadataOf, type Location } from './s3-objects.js';

/** HEADs in flight while listing one page (listing needs each object's metadata mtime). */
const LIST_HEAD_CONCURRENCY = 8;

/**
 * What lies under a directory inside a bucket, a page of `list_chunk` keys at a time: with
 * `recursive` false its entries (one listing with the delimiter '/'), with true everything at any
 * depth (one listing without it, rclone's ListR), the directories made from the keys' paths, each
 * yielded before the first entry inside it. Each object is HEADed for its metadata mtime unless the
 * server's times are used or the caller needs no times (ListOptions.modTimes false: the listing's
 * own time, no metadata).
 */
export async function* listKeys(
  conn: S3Connection,
  loc: Location,
  dir: string,
  listChunk: number,
  recursive: boolean,
  signal?: AbortSignal,
  modTimes = true,
): AsyncIterable<RemoteEntry> {
  const prefix = loc.key === '' ? '' : `${loc.key}/`;
  // A directory inside a bucket exists while some key (or a "dir/" marker) lives under it.
  let found = loc.key === '';
  const dirsSeen = new Set<string>();
  const directory = (path: string): RemoteEntry => ({ path: joinPath(dir, path), isDir: true, size: -1, mtime: new Date(0) });
  for await (const page of listPages(conn, loc.bucket, prefix, recursive ? undefined : '/', listChunk, dir, signal)) {
    if (page.prefixes.length > 0 || page.objects.length > 0) found = true;
    // A page's directories come first, then its objects: each directory ahead of its entries.
    const dirs: RemoteEntry[] = [];
    const objects: ListedObject[] = [];
    if (recursive) {
      for (const o of page.objects) {
        const rel = o.key.slice(prefix.length);
        if (!o.key.startsWith(prefix) || rel === '') continue;
        for (const d of newDirectoriesOf(rel, dirsSeen)) dirs.push(directory(d));
        if (!rel.endsWith('/')) objects.push(o);
      }
    } else {
      for (const p of page.prefixes) {
        const name = p.slice(prefix.length).replace(/\/$/, '');
        if (name !== '') dirs.push(directory(name));
      }
      // Directory markers ("dir/" objects some tools create) are not files.
      for (const o of page.objects) if (o.key.length > prefix.length && !o.key.endsWith('/')) objects.push(o);
    }
    yield* dirs;
    yield* await objectEntries(conn, loc.bucket, prefix, dir, objects, modTimes, signal);
  }
  if (!found) throw new DirNotFoundError(dir);
}

/** The pages of one ListObjectsV2 listing (errors as the listing of `dir`). */
export async function* listPages(
  conn: S3Connection,
  bucket: string,
  prefix: string,
  delimiter: string | undefined,
  listChunk: number,
  dir: string,
  signal?: AbortSignal,
): AsyncGenerator<ListPage> {
  let token: string | undefined;
  do {
    let page: ListPage;
    try {
      page = await listObjectsPage(conn, { Bucket: bucket, Prefix: prefix, Delimiter: delimiter, MaxKeys: listChunk, ContinuationToken: token }, signal);
    } catch (err) {
      if (signal?.aborted) throw asAborted(err, signal);
      throw toRemoteError(err, 'list', dir, 'dir');
    }
    yield page;
    token = page.isTruncated ? page.nextContinuationToken : undefined;
    if (page.isTruncated && !token) {
      throw new RemoteIOError(`s3: list ${JSON.stringify(dir)}: truncated listing without a continuation token`);
    }
  } while (token);
}

/** HEADs the listed objects for their metadata mtime, unless the server's times do or none are asked for. */
async function objectEntries(
  conn: S3Connection,
  bucket: string,
  prefix: string,
  dir: string,
  objects: ListedObject[],
  modTimes: boolean,
  signal?: AbortSignal,
): Promise<RemoteEntry[]> {
  const head = modTimes && !conn.options.useServerModtime;
  return mapLimit(objects, head ? LIST_HEAD_CONCURRENCY : 1, async (o) => {
    const name = o.key.slice(prefix.length);
    let mtime = o.lastModified ?? new Date(0);
    let mtimeNs: bigint | undefined;
    let metadata: Metadata | undefined;
    if (head) {
      try {
        const info = await headObject(conn, { bucket, key: o.key }, joinPath(dir, name), signal);
        ({ mtime, mtimeNs } = info);
        metadata = userMetadataOf(info.metadata);
      } catch (err) {
        // Deleted between the listing and the HEAD: the listing's time will do.
        if (!(err instanceof ObjectNotFoundError)) throw err;
      }
    }
    const entry: RemoteEntry = { path: joinPath(dir, name), isDir: false, size: o.size, mtime, mtimeNs, metadata };
    if (!modTimes && !conn.options.useServerModtime) entry.mtimeUnread = true;
    return entry;
  });
}

/** The buckets, as the directories at the top of the store. */
export async function* listBuckets(conn: S3Connection, dir: string): AsyncIterable<RemoteEntry> {
  let out;
  try {
    out = await conn.client.send(new conn.sdk.ListBucketsCommand({}));
  } catch (err) {
    throw toRemoteError(err, 'list buckets', dir, 'none');
  }
  for (const b of out.Buckets ?? []) {
    if (!b.Name) continue;
    yield { path: joinPath(dir, b.Name), isDir: true, size: -1, mtime: b.CreationDate ?? new Date(0) };
  }
}

/** Whether anything (object or marker) lives under `key/`. */
export async function prefixHasObjects(conn: S3Connection, bucket: string, key: string, path: string): Promise<{ keys: string[]; more: boolean }> {
  try {
    const page = await listObjectsPage(conn, { Bucket: bucket, Prefix: key === '' ? '' : `${key}/`, MaxKeys: 2 });
    return { keys: page.objects.map((o) => o.key), more: page.isTruncated };
  } catch (err) {
    throw toRemoteError(err, 'list', path, 'dir');
  }
}
