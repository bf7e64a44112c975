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
import {
  ConfigError,
  DirNotEmptyError,
  DirNotFoundError,
  IsDirectoryError,
  NotSupportedError,
  ObjectNotFoundError,
  RemoteIOError,
} from '../errors.js';
import { createHash } from 'node:crypto';
import { log } from '../log.js';
import { formatMtime, formatMtimeNs, parseMtime, parseMtimeNs } from './object-store-util.js';
import { mapLimit } from '../concurrency.js';
import { registerBackend, type OptionSpec, type OptionValues } from './registry.js';
import type { ByteSource, HashType, ReadRange, Remote, RemoteEntry, RemoteFeatures, WriteOptions } from './remote.js';
import { dateToNs, nsToDate } from './remote.js';
import { parseMetadataTime, type Metadata } from './metadata.js';
import {
  cleanEtag,
  discardBody,
  encodeManifestValue,
  SwiftClient,
  SwiftError,
  type EndpointType,
  type SwiftClientOptions,
  type SwiftListItem,
} from './swift-client.js';

const DIRECTORY_MARKER_TYPE = 'application/directory';
const SEGMENTS_SUFFIX = '_segments';
const MIB = 1024 * 1024;

export interface SwiftRemoteSettings {
  /** Above this size objects are stored as segments (rclone's chunk_size, default 5 GiB). */
  chunkSize: number;
  /** Streams of unknown size are sent as one object instead of segments. */
  noChunk: boolean;
  /** Assume no large objects exist: no HEAD per object to find manifests, no segmenting. */
  noLargeObjects: boolean;
  /** Keep the segments of a failed upload. */
  leavePartsOnError: boolean;
  /** X-Storage-Policy for containers this remote creates. */
  storagePolicy: string;
  /** Listing page size (Swift's limit parameter). */
  listPageSize: number;
  /** Largest body collected in memory so that its PUT can be retried. */
  replayBufferBytes: number;
  /** Take times from the listing (upload time) instead of a HEAD per object for X-Object-Meta-Mtime. */
  useServerModtime: boolean;
  /** Parallel HEAD requests while listing. */
  headConcurrency: number;
  /**
   * Segments of one upload sent at the same time when they are buffered (chunk_size up to
   * replayBufferBytes); memory per upload is (this + 1) segments. rclone sends them one by one.
   */
  segmentConcurrency: number;
}

export const defaultSwiftSettings: SwiftRemoteSettings = {
  chunkSize: 5 * 1024 * MIB,
  noChunk: false,
  noLargeObjects: false,
  leavePartsOnError: false,
  storagePolicy: '',
  listPageSize: 1000,
  replayBufferBytes: 16 * MIB,
  useServerModtime: false,
  headConcurrency: 8,
  segmentConcurrency: 2,
};

// ---- times ----

/** Object metadata headers (lower-case, as Headers gives them) and rclone's mtime among them. */
const META_PREFIX = 'x-object-meta-';
const MTIME_HEADER = 'x-object-meta-mtime';

/** rclone's (ncw/swift's) X-Object-Meta-Mtime text for a time; the same encoding as S3's. */
export const formatSwiftMtime = formatMtime;
/** Parses X-Object-Meta-Mtime (seconds, optional fraction up to ns); undefined if malformed. */
export const parseSwiftMtime = parseMtime;

// A clock with sub-millisecond digits for segment prefixes, so two uploads of one path never share one.
const clockBase = { ns: BigInt(Date.now()) * 1_000_000n, hr: process.hrtime.bigint() };
function uploadTimestamp(): string {
  const ns = clockBase.ns + (process.hrtime.bigint() - clockBase.hr);
  const seconds = ns / 1_000_000_000n;
  const fraction = ns % 1_000_000_000n;
  return fraction === 0n ? String(seconds) : `${seconds}.${String(fraction).padStart(9, '0')}`.replace(/0+$/, '');
}

// ---- bytes ----

/** Pulls bytes from a source in bounded pieces: a segment at a time, or a look-ahead. */
class ByteReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private pending?: Uint8Array;
  private done = false;

  constructor(source: ByteSource) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Whether at least one more byte is coming. */
  async hasMore(): Promise<boolean> {
    while (!this.pending && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else if (r.value.byteLength > 0) this.pending = r.value;
    }
    return !!this.pending;
  }

  /** Up to `limit` bytes as a stream (fewer only at the end of the source). */
  async *take(limit: number): AsyncGenerator<Uint8Array> {
    let left = limit;
    while (left > 0 && (await this.hasMore())) {
      const chunk = this.pending!;
      if (chunk.byteLength <= left) {
        this.pending = undefined;
        left -= chunk.byteLength;
        yield chunk;
      } else {
        this.pending = chunk.subarray(left);
        yield chunk.subarray(0, left);
        left = 0;
      }
    }
  }

  /** Up to `limit` bytes collected into one buffer. */
  async collect(limit: number): Promise<Buffer> {
    const parts: Uint8Array[] = [];
    for await (const c of this.take(limit)) parts.push(c);
    return Buffer.concat(parts);
  }

  /** The rest of the source, after anything already looked at. */
  async *rest(): AsyncGenerator<Uint8Array> {
    while (await this.hasMore()) {
      const chunk = this.pending!;
      this.pending = undefined;
      yield chunk;
    }
  }

  async close(): Promise<void> {
    if (!this.done) await this.it.return?.();
  }
}

/** A segment's name: the upload's prefix and an 8-digit index, so names sort in content order. */
function segmentName(prefix: string, index: number): string {
  return `${prefix}/${String(index).padStart(8, '0')}`;
}

async function* concatSources(first: Uint8Array, rest: ByteSource): AsyncGenerator<Uint8Array> {
  if (first.byteLength) yield first;
  yield* rest;
}

function isStatus(err: unknown, status: number): boolean {
  return err instanceof SwiftError && err.status === status;
}

interface Location {
  container: string;
  /** Object name inside the container; '' for the container itself. */
  object: string;
}

function locate(path: string): Location {
  const i = path.indexOf('/');
  return i < 0 ? { container: path, object: '' } : { container: path.slice(0, i), object: path.slice(i + 1) };
}

/** Container and prefix of a DLO manifest header ("cont/some/prefix", percent-encoded or not). */
function parseManifest(value: string): { container: string; prefix: string } | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    decoded = value;
  }
  const i = decoded.indexOf('/');
  if (i <= 0) return undefined;
  return { container: decoded.slice(0, i), prefix: decoded.slice(i + 1) };
}

export class SwiftRemote implements Remote {
  readonly type = 'swift';
  readonly features: RemoteFeatures = {
    realDirectories: false,
    hashes: ['md5'],
    caseInsensitive: false,
  };
  readonly settings: SwiftRemoteSettings;
  /** Containers known to exist, to skip a HEAD before each write. */
  private readonly knownContainers = new Set<string>();

  constructor(
    readonly client: SwiftClient,
    settings: Partial<SwiftRemoteSettings> = {},
    readonly displayName = 'swift:',
  ) {
    this.settings = { ...defaultSwiftSettings, ...settings };
    if (this.settings.chunkSize < 1) throw new ConfigError('swift: chunk_size must be at least 1 byte');
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

  private async headObject(path: string): Promise<Headers | undefined> {
    const { container, object } = locate(path);
    return this.client.headObject(container, object);
  }

  private async requireObject(path: string): Promise<{ loc: Location; headers: Headers }> {
    const loc = locate(path);
    if (loc.container === '' || loc.object === '') throw new ObjectNotFoundError(path);
    const headers = await this.client.headObject(loc.container, loc.object);
    if (!headers) throw new ObjectNotFoundError(path);
    return { loc, headers };
  }

  private async ensureContainer(container: string): Promise<void> {
    if (this.knownContainers.has(container)) return;
    if (!(await this.client.headContainer(container))) {
      const headers: Record<string, string> = {};
      if (this.settings.storagePolicy) headers['X-Storage-Policy'] = this.settings.storagePolicy;
      await this.client.putContainer(container, headers);
      log.info(`${this.displayName} container ${JSON.stringify(container)} created`);
    }
    this.knownContainers.add(container);
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

  async *list(dir: string): AsyncIterable<RemoteEntry> {
    if (dir === '') {
      for await (const c of this.client.listContainers({ limit: this.settings.listPageSize })) {
        this.knownContainers.add(c.name);
        yield { path: c.name, isDir: true, size: -1, mtime: c.lastModified ? new Date(c.lastModified + 'Z') : new Date(0) };
      }
      return;
    }
    const { container, object } = locate(dir);
    const prefix = object === '' ? '' : object + '/';
    const base = container + '/';
    let any = false;
    const page: SwiftListItem[] = [];
    const flush = async function* (this: SwiftRemote): AsyncGenerator<RemoteEntry> {
      const entries = await mapLimit(page.splice(0), this.settings.headConcurrency, (item) => this.entryOf(base, item));
      for (const e of entries) if (e) yield e;
    }.bind(this);
    try {
      for await (const item of this.client.listObjects(container, {
        prefix,
        delimiter: '/',
        limit: this.settings.listPageSize,
      })) {
        any = true;
        page.push(item);
        if (page.length >= this.settings.listPageSize) yield* flush();
      }
    } catch (err) {
      if (isStatus(err, 404)) throw new DirNotFoundError(dir, { cause: err });
      throw err;
    }
    yield* flush();
    if (object !== '' && !any) throw new DirNotFoundError(dir);
    this.knownContainers.add(container);
  }

  /** The entry for one listing item, HEADing objects for their mtime (and a manifest's size). */
  private async entryOf(base: string, item: SwiftListItem): Promise<RemoteEntry | undefined> {
    if (item.kind === 'subdir') {
      return { path: base + item.name.replace(/\/$/, ''), isDir: true, size: -1, mtime: new Date(0) };
    }
    // Directory markers (the prefix itself, or pseudo-directories made by other tools) are not files.
    if (item.name.endsWith('/') || item.contentType === DIRECTORY_MARKER_TYPE) return undefined;
    const path = base + item.name;
    const mayBeManifest = item.bytes === 0 && !this.settings.noLargeObjects;
    if (this.settings.useServerModtime && !mayBeManifest) {
      return { path, isDir: false, size: item.bytes, mtime: new Date(item.lastModified + 'Z') };
    }
    const headers = await this.headObject(path);
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
      this.knownContainers.add(container);
      const ts = Number(headers.get('x-timestamp'));
      return { path, isDir: true, size: -1, mtime: Number.isFinite(ts) ? new Date(ts * 1000) : new Date(0) };
    }
    const headers = await this.client.headObject(container, object);
    if (headers && headers.get('content-type') !== DIRECTORY_MARKER_TYPE) return this.entryFromHead(path, headers);
    if (await this.prefixHasEntries(container, object)) return { path, isDir: true, size: -1, mtime: new Date(0) };
    throw new ObjectNotFoundError(path);
  }

  async openRead(path: string, range?: ReadRange): Promise<ByteSource> {
    const { container, object } = locate(path);
    if (object === '') {
      if (container !== '' && (await this.client.headContainer(container))) throw new IsDirectoryError(path);
      throw new ObjectNotFoundError(path);
    }
    if (range?.length === 0) {
      if (!(await this.client.headObject(container, object))) throw new ObjectNotFoundError(path);
      return (async function* () {})();
    }
    try {
      const res = await this.client.getObject(container, object, range);
      return res.body;
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
    const s = this.settings;
    const reader = new ByteReader(source);
    try {
      await this.ensureContainer(container);
      // A manifest being replaced leaves its segments behind unless removed afterwards.
      const previous = s.noLargeObjects ? undefined : await this.client.headObject(container, object);
      const oldManifest = previous?.get('x-object-manifest') ?? undefined;
      const size = options.size;
      let written: number;
      let newPrefix: string | undefined;
      const segmented = !s.noLargeObjects && (size !== undefined ? size > s.chunkSize : !s.noChunk);
      if (!segmented) {
        written = await this.putSingle(container, object, reader, size, metaHeaders);
      } else if (size !== undefined) {
        ({ written, prefix: newPrefix } = await this.putSegmented(container, object, reader, size, metaHeaders));
      } else {
        // Unknown size: look ahead; a stream that ends within the look-ahead is one plain object.
        const lookAhead = Math.min(s.chunkSize, s.replayBufferBytes);
        const head = await reader.collect(lookAhead);
        if (!(await reader.hasMore())) {
          await this.putBuffered(container, object, head, metaHeaders);
          written = head.byteLength;
        } else {
          const joined = new ByteReader(concatSources(head, reader.rest()));
          ({ written, prefix: newPrefix } = await this.putSegmented(container, object, joined, undefined, metaHeaders));
        }
      }
      if (oldManifest) await this.removeSegments(oldManifest, newPrefix);
      return { path, isDir: false, size: written, mtime, mtimeNs };
    } catch (err) {
      await reader.close().catch(() => undefined);
      throw err;
    }
  }

  /** One object: collected in memory when small enough to retry, else streamed once. */
  private async putSingle(
    container: string,
    object: string,
    reader: ByteReader,
    size: number | undefined,
    headers: Record<string, string>,
  ): Promise<number> {
    const limit = this.settings.replayBufferBytes;
    if (size !== undefined && size <= limit) {
      const body = await reader.collect(size + 1);
      if (body.byteLength !== size) {
        throw new RemoteIOError(`swift: source gave ${body.byteLength} bytes, ${size} were declared (${container}/${object})`);
      }
      await this.putBuffered(container, object, body, headers);
      return size;
    }
    if (size === undefined) {
      const head = await reader.collect(limit);
      if (!(await reader.hasMore())) {
        await this.putBuffered(container, object, head, headers);
        return head.byteLength;
      }
      const res = await this.client.putObject(container, object, concatSources(head, reader.rest()), { headers });
      return res.bytes;
    }
    const res = await this.client.putObject(container, object, reader.rest(), { headers, size });
    return res.bytes;
  }

  /** Segments then the manifest, as rclone writes them. Returns the bytes written and the segment prefix. */
  private async putSegmented(
    container: string,
    object: string,
    reader: ByteReader,
    size: number | undefined,
    headers: Record<string, string>,
  ): Promise<{ written: number; prefix: string }> {
    const s = this.settings;
    const segContainer = container + SEGMENTS_SUFFIX;
    await this.ensureContainer(segContainer);
    const prefix = `${object}/${uploadTimestamp()}/${size ?? -1}`;
    const uploaded: string[] = [];
    const target = `${container}/${object}`;
    let written = 0;
    try {
      if (s.chunkSize <= s.replayBufferBytes) {
        written = await this.putSegmentsBuffered(segContainer, prefix, reader, size, headers, uploaded, target);
      } else {
        for (let index = 0; await reader.hasMore(); index++) {
          const name = segmentName(prefix, index);
          const length = size !== undefined ? Math.min(s.chunkSize, size - written) : undefined;
          if (length !== undefined && length <= 0) {
            throw new RemoteIOError(`swift: source is longer than the declared ${size} bytes (${target})`);
          }
          const res = await this.client.putObject(segContainer, name, reader.take(s.chunkSize), { headers, size: length });
          written += res.bytes;
          uploaded.push(name);
        }
      }
      if (size !== undefined && written !== size) {
        throw new RemoteIOError(`swift: source ended after ${written} of ${size} bytes (${target})`);
      }
      await this.client.putObject(container, object, new Uint8Array(0), {
        headers: { ...headers, 'X-Object-Manifest': encodeManifestValue(`${segContainer}/${prefix}`) },
      });
      return { written, prefix };
    } catch (err) {
      if (!s.leavePartsOnError) {
        await mapLimit(uploaded, s.headConcurrency, (name) =>
          this.client.deleteObject(segContainer, name).catch((e) => {
            log.error(`${this.displayName} failed to delete segment ${segContainer}/${name}: ${(e as Error).message}`);
          }),
        );
      }
      throw err;
    }
  }

  /**
   * Segments small enough to retry: each is collected into a buffer with its MD5 computed as the
   * bytes arrive, then PUT (retried per segment) while the next one is read. At most
   * segmentConcurrency PUTs run at once, so at most segmentConcurrency + 1 buffers exist, reused
   * from segment to segment. Names of stored segments go to `uploaded` (for cleanup on failure);
   * order on the server comes from the names. Returns the bytes read.
   */
  private async putSegmentsBuffered(
    segContainer: string,
    prefix: string,
    reader: ByteReader,
    size: number | undefined,
    headers: Record<string, string>,
    uploaded: string[],
    target: string,
  ): Promise<number> {
    const chunkSize = this.settings.chunkSize;
    const parallel = Math.max(1, Math.floor(this.settings.segmentConcurrency));
    const free: Buffer[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    let written = 0;
    try {
      for (let index = 0; !failure && (await reader.hasMore()); index++) {
        const expected = size !== undefined ? Math.min(chunkSize, size - written) : chunkSize;
        if (expected <= 0) throw new RemoteIOError(`swift: source is longer than the declared ${size} bytes (${target})`);
        // Earlier buffers are full-sized; only a known-size object's last segment may be smaller.
        const buffer = free.pop() ?? Buffer.allocUnsafeSlow(expected);
        const hash = createHash('md5');
        let filled = 0;
        for await (const chunk of reader.take(expected)) {
          buffer.set(chunk, filled);
          hash.update(chunk);
          filled += chunk.byteLength;
        }
        if (size !== undefined && filled !== expected) {
          throw new RemoteIOError(`swift: source ended after ${written + filled} of ${size} bytes (${target})`);
        }
        written += filled;
        while (inFlight.size >= parallel) await Promise.race(inFlight);
        if (failure) break;
        const name = segmentName(prefix, index);
        const sending: Promise<void> = this.putBuffered(segContainer, name, buffer.subarray(0, filled), headers, hash.digest('hex'))
          .then(
            () => void uploaded.push(name),
            (error: unknown) => void (failure ??= { error }),
          )
          .finally(() => {
            inFlight.delete(sending);
            free.push(buffer);
          });
        inFlight.add(sending);
      }
    } finally {
      // Settle every PUT before returning or throwing, so cleanup sees all stored segments.
      await Promise.all(inFlight);
    }
    if (failure) throw failure.error;
    return written;
  }

  /** PUTs a buffered body (`md5`: its MD5 if known); a container removed behind our back (404) is made again once. */
  private async putBuffered(
    container: string,
    name: string,
    body: Uint8Array,
    headers: Record<string, string>,
    md5?: string,
  ): Promise<void> {
    try {
      await this.client.putObject(container, name, body, { headers, md5 });
    } catch (err) {
      // E.g. an empty segments container removed by another client deleting its last large object.
      if (!isStatus(err, 404)) throw err;
      this.knownContainers.delete(container);
      await this.ensureContainer(container);
      await this.client.putObject(container, name, body, { headers, md5 });
    }
  }

  /** Deletes the segments a manifest points to (except those under `keepPrefix`), then their container if empty. */
  private async removeSegments(manifest: string, keepPrefix?: string): Promise<void> {
    const parsed = parseManifest(manifest);
    if (!parsed) {
      log.error(`${this.displayName} malformed X-Object-Manifest ${JSON.stringify(manifest)}; segments left in place`);
      return;
    }
    const names: string[] = [];
    try {
      // As rclone: the manifest prefix as a directory (swift's own CLI writes it with the '/' already).
      const dir = parsed.prefix.endsWith('/') ? parsed.prefix : parsed.prefix + '/';
      for await (const item of this.client.listObjects(parsed.container, { prefix: dir })) {
        if (item.kind !== 'object') continue;
        if (keepPrefix !== undefined && item.name.startsWith(keepPrefix + '/')) continue;
        names.push(item.name);
      }
    } catch (err) {
      if (isStatus(err, 404)) return;
      throw err;
    }
    await mapLimit(names, this.settings.headConcurrency, (name) => this.client.deleteObject(parsed.container, name));
    // Like rclone, drop the segments container once empty — but only one of ours, never a user's container.
    if (parsed.container.endsWith(SEGMENTS_SUFFIX) && (await this.client.deleteContainer(parsed.container)) === 'deleted') {
      this.knownContainers.delete(parsed.container);
    }
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
      await this.removeSegments(manifest);
    }
  }

  async mkdir(dir: string): Promise<void> {
    const { container } = locate(dir);
    if (container === '') return;
    await this.ensureContainer(container);
  }

  async rmdir(dir: string): Promise<void> {
    const { container, object } = locate(dir);
    if (container === '') return;
    if (object === '') {
      const result = await this.client.deleteContainer(container);
      this.knownContainers.delete(container);
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
    const next: Record<string, string> = {};
    headers.forEach((value, key) => {
      if (key.startsWith('x-object-')) next[key] = value;
    });
    for (const [k, v] of Object.entries(changes)) {
      const key = META_PREFIX + k.toLowerCase();
      if (key === MTIME_HEADER) {
        const ns = parseMetadataTime(v);
        if (ns !== undefined) next[MTIME_HEADER] = formatMtimeNs(ns);
      } else if (v === '') delete next[key];
      else next[key] = v;
    }
    try {
      await this.client.postObject(loc.container, loc.object, next);
    } catch (err) {
      if (isStatus(err, 404)) throw new ObjectNotFoundError(path, { cause: err });
      throw err;
    }
  }

  async move(src: string, dst: string): Promise<RemoteEntry> {
    const { loc, headers } = await this.requireObject(src);
    const entry = this.entryFromHead(dst, headers);
    if (src === dst) return entry;
    const { to, replaced } = await this.transferTarget(dst);
    const manifest = headers.get('x-object-manifest');
    // A manifest moves as itself: the segments stay where they are and now belong to `dst`.
    await this.copyServerSide(loc, to, !!manifest);
    await this.client.deleteObject(loc.container, loc.object);
    await this.cleanupReplaced(replaced, manifest ?? undefined);
    return entry;
  }

  async copy(src: string, dst: string): Promise<RemoteEntry> {
    const { loc, headers } = await this.requireObject(src);
    const entry = this.entryFromHead(dst, headers);
    if (src === dst) return entry;
    const { to, replaced } = await this.transferTarget(dst);
    const manifest = headers.get('x-object-manifest');
    let newManifest: string | undefined;
    if (manifest) {
      newManifest = await this.copySegments(manifest, to, headers);
    } else {
      await this.copyServerSide(loc, to, false);
    }
    await this.cleanupReplaced(replaced, newManifest);
    return entry;
  }

  /** The destination of a move or copy, its container made, and the object it replaces (if large objects are on). */
  private async transferTarget(dst: string): Promise<{ to: Location; replaced: Headers | undefined }> {
    const to = locate(dst);
    if (to.object === '') throw new IsDirectoryError(dst);
    await this.ensureContainer(to.container);
    const replaced = this.settings.noLargeObjects ? undefined : await this.client.headObject(to.container, to.object);
    return { to, replaced };
  }

  private async copyServerSide(from: Location, to: Location, manifestOnly: boolean): Promise<void> {
    try {
      await this.client.copyObject(from.container, from.object, to.container, to.object, { manifestOnly });
    } catch (err) {
      if (isStatus(err, 404)) throw new ObjectNotFoundError(`${from.container}/${from.object}`, { cause: err });
      throw err;
    }
  }

  /** A large object's copy gets its own segments (copied server-side), so either can be deleted alone. */
  private async copySegments(manifest: string, to: Location, headers: Headers): Promise<string> {
    const parsed = parseManifest(manifest);
    if (!parsed) throw new RemoteIOError(`swift: malformed X-Object-Manifest ${JSON.stringify(manifest)}`);
    const segContainer = to.container + SEGMENTS_SUFFIX;
    await this.ensureContainer(segContainer);
    const prefix = `${to.object}/${uploadTimestamp()}/${headers.get('content-length') ?? -1}`;
    const names: string[] = [];
    for await (const item of this.client.listObjects(parsed.container, { prefix: parsed.prefix })) {
      if (item.kind === 'object') names.push(item.name);
    }
    const copied: string[] = [];
    try {
      for (const [index, name] of names.entries()) {
        const target = segmentName(prefix, index);
        await this.client.copyObject(parsed.container, name, segContainer, target);
        copied.push(target);
      }
      const newManifest = encodeManifestValue(`${segContainer}/${prefix}`);
      const meta: Record<string, string> = { 'X-Object-Manifest': newManifest };
      headers.forEach((value, key) => {
        if (key.toLowerCase().startsWith('x-object-meta-')) meta[key] = value;
      });
      await this.client.putObject(to.container, to.object, new Uint8Array(0), { headers: meta });
      return newManifest;
    } catch (err) {
      for (const name of copied) await this.client.deleteObject(segContainer, name).catch(() => undefined);
      throw err;
    }
  }

  /** After overwriting a large object, its old segments go (unless the new object uses them). */
  private async cleanupReplaced(replaced: Headers | undefined, newManifest: string | undefined): Promise<void> {
    const old = replaced?.get('x-object-manifest');
    if (!old) return;
    const a = parseManifest(old);
    const b = newManifest ? parseManifest(newManifest) : undefined;
    if (a && b && a.container === b.container && a.prefix === b.prefix) return;
    await this.removeSegments(old);
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

// ---- backend registration ----

const ENDPOINT_TYPES: EndpointType[] = ['public', 'internal', 'admin'];

export const swiftOptions: OptionSpec[] = [
  {
    name: 'env_auth',
    help: 'Get swift credentials from environment variables in standard OpenStack form (OS_*).',
    type: 'bool',
    default: false,
    examples: [
      { value: 'false', help: 'Enter swift credentials in the next step.' },
      { value: 'true', help: 'Get swift credentials from environment vars.\nLeave other fields blank if using this.' },
    ],
  },
  { name: 'user', help: 'User name to log in (OS_USERNAME).' },
  { name: 'key', help: 'API key or password (OS_PASSWORD).', sensitive: true },
  {
    name: 'auth',
    help: 'Authentication URL for server (OS_AUTH_URL).',
    examples: [
      { value: 'https://auth.api.rackspacecloud.com/v1.0', help: 'Rackspace US' },
      { value: 'https://identity.api.rackspacecloud.com/v2.0', help: 'Rackspace v2' },
      { value: 'https://auth.cloud.ovh.net/v3', help: 'OVH' },
      { value: 'https://pouta.csc.fi:5001/v3', help: 'CSC Allas (Keystone v3)' },
    ],
  },
  { name: 'user_id', help: 'User ID to log in - optional - most swift systems use user and leave this blank (v3 auth) (OS_USER_ID).' },
  { name: 'domain', help: 'User domain - optional (v3 auth) (OS_USER_DOMAIN_NAME).' },
  {
    name: 'tenant',
    help: 'Tenant name - optional for v1 auth, this or tenant_id required otherwise (OS_TENANT_NAME or OS_PROJECT_NAME).',
  },
  { name: 'tenant_id', help: 'Tenant ID - optional for v1 auth, this or tenant required otherwise (OS_TENANT_ID).' },
  { name: 'tenant_domain', help: 'Tenant domain - optional (v3 auth) (OS_PROJECT_DOMAIN_NAME).' },
  { name: 'region', help: 'Region name - optional (OS_REGION_NAME).' },
  { name: 'storage_url', help: 'Storage URL - optional (OS_STORAGE_URL).' },
  { name: 'auth_token', help: 'Auth Token from alternate authentication - optional (OS_AUTH_TOKEN).', sensitive: true },
  { name: 'application_credential_id', help: 'Application Credential ID (OS_APPLICATION_CREDENTIAL_ID).' },
  { name: 'application_credential_name', help: 'Application Credential Name (OS_APPLICATION_CREDENTIAL_NAME).' },
  {
    name: 'application_credential_secret',
    help: 'Application Credential Secret (OS_APPLICATION_CREDENTIAL_SECRET).',
    sensitive: true,
  },
  {
    name: 'auth_version',
    help: 'AuthVersion - optional - set to (1,2,3) if your auth URL has no version (ST_AUTH_VERSION).',
    type: 'int',
    default: 0,
  },
  {
    name: 'endpoint_type',
    help: 'Endpoint type to choose from the service catalogue (OS_ENDPOINT_TYPE).',
    type: 'enum',
    default: 'public',
    exclusive: true,
    examples: [
      { value: 'public', help: 'Public (default, choose this if not sure)' },
      { value: 'internal', help: 'Internal (use internal service net)' },
      { value: 'admin', help: 'Admin' },
    ],
  },
  {
    name: 'leave_parts_on_error',
    help: 'If true avoid calling abort upload on a failure.\n\nIt should be set to true for resuming uploads across different sessions.',
    type: 'bool',
    default: false,
    advanced: true,
  },
  {
    name: 'storage_policy',
    help: 'The storage policy to use when creating a new container.\n\nThis applies the specified storage policy when creating a new\ncontainer. The policy cannot be changed afterwards. The allowed\nconfiguration values and their meaning depend on your Swift storage\nprovider.',
    advanced: true,
    examples: [
      { value: '', help: 'Default' },
      { value: 'pcs', help: 'OVH Public Cloud Storage' },
      { value: 'pca', help: 'OVH Public Cloud Archive' },
    ],
  },
  {
    name: 'chunk_size',
    help: 'Above this size files will be chunked into a _segments container.\n\nAbove this size files will be chunked into a _segments container.  The\ndefault for this is 5 GiB which is its maximum value.',
    type: 'size',
    default: '5Gi',
    advanced: true,
  },
  {
    name: 'no_chunk',
    help: "Don't chunk files during streaming upload.\n\nWhen doing streaming uploads (e.g. using rcat or mount) setting this\nflag will cause the swift backend to not upload chunked files.\n\nThis will limit the maximum upload size to 5 GiB. However non chunked\nfiles are easier to deal with and have an MD5SUM.\n\nFiles bigger than chunk_size are still chunked when their size is known.",
    type: 'bool',
    default: false,
    advanced: true,
  },
  {
    name: 'no_large_objects',
    help: 'Disable support for static and dynamic large objects.\n\nSwift cannot transparently store files bigger than 5 GiB. Large objects\nneed a HEAD request to be recognised, e.g. when reading checksums. With\nthis set, no large objects are assumed to exist: no HEAD requests are\nmade for them and files are never chunked, which limits uploads to 5 GiB.',
    type: 'bool',
    default: false,
    advanced: true,
  },
  {
    name: 'encoding',
    help: 'The encoding for the backend.\n\nOnly the default (Slash,InvalidUtf8) is supported: names are stored as given.',
    default: 'Slash,InvalidUtf8',
    advanced: true,
  },
];

/** OS_* variables as OpenStack tools (and CSC's allas-conf) export them; set ones override the config. */
export function swiftOptionsFromEnv(env: NodeJS.ProcessEnv): Partial<SwiftClientOptions> {
  const out: Partial<SwiftClientOptions> = {};
  const set = <K extends keyof SwiftClientOptions>(key: K, ...names: string[]) => {
    for (const name of names) {
      const v = env[name];
      if (v) {
        out[key] = v as SwiftClientOptions[K];
        return;
      }
    }
  };
  set('domain', 'OS_USER_DOMAIN_NAME');
  set('domainId', 'OS_USER_DOMAIN_ID');
  set('user', 'OS_USERNAME', 'ST_USER');
  set('userId', 'OS_USER_ID');
  set('key', 'OS_PASSWORD', 'ST_KEY');
  set('authUrl', 'OS_AUTH_URL', 'ST_AUTH');
  set('region', 'OS_REGION_NAME');
  set('tenant', 'OS_TENANT_NAME', 'OS_PROJECT_NAME');
  set('tenantId', 'OS_TENANT_ID', 'OS_PROJECT_ID');
  set('tenantDomain', 'OS_PROJECT_DOMAIN_NAME');
  set('tenantDomainId', 'OS_PROJECT_DOMAIN_ID');
  set('storageUrl', 'OS_STORAGE_URL');
  set('authToken', 'OS_AUTH_TOKEN');
  set('applicationCredentialId', 'OS_APPLICATION_CREDENTIAL_ID');
  set('applicationCredentialName', 'OS_APPLICATION_CREDENTIAL_NAME');
  set('applicationCredentialSecret', 'OS_APPLICATION_CREDENTIAL_SECRET');
  const version = env.ST_AUTH_VERSION || env.OS_IDENTITY_API_VERSION;
  if (version && /^\d+/.test(version)) out.authVersion = Number.parseInt(version, 10);
  const endpoint = (env.OS_ENDPOINT_TYPE || env.OS_INTERFACE || '').toLowerCase().replace(/url$/, '');
  if (ENDPOINT_TYPES.includes(endpoint as EndpointType)) out.endpointType = endpoint as EndpointType;
  return out;
}

/** Client options from a config section (and the environment when env_auth is set). */
export function swiftClientOptions(options: OptionValues, env: NodeJS.ProcessEnv = process.env): SwiftClientOptions {
  const str = (name: string) => options.string(name) || undefined;
  let result: SwiftClientOptions = {
    user: str('user'),
    key: str('key'),
    authUrl: str('auth'),
    userId: str('user_id'),
    domain: str('domain'),
    tenant: str('tenant'),
    tenantId: str('tenant_id'),
    tenantDomain: str('tenant_domain'),
    region: str('region'),
    storageUrl: str('storage_url'),
    authToken: str('auth_token'),
    applicationCredentialId: str('application_credential_id'),
    applicationCredentialName: str('application_credential_name'),
    applicationCredentialSecret: str('application_credential_secret'),
    authVersion: options.int('auth_version') || undefined,
    endpointType: options.choice('endpoint_type') as EndpointType,
  };
  if (options.bool('env_auth')) result = { ...result, ...swiftOptionsFromEnv(env) };
  return result;
}

/** Remote settings from a config section. */
export function swiftRemoteSettings(options: OptionValues): Partial<SwiftRemoteSettings> {
  const encoding = options.string('encoding').split(',').map((e) => e.trim().toLowerCase()).sort().join(',');
  if (encoding !== 'invalidutf8,slash') {
    throw new NotSupportedError(`swift: encoding ${JSON.stringify(options.string('encoding'))} is not supported (only Slash,InvalidUtf8)`);
  }
  return {
    chunkSize: options.size('chunk_size'),
    noChunk: options.bool('no_chunk'),
    noLargeObjects: options.bool('no_large_objects'),
    leavePartsOnError: options.bool('leave_parts_on_error'),
    storagePolicy: options.string('storage_policy'),
  };
}

registerBackend({
  type: 'swift',
  description: 'OpenStack Swift (Rackspace Cloud Files, Blomp Cloud Storage, Memset Memstore, OVH)',
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
