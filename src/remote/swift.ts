// The OpenStack Swift remote. Containers are the top-level directories; inside
// a container directories are name prefixes (listed with delimiter '/'), so
// mkdir below a container is a no-op, as in rclone.
//
// Large objects are stored the way rclone stores them, so each reads the other's:
// segments in `<container>_segments` named `<path>/<upload time>/<size or -1>/<8-digit index>`,
// then a zero-byte DLO manifest at `<path>` with `X-Object-Manifest: <container>_segments/<path>/<time>/<size>`.
// Modification times are `X-Object-Meta-Mtime` as rclone writes them: Unix seconds, a '.'
// and up to 9 fraction digits with trailing zeros dropped ("1700000000.123", "1700000000").
//
// Uploads and retries: a body up to `replayBufferBytes` (16 MiB) — a small object, or one
// segment when chunk_size is that small — is collected in memory and sent with its MD5 as ETag,
// so it is retried like any request. Such segments are collected into at most
// segmentConcurrency + 1 reused buffers per upload, their MD5 computed while they fill, and the
// next segment is read (and so encrypted upstream) while earlier ones are being sent. Anything larger streams once with its MD5 computed on the
// way and checked against the answered ETag; a failure there is a retryable RemoteIOError for
// the caller to repeat the whole write (the source cannot be replayed here). Nothing is ever
// spooled to disk. Segments of a failed upload are deleted unless leave_parts_on_error is set,
// and the manifest is written last, so a failed write never leaves an object under its path.
// This file holds the Remote itself and registers the backend; its parts live beside it:
// swift-options.ts (settings and options), swift-containers.ts (paths, containers, buffered PUTs),
// swift-large-objects.ts (segments and manifests), swift-client.ts (the HTTP client).
import { ConfigError, DirNotEmptyError, DirNotFoundError, IsDirectoryError, ObjectNotFoundError, RemoteIOError } from '../errors.js';
import { log } from '../log.js';
import { formatMtime, formatMtimeNs, newDirectoriesOf, parseMtime, parseMtimeNs } from './object-store-util.js';
import { mapLimit } from '../concurrency.js';
import { registerBackend } from './registry.js';
import type { ByteSource, HashType, ListOptions, ReadOptions, ReadRange, ReadWithInfo, Remote, RemoteEntry, RemoteFeatures, TransferOptions, WriteOptions } from './remote.js';
import { dateToNs, nsToDate } from './remote.js';
import { parseMetadataTime, type Metadata } from './metadata.js';
import { abortable, asAborted, throwIfAborted } from '../abort.js';
import { openParallelRead, parallelReadSettings } from './parallel-read.js';
import { ObjectChangedError } from './resumable-read.js';
import { cleanEtag, discardBody, SwiftClient, type SwiftListItem } from './swift-client.js';
import { isStatus, locate, SwiftContainers, type Location } from './swift-containers.js';
import { ByteReader, concatSources, SwiftLargeObjects } from './swift-large-objects.js';
import { hasListedMetadata, listedContentType, listedMetadata, withListedContentType } from './swift-listed-metadata.js';
import {
  SWIFT_DESCRIPTION,
  defaultSwiftSettings,
  swiftClientOptions,
  swiftOptions,
  swiftRemoteSettings,
  type SwiftRemoteSettings,
} from './swift-options.js';

// The driver's API as it was before the split into modules: importers keep using './swift.js'.
export { defaultSwiftSettings, swiftClientOptions, swiftOptions, swiftOptionsFromEnv, swiftRemoteSettings } from './swift-options.js';
export type { SwiftRemoteSettings } from './swift-options.js';

const DIRECTORY_MARKER_TYPE = 'application/directory';

// ---- times ----

/** Object metadata headers (lower-case, as Headers gives them) and rclone's mtime among them. */
const META_PREFIX = 'x-object-meta-';
const MTIME_HEADER = 'x-object-meta-mtime';

/** rclone's (ncw/swift's) X-Object-Meta-Mtime text for a time; the same encoding as S3's. */
export const formatSwiftMtime = formatMtime;
/** Parses X-Object-Meta-Mtime (seconds, optional fraction up to ns); undefined if malformed. */
export const parseSwiftMtime = parseMtime;

export class SwiftRemote implements Remote {
  readonly type = 'swift';
  readonly features: RemoteFeatures = {
    realDirectories: false,
    hashes: ['md5'],
    caseInsensitive: false,
  };
  readonly settings: SwiftRemoteSettings;
  /** Containers known to exist, to skip a HEAD before each write. */
  private readonly containers: SwiftContainers;
  private readonly largeObjects: SwiftLargeObjects;

  constructor(
    readonly client: SwiftClient,
    settings: Partial<SwiftRemoteSettings> = {},
    readonly displayName = 'swift:',
  ) {
    this.settings = { ...defaultSwiftSettings, ...settings };
    if (this.settings.chunkSize < 1) throw new ConfigError('swift: chunk_size must be at least 1 byte');
    this.containers = new SwiftContainers(client, this.settings, displayName);
    this.largeObjects = new SwiftLargeObjects(client, this.settings, displayName, this.containers);
  }

  // ---- metadata helpers ----

  private entryFromHead(path: string, headers: Headers): RemoteEntry {
    const mtimeNs = parseMtimeNs(headers.get('x-object-meta-mtime'));
    const mtime = mtimeNs !== undefined ? nsToDate(mtimeNs) : new Date(headers.get('last-modified') ?? 0);
    const metadata: Metadata = {};
    const entry: RemoteEntry = { path, isDir: false, size: Number(headers.get('content-length') ?? 0), mtime, mtimeNs, metadata };
    // rclone metadata (mode, uid, ...) as X-Object-Meta-<Key>; rclone's own mtime key is the entry's mtime.
    headers.forEach((value, key) => {
      if (!key.startsWith(META_PREFIX) || key === MTIME_HEADER) return;
      metadata[key.slice(META_PREFIX.length)] = value;
    });
    return entry;
  }

  private async headObject(path: string, signal?: AbortSignal): Promise<Headers | undefined> {
    const { container, object } = locate(path);
    return this.client.headObject(container, object, signal);
  }

  private async requireObject(path: string): Promise<{ loc: Location; headers: Headers }> {
    const loc = locate(path);
    if (loc.container === '' || loc.object === '') throw new ObjectNotFoundError(path);
    const headers = await this.client.headObject(loc.container, loc.object);
    if (!headers) throw new ObjectNotFoundError(path);
    return { loc, headers };
  }

  /** Whether anything is stored under `prefix/` in the container (undefined: container missing). */
  private async prefixHasEntries(container: string, prefix: string): Promise<boolean | undefined> {
    try {
      for await (const _ of this.client.listObjects(container, { prefix: prefix + '/', delimiter: '/', limit: 1 })) {
        return true;
      }
      return false;
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  // ---- Remote ----

  async *list(dir: string, options: ListOptions = {}): AsyncIterable<RemoteEntry> {
    const signal = options.signal;
    throwIfAborted(signal);
    if (dir === '') {
      for await (const c of abortable(this.client.listContainers({ limit: this.settings.listPageSize, signal }), signal)) {
        this.containers.add(c.name);
        yield { path: c.name, isDir: true, size: -1, mtime: c.lastModified ? new Date(c.lastModified + 'Z') : new Date(0) };
      }
      return;
    }
    yield* this.objectListing(dir, options, false);
  }

  async *listRecursive(dir: string, options: ListOptions = {}): AsyncIterable<RemoteEntry> {
    throwIfAborted(options.signal);
    if (dir === '') {
      // The account: each container, and everything in it.
      const containers: RemoteEntry[] = [];
      for await (const c of this.list('', options)) containers.push(c);
      for (const c of containers) {
        yield c;
        yield* this.listRecursive(c.path, options);
      }
      return;
    }
    yield* this.objectListing(dir, options, true);
  }

  /**
   * The objects (and pseudo-directories) directly inside `dir`, a container or a path in one; or,
   * `recursive`, every object under it (no delimiter: a page per ~1,000 objects, as rclone's
   * ListR) with the directories made from their names, each page's new directories first.
   */
  private async *objectListing(dir: string, options: ListOptions, recursive: boolean): AsyncIterable<RemoteEntry> {
    const signal = options.signal;
    const { container, object } = locate(dir);
    const prefix = object === '' ? '' : object + '/';
    const base = container + '/';
    let any = false;
    const dirsSeen = new Set<string>();
    const dirs: RemoteEntry[] = [];
    const page: SwiftListItem[] = [];
    const flush = async function* (this: SwiftRemote): AsyncGenerator<RemoteEntry> {
      yield* dirs.splice(0);
      yield* this.entriesOf(base, page.splice(0), options);
    }.bind(this);
    try {
      const delimiter = recursive ? undefined : '/';
      const items = this.client.listObjects(container, { prefix, delimiter, limit: this.settings.listPageSize, signal });
      for await (const item of abortable(items, signal)) {
        any = true;
        if (recursive && item.kind === 'object') {
          for (const d of newDirectoriesOf(item.name.slice(prefix.length), dirsSeen)) {
            dirs.push({ path: `${dir}/${d}`, isDir: true, size: -1, mtime: new Date(0) });
          }
        }
        page.push(item); // entryOf leaves directory markers out
        if (page.length >= this.settings.listPageSize) yield* flush();
      }
    } catch (err) {
      if (isStatus(err, 404)) throw new DirNotFoundError(dir, { cause: err });
      throw err;
    }
    yield* flush();
    if (object !== '' && !any) throw new DirNotFoundError(dir);
    this.containers.add(container);
  }

  /** The entries of a page of listing items, HEADing them (entryOf) several at a time. */
  private async *entriesOf(base: string, items: SwiftListItem[], options: ListOptions): AsyncGenerator<RemoteEntry> {
    // An abandoned listing HEADs no more objects.
    throwIfAborted(options.signal);
    const entries = await mapLimit(items, this.settings.headConcurrency, (item) => this.entryOf(base, item, options.modTimes !== false, options.signal));
    for (const e of entries) if (e) yield e;
  }

  /**
   * The entry for one listing item, HEADing objects for their mtime (and a manifest's size).
   * Without `modTimes` (or with use_server_modtime) no HEAD: the listing's time, and the metadata
   * its content type mirrors (swift-listed-metadata.ts).
   */
  private async entryOf(base: string, item: SwiftListItem, modTimes: boolean, signal?: AbortSignal): Promise<RemoteEntry | undefined> {
    if (item.kind === 'subdir') {
      return { path: base + item.name.replace(/\/$/, ''), isDir: true, size: -1, mtime: new Date(0) };
    }
    // Directory markers (the prefix itself, or pseudo-directories made by other tools) are not files.
    if (item.name.endsWith('/') || item.contentType === DIRECTORY_MARKER_TYPE) return undefined;
    const path = base + item.name;
    const mayBeManifest = item.bytes === 0 && !this.settings.noLargeObjects;
    if ((this.settings.useServerModtime || !modTimes) && !mayBeManifest) {
      const metadata = listedMetadata(item.contentType);
      const entry: RemoteEntry = { path, isDir: false, size: item.bytes, mtime: new Date(item.lastModified + 'Z'), ...(metadata ? { metadata } : {}) };
      if (!this.settings.useServerModtime) entry.mtimeUnread = true;
      return entry;
    }
    const headers = await this.headObject(path, signal);
    if (!headers) return undefined; // deleted since the listing
    const entry = this.entryFromHead(path, headers);
    if (this.settings.useServerModtime) {
      entry.mtime = new Date(item.lastModified + 'Z');
      entry.mtimeNs = undefined;
    }
    return entry;
  }

  async stat(path: string): Promise<RemoteEntry> {
    if (path === '') return { path: '', isDir: true, size: -1, mtime: new Date(0) };
    const { container, object } = locate(path);
    if (object === '') {
      const headers = await this.client.headContainer(container);
      if (!headers) throw new ObjectNotFoundError(path);
      this.containers.add(container);
      const ts = Number(headers.get('x-timestamp'));
      return { path, isDir: true, size: -1, mtime: Number.isFinite(ts) ? new Date(ts * 1000) : new Date(0) };
    }
    const headers = await this.client.headObject(container, object);
    if (headers && headers.get('content-type') !== DIRECTORY_MARKER_TYPE) return this.entryFromHead(path, headers);
    if (await this.prefixHasEntries(container, object)) return { path, isDir: true, size: -1, mtime: new Date(0) };
    throw new ObjectNotFoundError(path);
  }

  async openRead(path: string, range?: ReadRange, options?: ReadOptions): Promise<ByteSource> {
    return (await this.openReadWithInfo(path, range, options)).source;
  }

  /** The GET's headers describe the object (metadata; Content-Range its whole size); a HEAD only for empty ranges. */
  async openReadWithInfo(path: string, range?: ReadRange, options: ReadOptions = {}): Promise<ReadWithInfo> {
    const signal = options.signal;
    throwIfAborted(signal);
    const { container, object } = locate(path);
    if (object === '') {
      if (container !== '' && (await this.client.headContainer(container))) throw new IsDirectoryError(path);
      throw new ObjectNotFoundError(path);
    }
    const headed = async (): Promise<ReadWithInfo> => {
      const headers = await this.client.headObject(container, object, signal);
      if (!headers) throw new ObjectNotFoundError(path);
      return { source: (async function* () {})(), entry: this.entryFromHead(path, headers) };
    };
    if (range?.length === 0) return headed();
    try {
      // Reads longer than one part go as parallel ranged GETs (parallel-read.ts).
      const parallel = parallelReadSettings();
      const offset = range?.offset ?? 0;
      const end = range?.length === undefined ? undefined : offset + range.length;
      if (parallel.streams > 1 && (end === undefined || end - offset > parallel.chunkSize)) {
        const target = `swift: GET ${container}/${object}`;
        let entry: RemoteEntry | undefined;
        const body = await openParallelRead(
          async (from, to, etag) => {
            const res = await this.client.getObject(container, object, { offset: from, length: to - from }, signal);
            if (res.status === 416) return undefined;
            // The first part's answer describes the object (the others must carry the same ETag).
            entry ??= this.entryFromHead(path, res.headers);
            const now = res.headers.get('etag') ?? undefined;
            if (etag !== undefined && now !== etag) {
              await res.body[Symbol.asyncIterator]().return?.(undefined);
              throw new ObjectChangedError(target, from, { was: etag, now });
            }
            // "bytes 0-8388607/536870912": the size of the whole object.
            const total = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1];
            if (total !== undefined && entry.size !== Number(total)) entry.size = Number(total);
            return { body: res.body, etag: now, totalSize: total === undefined ? undefined : Number(total) };
          },
          offset,
          end,
          target,
          parallel,
          signal,
        );
        if (!body || !entry) return headed();
        return { source: abortable(body, signal), entry };
      }
      const res = await this.client.getObject(container, object, range, signal);
      if (res.status === 416) return headed();
      const entry = this.entryFromHead(path, res.headers);
      const total = /\/([0-9]+)$/.exec(res.headers.get('content-range') ?? '')?.[1];
      if (total !== undefined) entry.size = Number(total);
      return { source: abortable(res.body, signal), entry };
    } catch (err) {
      if (isStatus(err, 404)) throw new ObjectNotFoundError(path, { cause: err });
      throw err;
    }
  }

  async write(path: string, source: ByteSource, options: WriteOptions = {}): Promise<RemoteEntry> {
    const { container, object } = locate(path);
    if (container === '' || object === '') {
      throw new IsDirectoryError(path, { cause: new Error("swift: can't upload files to the root or a container itself") });
    }
    const mtimeNs = options.mtimeNs ?? dateToNs(options.mtime ?? new Date());
    const mtime = nsToDate(mtimeNs);
    const metaHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.metadata ?? {})) if (v !== '') metaHeaders[META_PREFIX + k.toLowerCase()] = v;
    delete metaHeaders[MTIME_HEADER];
    metaHeaders['X-Object-Meta-Mtime'] = formatMtimeNs(mtimeNs);
    const headersNow = withListedContentType(metaHeaders);
    const s = this.settings;
    const signal = options.signal;
    throwIfAborted(signal);
    // Aborted: reading the source fails with AbortedError, which ends the upload as any failure
    // does (a streamed PUT is cut, stored segments are deleted, no manifest is written).
    const reader = new ByteReader(abortable(source, signal));
    // Metadata known once the whole source is read: on the PUT that makes the object where that
    // PUT comes after the source's end (buffered, or a manifest), else POSTed right after.
    const late = options.lateMetadata;
    const lateHeaders = async (): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries((await late?.()) ?? {})) if (v !== '' && META_PREFIX + k.toLowerCase() !== MTIME_HEADER) out[META_PREFIX + k.toLowerCase()] = v;
      return out;
    };
    let lateSent = late === undefined;
    const withLate = async (): Promise<Record<string, string>> => {
      if (late === undefined) return headersNow;
      lateSent = true;
      return withListedContentType({ ...metaHeaders, ...(await lateHeaders()) });
    };
    try {
      await this.containers.ensure(container);
      // A manifest being replaced leaves its segments behind unless removed afterwards.
      const previous = s.noLargeObjects || options.absent ? undefined : await this.client.headObject(container, object);
      const oldManifest = previous?.get('x-object-manifest') ?? undefined;
      const size = options.size;
      let written: number;
      let newPrefix: string | undefined;
      const segmented = !s.noLargeObjects && (size !== undefined ? size > s.chunkSize : !s.noChunk);
      // Segments are copied into buffers or streamed, and streamed PUTs are done with a piece when
      // they ask for the next (SwiftClient.putStream): the source may refill its buffers, except
      // while a body is collected from its pieces (reader.collect keeps them until it joins them).
      if (!segmented) {
        written = await this.putSingle(container, object, reader, size, headersNow, withLate, options.reusePieces);
      } else if (size !== undefined) {
        options.reusePieces?.();
        ({ written, prefix: newPrefix } = await this.largeObjects.putSegmented(container, object, reader, size, headersNow, withLate, signal));
      } else {
        // Unknown size: look ahead; a stream that ends within the look-ahead is one plain object.
        const lookAhead = Math.min(s.chunkSize, s.replayBufferBytes);
        const head = await reader.collect(lookAhead);
        if (!(await reader.hasMore())) {
          await this.containers.putBuffered(container, object, head, await withLate());
          options.reusePieces?.(); // sent: done with the pieces it collected
          written = head.byteLength;
        } else {
          options.reusePieces?.();
          const joined = new ByteReader(concatSources(head, reader.rest()));
          ({ written, prefix: newPrefix } = await this.largeObjects.putSegmented(container, object, joined, undefined, headersNow, withLate, signal));
        }
      }
      if (!lateSent) await this.setMetadata(path, await late!());
      if (oldManifest) await this.largeObjects.removeSegments(oldManifest, newPrefix);
      return { path, isDir: false, size: written, mtime, mtimeNs };
    } catch (err) {
      await reader.close().catch(() => undefined);
      throw asAborted(err, signal);
    }
  }

  /** One object: collected in memory when small enough to retry, else streamed once. */
  private async putSingle(
    container: string,
    object: string,
    reader: ByteReader,
    size: number | undefined,
    headers: Record<string, string>,
    /** The headers with what is known only at the source's end (called once it is read). */
    finalHeaders: () => Promise<Record<string, string>>,
    /** WriteOptions.reusePieces: called where the body is streamed, not collected. */
    reusePieces?: () => void,
  ): Promise<number> {
    const limit = this.settings.replayBufferBytes;
    if (size !== undefined && size <= limit) {
      const body = await reader.collect(size + 1);
      if (body.byteLength !== size) {
        throw new RemoteIOError(`swift: source gave ${body.byteLength} bytes, ${size} were declared (${container}/${object})`);
      }
      await this.containers.putBuffered(container, object, body, await finalHeaders());
      // Sent: done with the pieces it collected (the source may take its buffers back).
      reusePieces?.();
      return size;
    }
    if (size === undefined) {
      const head = await reader.collect(limit);
      if (!(await reader.hasMore())) {
        await this.containers.putBuffered(container, object, head, await finalHeaders());
        reusePieces?.();
        return head.byteLength;
      }
      reusePieces?.();
      const res = await this.client.putObject(container, object, concatSources(head, reader.rest()), { headers });
      return res.bytes;
    }
    reusePieces?.();
    const res = await this.client.putObject(container, object, reader.rest(), { headers, size });
    return res.bytes;
  }


  async delete(path: string): Promise<void> {
    const { loc, headers } = await this.requireObject(path);
    // A static large object (written by other tools) has the server delete its segments.
    const slo = headers.get('x-static-large-object') === 'True' || headers.get('x-static-large-object') === 'true';
    const query = slo ? { 'multipart-manifest': 'delete' } : undefined;
    // A 404 here, just after the HEAD found it, is a repeated DELETE whose first attempt took
    // effect (its answer was lost), or another client's delete: either way it is gone.
    await this.client.deleteObject(loc.container, loc.object, query);
    const manifest = headers.get('x-object-manifest');
    if (manifest) {
      // With container versioning the old manifest lives on and still needs its segments.
      const ch = await this.client.headContainer(loc.container);
      if (ch && (ch.get('x-history-location') || ch.get('x-versions-location'))) return;
      await this.largeObjects.removeSegments(manifest);
    }
  }

  async mkdir(dir: string): Promise<void> {
    const { container } = locate(dir);
    if (container === '') return;
    await this.containers.ensure(container);
  }

  async rmdir(dir: string): Promise<void> {
    const { container, object } = locate(dir);
    if (container === '') return;
    if (object === '') {
      const result = await this.client.deleteContainer(container);
      this.containers.forget(container);
      if (result === 'missing') throw new DirNotFoundError(dir);
      if (result === 'not-empty') throw new DirNotEmptyError(dir);
      log.info(`${this.displayName} container ${JSON.stringify(container)} removed`);
      return;
    }
    const has = await this.prefixHasEntries(container, object);
    if (has === undefined) throw new DirNotFoundError(dir);
    if (has) throw new DirNotEmptyError(dir);
  }

  async setMtime(path: string, mtime: Date, mtimeNs?: bigint): Promise<void> {
    const { loc, headers } = await this.requireObject(path);
    // POST replaces all metadata: carry over the rest (the manifest pointer included), as rclone does.
    const next: Record<string, string> = {};
    headers.forEach((value, key) => {
      if (key.toLowerCase().startsWith('x-object-')) next[key] = value;
    });
    for (const key of Object.keys(next)) if (key.toLowerCase() === 'x-object-meta-mtime') delete next[key];
    next['X-Object-Meta-Mtime'] = formatMtimeNs(mtimeNs ?? dateToNs(mtime));
    try {
      await this.client.postObject(loc.container, loc.object, next);
    } catch (err) {
      if (isStatus(err, 404)) throw new ObjectNotFoundError(path, { cause: err });
      throw err;
    }
  }

  async setMetadata(path: string, changes: Metadata, options: { isDir?: boolean } = {}): Promise<void> {
    if (options.isDir) throw new IsDirectoryError(path);
    const { loc, headers } = await this.requireObject(path);
    // POST replaces all metadata: carry over the rest (mtime, the manifest pointer), as setMtime does.
    const next = changedHeaders(headers, changes, 'x-object-');
    // The listing's copy of the listed keys follows them (dropped with them too).
    const type = listedContentType(next, headers.get('content-type'), hasListedMetadata(headers.get('content-type')));
    if (type !== undefined) next['Content-Type'] = type;
    try {
      await this.client.postObject(loc.container, loc.object, next);
    } catch (err) {
      if (isStatus(err, 404)) throw new ObjectNotFoundError(path, { cause: err });
      throw err;
    }
  }

  /**
   * COPY then DELETE. `options.metadata`: a plain object's COPY sets it at once (X-Fresh-Metadata
   * with the whole merged set); a large object's manifest gets it by POST before the source goes.
   */
  async move(src: string, dst: string, options: TransferOptions = {}): Promise<RemoteEntry> {
    const { loc, headers } = await this.requireObject(src);
    if (src === dst) return this.copy(src, dst, options);
    const { to, replaced } = await this.transferTarget(dst);
    const manifest = headers.get('x-object-manifest');
    // A manifest moves as itself: the segments stay where they are and now belong to `dst`.
    const fresh = options.metadata && !manifest ? freshMetadataHeaders(headers, options.metadata) : undefined;
    await this.copyServerSide(loc, to, !!manifest, fresh);
    if (options.metadata && !fresh) await this.setMetadata(dst, options.metadata);
    await this.client.deleteObject(loc.container, loc.object);
    await this.largeObjects.cleanupReplaced(replaced, manifest ?? undefined);
    return options.metadata ? this.stat(dst) : this.entryFromHead(dst, headers);
  }

  /** COPY keeps the metadata; `options.metadata` as in move (at once for plain objects, a POST for large ones). */
  async copy(src: string, dst: string, options: TransferOptions = {}): Promise<RemoteEntry> {
    const { loc, headers } = await this.requireObject(src);
    if (src === dst) {
      if (!options.metadata) return this.entryFromHead(dst, headers);
      await this.setMetadata(dst, options.metadata);
      return this.stat(dst);
    }
    const { to, replaced } = await this.transferTarget(dst);
    const manifest = headers.get('x-object-manifest');
    let newManifest: string | undefined;
    let fresh: Record<string, string> | undefined;
    if (manifest) {
      newManifest = await this.largeObjects.copySegments(manifest, to, headers);
    } else {
      fresh = options.metadata ? freshMetadataHeaders(headers, options.metadata) : undefined;
      await this.copyServerSide(loc, to, false, fresh);
    }
    if (options.metadata && !fresh) await this.setMetadata(dst, options.metadata);
    await this.largeObjects.cleanupReplaced(replaced, newManifest);
    return options.metadata ? this.stat(dst) : this.entryFromHead(dst, headers);
  }

  /** The destination of a move or copy, its container made, and the object it replaces (if large objects are on). */
  private async transferTarget(dst: string): Promise<{ to: Location; replaced: Headers | undefined }> {
    const to = locate(dst);
    if (to.object === '') throw new IsDirectoryError(dst);
    await this.containers.ensure(to.container);
    const replaced = this.settings.noLargeObjects ? undefined : await this.client.headObject(to.container, to.object);
    return { to, replaced };
  }

  private async copyServerSide(from: Location, to: Location, manifestOnly: boolean, headers?: Record<string, string>): Promise<void> {
    try {
      await this.client.copyObject(from.container, from.object, to.container, to.object, { manifestOnly, headers });
    } catch (err) {
      if (isStatus(err, 404)) throw new ObjectNotFoundError(`${from.container}/${from.object}`, { cause: err });
      throw err;
    }
  }


  async hash(path: string, type: HashType): Promise<string | undefined> {
    if (type !== 'md5') return undefined;
    const { headers } = await this.requireObject(path);
    // A large object's ETag is not the MD5 of its content.
    if (headers.get('x-object-manifest') || headers.get('x-static-large-object')) return undefined;
    return cleanEtag(headers.get('etag'));
  }

  async about(): Promise<{ total?: number; used?: number; free?: number }> {
    const res = await this.client.request('HEAD', undefined, undefined);
    await discardBody(res);
    const used = Number(res.headers.get('x-account-bytes-used'));
    const quota = Number(res.headers.get('x-account-meta-quota-bytes'));
    return {
      used: Number.isFinite(used) ? used : undefined,
      total: Number.isFinite(quota) && quota > 0 ? quota : undefined,
      free: Number.isFinite(quota) && quota > 0 && Number.isFinite(used) ? Math.max(0, quota - used) : undefined,
    };
  }
}

/**
 * The headers starting with `prefix` (lower-case) of an object, with rclone metadata `changes` laid
 * over them as X-Object-Meta-<key> ('' removes; mtime only by a valid time).
 */
function changedHeaders(headers: Headers, changes: Metadata, prefix: string): Record<string, string> {
  const next: Record<string, string> = {};
  headers.forEach((value, key) => {
    if (key.startsWith(prefix)) next[key] = value;
  });
  for (const [k, v] of Object.entries(changes)) {
    const key = META_PREFIX + k.toLowerCase();
    if (key === MTIME_HEADER) {
      const ns = parseMetadataTime(v);
      if (ns !== undefined) next[MTIME_HEADER] = formatMtimeNs(ns);
    } else if (v === '') delete next[key];
    else next[key] = v;
  }
  return next;
}

/** COPY headers that give the copy exactly the source's metadata with `changes` (X-Fresh-Metadata drops the rest). */
function freshMetadataHeaders(headers: Headers, changes: Metadata): Record<string, string> {
  const next = changedHeaders(headers, changes, META_PREFIX);
  const type = listedContentType(next, headers.get('content-type'), hasListedMetadata(headers.get('content-type')));
  return { ...next, ...(type !== undefined ? { 'Content-Type': type } : {}), 'X-Fresh-Metadata': 'true' };
}

registerBackend({
  type: 'swift',
  description: SWIFT_DESCRIPTION,
  options: swiftOptions,
  async create(ctx) {
    const clientOptions = swiftClientOptions(ctx.options);
    if (!clientOptions.authUrl && !(clientOptions.storageUrl && clientOptions.authToken)) {
      throw new ConfigError(`${ctx.name || 'swift'}: auth not found (set auth, or storage_url and auth_token${ctx.options.bool('env_auth') ? ', or OS_AUTH_URL' : ''})`);
    }
    const client = new SwiftClient(clientOptions);
    const remote = new SwiftRemote(client, swiftRemoteSettings(ctx.options), ctx.name ? `${ctx.name}:` : 'swift:');
    // Authenticate now so bad credentials fail at open, as rclone does.
    await client.getSession();
    return remote;
  },
});
