// The S3 driver: any S3-compatible object store (AWS, Ceph, Minio, Swift's s3api, ...), laid out
// the way rclone's s3 backend lays it out, so rclone and cryptfs read each other's objects:
// buckets are top-level directories, directories inside a bucket are key prefixes, the
// modification time lives in `X-Amz-Meta-Mtime` (seconds as a decimal string) and an MD5 the
// ETag cannot carry lives in `X-Amz-Meta-Md5chksum` (base64).
// This file holds the Remote itself and registers the backend; its parts live beside it:
// s3-options.ts (options and settings), s3-errors.ts (failures and retries), s3-client.ts (the SDK
// client), s3-objects.ts (HEAD and shared object helpers), s3-listing.ts (listing), s3-sse.ts
// (SSE-C), s3-upload.ts (uploads and multipart copies).
import { createHash } from 'node:crypto';
import type { BucketCannedACL, S3Client } from '@aws-sdk/client-s3';
import {
  DirNotEmptyError,
  DirNotFoundError,
  IsDirectoryError,
  NotSupportedError,
  ObjectNotFoundError,
  RemoteIOError,
} from '../errors.js';
import { abortable, asAborted, throwIfAborted } from '../abort.js';
import { registerBackend, type BackendContext } from './registry.js';
import {
  cleanPath,
  dateToNs,
  nsToDate,
  joinPath,
  PieceReuse,
  type ByteSource,
  type HashType,
  type ListOptions,
  type ReadOptions,
  type ReadRange,
  type ReadWithInfo,
  type TransferOptions,
  type Remote,
  type RemoteEntry,
  type RemoteFeatures,
} from './remote.js';
import { formatMtime, formatMtimeNs, parseMtime } from './object-store-util.js';
import { parseMetadataTime, type Metadata } from './metadata.js';
import { ObjectChangedError, resumableBody, type OpenedBody } from './resumable-read.js';
import { defaultRetryPolicy, isRetryableError } from './retry.js';
import { openParallelRead, parallelReadSettings } from './parallel-read.js';
import { createS3Client, deleteQuietly, type S3Connection } from './s3-client.js';
import { loadS3Sdk, type S3Sdk } from './s3-sdk.js';
import {
  describeRetryError,
  isBrokenBody,
  mapStreamErrors,
  sdkCode,
  sdkStatus,
  sizeMismatch,
  toRemoteError,
} from './s3-errors.js';
import { listBuckets, listKeys, listPages, prefixHasObjects } from './s3-listing.js';
import {
  META_MD5,
  META_MTIME,
  aclInput,
  copySource,
  headObject,
  md5Of,
  changedMetadata,
  objectInfoOfGet,
  storableMetadata,
  userMetadataOf,
  type Location,
  type ObjectInfo,
} from './s3-objects.js';
import {
  MAX_SINGLE_SIZE,
  MAX_UPLOAD_PARTS,
  MIN_PART_SIZE,
  MiB,
  S3_DESCRIPTION,
  projectLogger,
  s3OptionSpecs,
  s3OptionsFromConfig,
  type S3Logger,
  type S3RemoteOptions,
  type S3WriteOptions,
} from './s3-options.js';
import { SseEnforcement, sseCopySourceInput, sseInput, type SseVerdict } from './s3-sse.js';
import { PartReader, S3Uploader } from './s3-upload.js';

// The driver's API as it was before the split into modules: importers keep using './s3.js'.
export { MIN_PART_SIZE, projectLogger, s3OptionSpecs, s3OptionsFromConfig };
export type { S3Logger, S3RemoteOptions, S3WriteOptions, SseCustomerKey } from './s3-options.js';
export { isRetryableS3Error, S3RetryStrategy, toRemoteError } from './s3-errors.js';
// rclone's mtime text, shared with the swift driver; still exported here as part of this driver's API.
export { formatMtime, parseMtime };

export class S3Remote implements Remote {
  readonly type = 's3';
  readonly displayName: string;
  readonly features: RemoteFeatures = {
    realDirectories: false,
    hashes: ['md5'],
    caseInsensitive: false,
    md5Checked: true, // a given MD5 is checked before an upload completes (s3-upload.ts)
  };
  /** The SSE-C probe's verdict per bucket (see SseEnforcement.verdicts). */
  get sseCheck(): Map<string, SseVerdict> {
    return this.sseEnforcement.verdicts;
  }
  private readonly sseEnforcement: SseEnforcement;
  private readonly uploader: S3Uploader;
  private readonly conn: S3Connection;

  readonly client: S3Client;
  private readonly root: string;
  private readonly chunkSize: number;
  private readonly uploadCutoff: number;
  private readonly copyCutoff: number;
  private readonly listChunk: number;
  private readonly replayBufferBytes: number;
  private readonly log: S3Logger;
  private readonly bucketsKnown = new Set<string>();

  /** Opens the remote, loading the SDK on first use. */
  static async create(options: S3RemoteOptions): Promise<S3Remote> {
    return new S3Remote(options, await loadS3Sdk());
  }

  /** Use S3Remote.create(), which supplies the SDK module. */
  constructor(
    readonly options: S3RemoteOptions,
    private readonly sdk: S3Sdk,
  ) {
    this.root = cleanPath(options.root ?? '');
    this.displayName = options.name ? `${options.name}:${this.root}` : `s3:${this.root}`;
    this.chunkSize = Math.max(options.chunkSize ?? MIN_PART_SIZE, MIN_PART_SIZE);
    this.uploadCutoff = Math.min(options.uploadCutoff ?? 200 * MiB, MAX_SINGLE_SIZE);
    const uploadConcurrency = Math.max(1, options.uploadConcurrency ?? 4);
    const maxUploadParts = Math.min(Math.max(1, options.maxUploadParts ?? MAX_UPLOAD_PARTS), MAX_UPLOAD_PARTS);
    this.copyCutoff = Math.min(options.copyCutoff ?? 4768 * MiB, MAX_SINGLE_SIZE);
    this.listChunk = Math.max(1, options.listChunk ?? 1000);
    this.replayBufferBytes = Math.max(0, options.replayBufferBytes ?? 16 * MiB);
    this.log = options.logger ?? projectLogger;
    this.features.md5UpfrontFrom = this.uploadCutoff; // multipart objects have no content MD5 unless the writer supplies one
    this.client = createS3Client(options, sdk, this.log);
    this.conn = { client: this.client, sdk, options, log: this.log };
    this.sseEnforcement = new SseEnforcement(this.conn);
    this.uploader = new S3Uploader(this.conn, {
      chunkSize: this.chunkSize,
      maxUploadParts,
      uploadConcurrency,
      copyCutoff: this.copyCutoff,
    });
  }

  // ---- paths ----

  private locate(path: string): Location {
    const full = joinPath(this.root, cleanPath(path));
    const i = full.indexOf('/');
    return i < 0 ? { bucket: full, key: '' } : { bucket: full.slice(0, i), key: full.slice(i + 1) };
  }

  // ---- buckets ----

  private async bucketExists(bucket: string): Promise<boolean> {
    try {
      await this.client.send(new this.sdk.HeadBucketCommand({ Bucket: bucket }));
      return true;
    } catch (err) {
      const status = sdkStatus(err);
      if (status === 404 || sdkCode(err) === 'NoSuchBucket' || sdkCode(err) === 'NotFound') return false;
      throw toRemoteError(err, 'head bucket', bucket, 'none');
    }
  }

  /** Creates the bucket unless it exists (once per bucket per remote), as rclone does before writes. */
  private async ensureBucket(bucket: string): Promise<void> {
    if (this.options.noCheckBucket || this.bucketsKnown.has(bucket)) return;
    if (!(await this.bucketExists(bucket))) {
      try {
        await this.client.send(
          new this.sdk.CreateBucketCommand({
            Bucket: bucket,
            ...(this.options.acl ? { ACL: this.options.acl as BucketCannedACL } : {}),
            ...(this.options.locationConstraint
              ? { CreateBucketConfiguration: { LocationConstraint: this.options.locationConstraint as never } }
              : {}),
          }),
        );
        this.log.debug(`s3: created bucket ${bucket}`);
      } catch (err) {
        if (sdkCode(err) !== 'BucketAlreadyOwnedByYou') throw toRemoteError(err, 'create bucket', bucket, 'none');
      }
    }
    this.bucketsKnown.add(bucket);
  }

  // ---- Remote: listing ----

  async *list(dir: string, options: ListOptions = {}): AsyncIterable<RemoteEntry> {
    const signal = options.signal;
    throwIfAborted(signal);
    const loc = this.locate(dir);
    if (loc.bucket === '') {
      yield* abortable(listBuckets(this.conn, dir), signal);
      return;
    }
    yield* abortable(listKeys(this.conn, loc, dir, this.listChunk, false, signal, options.modTimes !== false), signal);
  }

  async *listRecursive(dir: string, options: ListOptions = {}): AsyncIterable<RemoteEntry> {
    const signal = options.signal;
    throwIfAborted(signal);
    const loc = this.locate(dir);
    if (loc.bucket !== '') {
      yield* abortable(listKeys(this.conn, loc, dir, this.listChunk, true, signal, options.modTimes !== false), signal);
      return;
    }
    // The top of the store: each bucket, and everything in it.
    const buckets: RemoteEntry[] = [];
    for await (const b of abortable(listBuckets(this.conn, dir), signal)) buckets.push(b);
    for (const b of buckets) {
      yield b;
      yield* this.listRecursive(b.path, options);
    }
  }

  async stat(path: string): Promise<RemoteEntry> {
    const loc = this.locate(path);
    if (loc.bucket === '') return { path: '', isDir: true, size: -1, mtime: new Date(0) };
    if (loc.key === '') {
      if (await this.bucketExists(loc.bucket)) return { path, isDir: true, size: -1, mtime: new Date(0) };
      throw new ObjectNotFoundError(path);
    }
    try {
      const info = await headObject(this.conn, loc, path);
      return { path, isDir: false, size: info.size, mtime: info.mtime, mtimeNs: info.mtimeNs, metadata: userMetadataOf(info.metadata) };
    } catch (err) {
      if (!(err instanceof ObjectNotFoundError)) throw err;
    }
    // Not an object: a directory if some key lives under it.
    let found;
    try {
      found = await prefixHasObjects(this.conn, loc.bucket, loc.key, path);
    } catch (err) {
      if (err instanceof DirNotFoundError) throw new ObjectNotFoundError(path, { cause: err });
      throw err;
    }
    if (found.keys.length > 0) return { path, isDir: true, size: -1, mtime: new Date(0) };
    throw new ObjectNotFoundError(path);
  }

  async hash(path: string, type: HashType): Promise<string | undefined> {
    if (type !== 'md5') return undefined;
    const loc = this.locate(path);
    if (loc.key === '') throw new IsDirectoryError(path);
    return md5Of(this.options, await headObject(this.conn, loc, path));
  }

  // ---- Remote: reading ----

  async openRead(path: string, range?: ReadRange, options?: ReadOptions): Promise<ByteSource> {
    return (await this.openReadWithInfo(path, range, options)).source;
  }

  /** The GET's own headers describe the object (Content-Range its whole size); a HEAD only for empty ranges. */
  async openReadWithInfo(path: string, range?: ReadRange, options: ReadOptions = {}): Promise<ReadWithInfo> {
    const signal = options.signal;
    throwIfAborted(signal);
    const loc = this.locate(path);
    if (loc.bucket === '' || loc.key === '') throw new IsDirectoryError(path);
    const offset = range?.offset ?? 0;
    const length = range?.length;
    if (offset < 0 || (length !== undefined && length < 0)) throw new RangeError(`bad range ${offset}+${length}`);
    const entryOf = (info: ObjectInfo): RemoteEntry =>
      ({ path, isDir: false, size: info.size, mtime: info.mtime, mtimeNs: info.mtimeNs, metadata: userMetadataOf(info.metadata) });
    if (length === 0) {
      // "not found" must surface here
      return { source: emptySource(), entry: entryOf(await headObject(this.conn, loc, path, signal)) };
    }
    const end = length === undefined ? undefined : offset + length;
    const target = `s3: read ${JSON.stringify(path)}`;
    // Reads longer than one part go as parallel ranged GETs (parallel-read.ts).
    const parallel = parallelReadSettings();
    if (parallel.streams > 1 && (end === undefined || end - offset > parallel.chunkSize)) {
      let firstInfo: ObjectInfo | undefined;
      const body = await openParallelRead(
        async (from, to, etag) => {
          const part = await this.openBody(loc, path, from, to, etag, signal);
          // The first part's answer describes the object (the others must carry the same ETag).
          if (part) firstInfo ??= part.info;
          return part && { body: this.resumable(part, loc, path, from, to, signal), totalSize: part.totalSize, etag: part.etag };
        },
        offset,
        end,
        target,
        parallel,
        signal,
      );
      if (!body || !firstInfo) return { source: emptySource(), entry: entryOf(await headObject(this.conn, loc, path, signal)) };
      return { source: abortable(mapStreamErrors(body, path), signal), entry: entryOf(firstInfo) };
    }
    const first = await this.openBody(loc, path, offset, end, undefined, signal);
    if (!first) return { source: emptySource(), entry: entryOf(await headObject(this.conn, loc, path, signal)) };
    return { source: abortable(mapStreamErrors(this.resumable(first, loc, path, offset, end, signal), path), signal), entry: entryOf(first.info) };
  }

  /** The body of a GET that resumes after a broken connection, from the same object version. */
  private resumable(
    first: OpenedBody,
    loc: Location,
    path: string,
    offset: number,
    end: number | undefined,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<Uint8Array> {
    const policy = this.options.retryPolicy ?? defaultRetryPolicy;
    return resumableBody(first, {
      target: `s3: read ${JSON.stringify(path)}`,
      offset,
      end,
      policy,
      signal,
      // The same version only: a changed object answers 412 rather than the rest of another one.
      reopen: (position, etag) => this.openBody(loc, path, position, end, etag, signal),
      isResumable: (err) => isRetryableError(err) || isBrokenBody(err),
      onResume: (err, attempt, delay, position) =>
        this.log.debug(
          `s3: read ${path}: resuming at byte ${position}: low level retry ${attempt}/${policy.attempts - 1} in ${Math.round(delay)} ms (error ${describeRetryError(err)})`,
        ),
    });
  }

  /**
   * A GetObject from `offset` (to `end`), of version `ifMatch` when given; undefined when the range
   * starts at or past the end. The SDK retries the request; a failure of the body is the caller's.
   */
  private async openBody(
    loc: Location,
    path: string,
    offset: number,
    end: number | undefined,
    ifMatch: string | undefined,
    signal?: AbortSignal,
  ): Promise<(OpenedBody & { info: ObjectInfo; totalSize?: number }) | undefined> {
    let rangeHeader: string | undefined;
    if (offset > 0 || end !== undefined) rangeHeader = end === undefined ? `bytes=${offset}-` : `bytes=${offset}-${end - 1}`;
    let out;
    try {
      out = await this.client.send(
        new this.sdk.GetObjectCommand({ Bucket: loc.bucket, Key: loc.key, Range: rangeHeader, IfMatch: ifMatch, ...sseInput(this.options) }),
        // Also ends the body's connection when it fires mid-stream.
        { abortSignal: signal },
      );
    } catch (err) {
      if (signal?.aborted) throw asAborted(err, signal);
      // A range starting at or past the end: the object exists, there is nothing to read.
      if (sdkStatus(err) === 416) return undefined;
      if (ifMatch !== undefined && sdkStatus(err) === 412) {
        throw new ObjectChangedError(`s3: read ${JSON.stringify(path)}`, offset, { was: ifMatch, cause: err });
      }
      throw toRemoteError(err, 'open', path);
    }
    const body = out.Body as unknown as AsyncIterable<Uint8Array> | undefined;
    // "bytes 0-8388607/536870912": the size of the whole object, for parallel-read.ts.
    const total = /\/(\d+)$/.exec(out.ContentRange ?? '')?.[1];
    const totalSize = total !== undefined ? Number(total) : rangeHeader === undefined ? out.ContentLength : undefined;
    return { body: body ?? emptySource(), etag: out.ETag, info: objectInfoOfGet(out, this.options), totalSize };
  }

  // ---- Remote: writing ----

  async write(path: string, source: ByteSource, options: S3WriteOptions = {}): Promise<RemoteEntry> {
    const loc = this.locate(path);
    if (loc.bucket === '' || loc.key === '') throw new IsDirectoryError(path);
    const signal = options.signal;
    throwIfAborted(signal);
    // Aborted: reading the source fails with AbortedError, which ends the upload as any failure does.
    source = abortable(source, signal);
    if (options.md5 !== undefined && !/^[0-9a-f]{32}$/.test(options.md5)) {
      throw new RangeError(`md5 must be 32 lower-case hex digits, got ${JSON.stringify(options.md5)}`);
    }
    await this.ensureBucket(loc.bucket);
    await this.sseEnforcement.ensureEnforced(loc.bucket);
    const mtimeNs = options.mtimeNs ?? dateToNs(options.mtime ?? new Date());
    const mtime = nsToDate(mtimeNs);
    const metadata: Record<string, string> = { ...storableMetadata(options.metadata), [META_MTIME]: formatMtimeNs(mtimeNs) };
    const size = options.size;
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) throw new RangeError(`bad size ${size}`);

    let written: number;
    if (size !== undefined && (size < this.uploadCutoff || size === 0)) {
      // Collected in memory when small enough, so a PUT broken off mid-body is sent again.
      if (size <= Math.max(this.chunkSize, this.replayBufferBytes)) {
        options.reusePieces?.(); // copied into the buffer
        const reader = new PartReader(source);
        const buffer = await reader.fill(Buffer.allocUnsafe(size));
        if (buffer.length !== size || (await reader.hasMore())) {
          await reader.close();
          throw sizeMismatch(path, size, buffer.length === size ? `more than ${size}` : String(buffer.length));
        }
        // The whole source is in: metadata known only now goes with the PUT itself.
        const late = options.lateMetadata ? storableMetadata(await options.lateMetadata()) : {};
        await this.uploader.putBuffer(loc, path, buffer, { ...metadata, ...late }, options.md5, signal);
        return { path, isDir: false, size, mtime, mtimeNs };
      }
      await this.uploader.putStream(loc, path, source, size, metadata, options.md5, signal);
      written = size;
    } else {
      // A multipart ETag is no MD5: rclone stores the source's MD5 (X-Amz-Meta-Md5chksum), hashing a
      // local file before the upload. The same first pass over a local source here (crypt gives its own).
      let md5 = options.md5;
      if (md5 === undefined && options.reopen && size !== undefined && !this.options.disableChecksum) {
        const h = createHash('md5');
        // Each piece is hashed before the next is asked for.
        for await (const chunk of await options.reopen({ reuse: PieceReuse.allowed() })) {
          throwIfAborted(signal);
          h.update(chunk);
        }
        md5 = h.digest('hex');
      }
      // Parts are copied into part buffers (PartReader): the source may refill its own.
      options.reusePieces?.();
      written = await this.uploader.putMultipart(loc, path, source, size, metadata, md5, signal);
    }
    // Streamed and multipart uploads sent their metadata first: the rest by copy-in-place (REPLACE).
    if (options.lateMetadata) await this.setMetadata(path, await options.lateMetadata());
    return { path, isDir: false, size: written, mtime, mtimeNs };
  }

  // ---- Remote: deleting, directories ----

  async delete(path: string): Promise<void> {
    const loc = this.locate(path);
    if (loc.bucket === '' || loc.key === '') throw new IsDirectoryError(path);
    // S3 deletes of missing keys succeed; the interface wants ObjectNotFoundError.
    await headObject(this.conn, loc, path);
    try {
      await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
    } catch (err) {
      throw toRemoteError(err, 'delete', path);
    }
  }

  async mkdir(dir: string): Promise<void> {
    const loc = this.locate(dir);
    if (loc.bucket === '') return;
    // Inside a bucket directories are prefixes that exist while objects do (as in rclone 1.60), so
    // there is nothing to make; listing or removing such a directory says it is not found.
    await this.ensureBucket(loc.bucket);
  }

  async rmdir(dir: string): Promise<void> {
    const loc = this.locate(dir);
    if (loc.bucket === '') throw new NotSupportedError(`s3: can't remove the root of ${this.displayName}`);
    const found = await prefixHasObjects(this.conn, loc.bucket, loc.key, dir);
    if (loc.key === '') {
      if (found.keys.length > 0) throw new DirNotEmptyError(dir);
      try {
        await this.client.send(new this.sdk.DeleteBucketCommand({ Bucket: loc.bucket }));
      } catch (err) {
        if (sdkCode(err) === 'BucketNotEmpty' || sdkStatus(err) === 409) throw new DirNotEmptyError(dir, { cause: err });
        throw toRemoteError(err, 'remove bucket', dir, 'dir');
      }
      this.bucketsKnown.delete(loc.bucket);
      this.sseCheck.delete(loc.bucket);
      return;
    }
    const marker = `${loc.key}/`;
    if (found.keys.length === 0) throw new DirNotFoundError(dir);
    const others = found.keys.filter((k) => k !== marker);
    if (others.length > 0 || found.more) throw new DirNotEmptyError(dir);
    // Only a marker object ("dir/", made by some tools) is left: remove it.
    if (found.keys.includes(marker)) await deleteQuietly(this.conn, { bucket: loc.bucket, key: marker });
  }

  async purge(dir: string): Promise<void> {
    const loc = this.locate(dir);
    if (loc.bucket === '') throw new NotSupportedError(`s3: can't purge the root of ${this.displayName}`);
    const prefix = loc.key === '' ? '' : `${loc.key}/`;
    for await (const page of listPages(this.conn, loc.bucket, prefix, undefined, 1000, dir)) {
      const keys = page.objects.map((o) => o.key);
      if (keys.length > 0) await this.deleteKeys(loc.bucket, keys, dir);
    }
    if (loc.key === '') {
      try {
        await this.client.send(new this.sdk.DeleteBucketCommand({ Bucket: loc.bucket }));
      } catch (err) {
        throw toRemoteError(err, 'remove bucket', dir, 'dir');
      }
      this.bucketsKnown.delete(loc.bucket);
      this.sseCheck.delete(loc.bucket);
    }
  }

  private async deleteKeys(bucket: string, keys: string[], dir: string): Promise<void> {
    let out;
    try {
      out = await this.client.send(
        new this.sdk.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }),
      );
    } catch (err) {
      throw toRemoteError(err, 'delete objects in', dir, 'dir');
    }
    const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
    if (failed.length > 0) {
      const e = failed[0];
      throw new RemoteIOError(
        `s3: purge ${JSON.stringify(dir)}: ${failed.length} object(s) not deleted, e.g. ${JSON.stringify(e.Key)}: ${e.Code} ${e.Message ?? ''}`.trim(),
      );
    }
  }

  // ---- Remote: metadata, copy, move ----

  async setMtime(path: string, mtime: Date, mtimeNs?: bigint): Promise<void> {
    const loc = this.locate(path);
    if (loc.bucket === '' || loc.key === '') throw new IsDirectoryError(path);
    const info = await headObject(this.conn, loc, path);
    const metadata = { ...info.metadata, [META_MTIME]: formatMtimeNs(mtimeNs ?? dateToNs(mtime)) };
    // Metadata can only change by copying the object onto itself.
    await this.copyObject(loc, loc, info, path, { metadata, contentType: info.contentType });
  }

  async setMetadata(path: string, changes: Metadata, options: { isDir?: boolean } = {}): Promise<void> {
    const loc = this.locate(path);
    if (options.isDir || loc.bucket === '' || loc.key === '') throw new IsDirectoryError(path);
    const info = await headObject(this.conn, loc, path);
    // Keys not changed (rclone's mtime and md5chksum among them) stay as they are.
    const metadata = changedMetadata(info.metadata, changes);
    await this.copyObject(loc, loc, info, path, { metadata, contentType: info.contentType });
  }

  /** With `options.metadata` the copy gets the changed metadata at once (REPLACE), rclone's mtime/md5 keys kept. */
  async copy(src: string, dst: string, options: TransferOptions = {}): Promise<RemoteEntry> {
    const from = this.locate(src);
    const to = this.locate(dst);
    if (from.key === '') throw new IsDirectoryError(src);
    if (to.key === '') throw new IsDirectoryError(dst);
    const info = await headObject(this.conn, from, src);
    const replace = options.metadata ? { metadata: changedMetadata(info.metadata, options.metadata), contentType: info.contentType } : undefined;
    const entry = (metadata: Record<string, string>): RemoteEntry =>
      ({ path: dst, isDir: false, size: info.size, mtime: info.mtime, mtimeNs: info.mtimeNs, metadata: userMetadataOf(metadata) });
    if (from.bucket === to.bucket && from.key === to.key) {
      if (replace) await this.copyObject(from, to, info, src, replace);
      return entry(replace?.metadata ?? info.metadata);
    }
    await this.ensureBucket(to.bucket);
    await this.sseEnforcement.ensureEnforced(to.bucket);
    await this.copyObject(from, to, info, src, replace);
    return entry(replace?.metadata ?? info.metadata);
  }

  async move(src: string, dst: string, options: TransferOptions = {}): Promise<RemoteEntry> {
    const entry = await this.copy(src, dst, options);
    const from = this.locate(src);
    const to = this.locate(dst);
    if (from.bucket !== to.bucket || from.key !== to.key) {
      try {
        await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: from.bucket, Key: from.key }));
      } catch (err) {
        throw toRemoteError(err, 'delete (after copy)', src, 'none');
      }
    }
    return entry;
  }

  /**
   * Server-side copy. `replace` sets new metadata (REPLACE directive), otherwise it is copied.
   * Objects above copy_cutoff are copied part by part (a single CopyObject stops at 5 GiB).
   */
  private async copyObject(
    from: Location,
    to: Location,
    info: ObjectInfo,
    path: string,
    replace?: { metadata: Record<string, string>; contentType?: string },
  ): Promise<void> {
    const source = copySource(from.bucket, from.key);
    if (info.size > this.copyCutoff) {
      await this.uploader.copyMultipart(from, to, info, path, replace ?? { metadata: info.metadata, contentType: info.contentType });
      return;
    }
    try {
      await this.client.send(
        new this.sdk.CopyObjectCommand({
          Bucket: to.bucket,
          Key: to.key,
          CopySource: source,
          MetadataDirective: replace ? 'REPLACE' : 'COPY',
          ...(replace ? { Metadata: replace.metadata, ContentType: replace.contentType ?? 'application/octet-stream' } : {}),
          ...aclInput(this.options),
          ...sseInput(this.options),
          ...sseCopySourceInput(this.options),
        }),
      );
    } catch (err) {
      throw toRemoteError(err, 'copy', path);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

async function* emptySource(): AsyncGenerator<Uint8Array> {}

registerBackend({
  type: 's3',
  description: S3_DESCRIPTION,
  options: s3OptionSpecs,
  async create(ctx): Promise<Remote> {
    return S3Remote.create(s3OptionsFromConfig(ctx.options, ctx.name, ctx.root));
  },
});
