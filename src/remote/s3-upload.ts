// Writing objects: a single PUT from memory or streamed, the multipart upload (with the part
// reader that cuts the source into part buffers), and the part-by-part copy of large objects.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { CompletedPart } from '@aws-sdk/client-s3';
import { asAborted, throwIfAborted } from '../abort.js';
import { RemoteIOError, errorMessage } from '../errors.js';
import { mapLimit } from '../concurrency.js';
import type { ByteSource } from './remote.js';
import { deleteQuietly, type S3Connection } from './s3-client.js';
import { sdkCode, sdkStatus, sizeMismatch, toRemoteError } from './s3-errors.js';
import { META_MD5, aclInput, copySource, etagMd5, md5Base64, type Location, type ObjectInfo } from './s3-objects.js';
import { MIN_PART_SIZE, MiB } from './s3-options.js';
import { sseCopySourceInput, sseInput } from './s3-sse.js';
import { OffThreadHasher } from './hash-worker.js';

/** Cuts a byte stream into parts of a fixed size, copying into caller-provided buffers. */
export class PartReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private pending: Uint8Array | undefined;
  private ended = false;
  /** Bytes handed out so far. */
  total = 0;

  constructor(source: ByteSource) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Fills `buffer` as far as the source allows; a short (or empty) result means the source ended. */
  async fill(buffer: Buffer): Promise<Buffer> {
    let filled = 0;
    while (filled < buffer.length) {
      let chunk = this.pending;
      this.pending = undefined;
      if (chunk === undefined) {
        if (this.ended) break;
        const next = await this.iterator.next();
        if (next.done) {
          this.ended = true;
          break;
        }
        chunk = next.value;
      }
      const n = Math.min(buffer.length - filled, chunk.length);
      buffer.set(chunk.subarray(0, n), filled);
      filled += n;
      if (n < chunk.length) this.pending = chunk.subarray(n);
    }
    this.total += filled;
    return buffer.subarray(0, filled);
  }

  /** Whether the source has more bytes (reads ahead one chunk if needed). */
  async hasMore(): Promise<boolean> {
    while (this.pending === undefined || this.pending.length === 0) {
      if (this.ended) return false;
      const next = await this.iterator.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      this.pending = next.value;
    }
    return true;
  }

  /** Lets the source release what it holds when we stop early. */
  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      try {
        await this.iterator.return?.();
      } catch {
        // The source already failed; its error is the one being reported.
      }
    }
  }
}

/** Part sizes and parallelism, as the remote settled them from its options. */
export interface UploadLimits {
  chunkSize: number;
  maxUploadParts: number;
  uploadConcurrency: number;
  copyCutoff: number;
}

/** The upload and multipart-copy requests of one remote. */
export class S3Uploader {
  constructor(
    private readonly conn: S3Connection,
    private readonly limits: UploadLimits,
  ) {}

  /** Single PUT of bytes in memory (retried by the SDK; the server checks Content-MD5). */
  async putBuffer(
    loc: Location,
    path: string,
    data: Buffer,
    metadata: Record<string, string>,
    knownMd5?: string,
    signal?: AbortSignal,
  ): Promise<void> {
    const md5 = md5Base64(data);
    if (knownMd5 && Buffer.from(md5, 'base64').toString('hex') !== knownMd5) {
      throw new RemoteIOError(`s3: write ${JSON.stringify(path)}: content does not match the given md5 ${knownMd5}`);
    }
    const meta = { ...metadata };
    if (this.conn.options.sse && !this.conn.options.disableChecksum) meta[META_MD5] = md5;
    try {
      await this.conn.client.send(
        new this.conn.sdk.PutObjectCommand({
          Bucket: loc.bucket,
          Key: loc.key,
          Body: data,
          ContentLength: data.length,
          ContentMD5: md5,
          ContentType: 'application/octet-stream',
          Metadata: meta,
          ...aclInput(this.conn.options),
          ...sseInput(this.conn.options),
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      if (signal?.aborted) throw asAborted(err, signal);
      throw toRemoteError(err, 'write', path, 'none');
    }
  }

  /**
   * Single PUT streamed from the source (too big to buffer, below upload_cutoff). Not retried by
   * the SDK (a stream cannot be replayed); the ETag is checked against the MD5 of what was sent.
   */
  async putStream(
    loc: Location,
    path: string,
    source: ByteSource,
    size: number,
    metadata: Record<string, string>,
    knownMd5?: string,
    signal?: AbortSignal,
  ): Promise<void> {
    const meta = { ...metadata };
    if (knownMd5 && this.conn.options.sse && !this.conn.options.disableChecksum) {
      meta[META_MD5] = Buffer.from(knownMd5, 'hex').toString('base64');
    }
    // The request also ends when the caller gives up while the SDK waits on the network.
    const abort = new AbortController();
    const onAbort = () => abort.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const hash = createHash('md5');
    let sourceError: unknown;
    let sent = 0;
    async function* counted(): AsyncGenerator<Uint8Array> {
      try {
        for await (const chunk of source) {
          sent += chunk.length;
          if (sent > size) throw sizeMismatch(path, size, `more than ${size}`);
          hash.update(chunk);
          yield chunk;
        }
        if (sent !== size) throw sizeMismatch(path, size, String(sent));
      } catch (err) {
        // The SDK pipes the body and would wait forever for the missing bytes: abort the request.
        sourceError = err;
        abort.abort();
        throw err;
      }
    }
    const body = Readable.from(counted(), { objectMode: false, highWaterMark: 64 * 1024 });
    // The SDK pipes the body without an error listener; the failure is reported from sourceError.
    body.on('error', () => {});
    let etag: string | undefined;
    try {
      const out = await this.conn.client.send(
        new this.conn.sdk.PutObjectCommand({
          Bucket: loc.bucket,
          Key: loc.key,
          Body: body,
          ContentLength: size,
          ContentType: 'application/octet-stream',
          Metadata: meta,
          ...aclInput(this.conn.options),
          ...sseInput(this.conn.options),
        }),
        { abortSignal: abort.signal },
      );
      etag = out.ETag;
    } catch (err) {
      body.destroy();
      if (signal?.aborted) throw asAborted(sourceError ?? err, signal);
      if (sourceError !== undefined) throw sourceError;
      throw toRemoteError(err, 'write', path, 'none');
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    const md5 = hash.digest('hex');
    const etagHex = etagMd5(etag);
    if (!this.conn.options.sse && etagHex && etagHex !== md5) {
      await deleteQuietly(this.conn, loc);
      throw new RemoteIOError(`s3: write ${JSON.stringify(path)}: server stored MD5 ${etagHex}, sent ${md5}; object removed`);
    }
    if (knownMd5 && knownMd5 !== md5) {
      await deleteQuietly(this.conn, loc);
      throw new RemoteIOError(`s3: write ${JSON.stringify(path)}: content does not match the given md5 ${knownMd5}; object removed`);
    }
  }

  /** `partSize` (chunk_size for uploads), grown to whole MiB when the object would not fit in max_upload_parts. */
  private partSizeFor(size: number | undefined, partSize = this.limits.chunkSize): number {
    if (size === undefined || size <= partSize * this.limits.maxUploadParts) return partSize;
    return Math.ceil(size / this.limits.maxUploadParts / MiB) * MiB;
  }

  /** Starts a multipart upload (of new content, or of a copy) carrying the object's final metadata. */
  private async createMultipartUpload(
    to: Location,
    path: string,
    what: 'upload' | 'copy',
    metadata: Record<string, string>,
    contentType = 'application/octet-stream',
  ): Promise<string> {
    try {
      const created = await this.conn.client.send(
        new this.conn.sdk.CreateMultipartUploadCommand({
          Bucket: to.bucket,
          Key: to.key,
          ContentType: contentType,
          Metadata: metadata,
          ...aclInput(this.conn.options),
          ...sseInput(this.conn.options),
        }),
      );
      if (!created.UploadId) {
        throw new RemoteIOError(`s3: ${what === 'upload' ? 'write' : 'copy'} ${JSON.stringify(path)}: server returned no upload id`);
      }
      return created.UploadId;
    } catch (err) {
      throw toRemoteError(err, `start multipart ${what} of`, path, 'none');
    }
  }

  private async completeMultipartUpload(
    to: Location,
    path: string,
    what: 'upload' | 'copy',
    uploadId: string,
    parts: CompletedPart[],
  ): Promise<void> {
    try {
      await this.conn.client.send(
        new this.conn.sdk.CompleteMultipartUploadCommand({
          Bucket: to.bucket,
          Key: to.key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          ...sseInput(this.conn.options),
        }),
      );
    } catch (err) {
      // A repeated complete whose first attempt took effect (its answer was lost) finds no upload.
      if ((sdkCode(err) === 'NoSuchUpload' || sdkStatus(err) === 404) && (await this.completedAlready(to, parts))) {
        this.conn.log.debug(`s3: multipart ${what} of ${path} was completed by an earlier attempt`);
        return;
      }
      throw toRemoteError(err, `complete multipart ${what} of`, path, 'none');
    }
  }

  /** Whether the object now at `to` is the one these parts make (its ETag is S3's multipart ETag of them). */
  private async completedAlready(to: Location, parts: CompletedPart[]): Promise<boolean> {
    const hash = createHash('md5');
    for (const p of parts) {
      const hex = etagMd5(p.ETag);
      if (!hex) return false;
      hash.update(Buffer.from(hex, 'hex'));
    }
    const expected = `${hash.digest('hex')}-${parts.length}`;
    try {
      const out = await this.conn.client.send(new this.conn.sdk.HeadObjectCommand({ Bucket: to.bucket, Key: to.key, ...sseInput(this.conn.options) }));
      return out.ETag?.replace(/"/g, '').toLowerCase() === expected;
    } catch {
      return false;
    }
  }

  /**
   * Multipart upload: parts of part size read one at a time into at most `upload_concurrency`
   * buffers, uploaded in parallel, completed in order; any failure aborts the upload so no partial
   * object appears. A stream of unknown size that ends within the first part goes as a single PUT.
   * Returns the number of bytes written.
   */
  async putMultipart(
    loc: Location,
    path: string,
    source: ByteSource,
    size: number | undefined,
    metadata: Record<string, string>,
    knownMd5?: string,
    signal?: AbortSignal,
  ): Promise<number> {
    const partSize = this.partSizeFor(size);
    const reader = new PartReader(source);
    // At most upload_concurrency part buffers exist; finished parts hand theirs back.
    const free: Buffer[] = [];
    const takeBuffer = () => free.pop() ?? Buffer.allocUnsafe(partSize);

    let owner = takeBuffer();
    let data: Buffer;
    try {
      data = await reader.fill(owner);
    } catch (err) {
      await reader.close();
      throw err;
    }
    if (size === undefined && data.length < partSize) {
      await this.putBuffer(loc, path, data, metadata, knownMd5, signal);
      return data.length;
    }

    const meta = { ...metadata };
    if (knownMd5 && !this.conn.options.disableChecksum) meta[META_MD5] = Buffer.from(knownMd5, 'hex').toString('base64');
    let uploadId: string;
    try {
      uploadId = await this.createMultipartUpload(loc, path, 'upload', meta);
    } catch (err) {
      await reader.close();
      throw err;
    }

    // The caller giving up cancels the parts in flight like a failed part does; the catch below
    // then aborts the multipart upload (not under the signal: its parts must not stay stored).
    const cancel = new AbortController();
    const onAbort = () => {
      if (failure === undefined) failure = signal?.reason;
      cancel.abort();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const inFlight = new Set<Promise<void>>();
    const parts: CompletedPart[] = [];
    // MD5s (each part's Content-MD5, and the whole content's against the given one) on the hash
    // thread, while the main thread encrypts and reads the next part.
    const wholeMd5 = knownMd5 ? new OffThreadHasher(['md5']) : undefined;
    let failure: unknown;
    try {
      for (let partNumber = 1; ; partNumber++) {
        throwIfAborted(signal);
        if (partNumber > this.limits.maxUploadParts) {
          throw new RemoteIOError(
            `s3: write ${JSON.stringify(path)}: more than ${this.limits.maxUploadParts} parts of ${partSize} bytes; raise chunk_size`,
          );
        }
        if (size !== undefined && reader.total > size) throw sizeMismatch(path, size, `more than ${size}`);
        const partData = data;
        const partOwner = owner;
        const partMd5 = new OffThreadHasher(['md5']);
        await Promise.all([wholeMd5?.update(partData), partMd5.update(partData)]);
        const task = partMd5
          .digests()
          .then(({ md5 }) => this.uploadPart(loc, uploadId, partNumber, partData, Buffer.from(md5, 'hex').toString('base64'), cancel.signal, path))
          .then(
          (etag) => {
            parts.push({ PartNumber: partNumber, ETag: etag });
            free.push(partOwner);
          },
          (err) => {
            if (failure === undefined) failure = err;
            cancel.abort();
          },
        );
        inFlight.add(task);
        void task.finally(() => inFlight.delete(task));
        if (data.length < partSize) break; // the short last part
        while (inFlight.size >= this.limits.uploadConcurrency && failure === undefined) await Promise.race(inFlight);
        if (failure !== undefined) break;
        owner = takeBuffer();
        data = await reader.fill(owner);
        if (data.length === 0) break; // the size was a multiple of the part size
      }
      await Promise.all(inFlight);
      throwIfAborted(signal);
      if (failure !== undefined) throw failure;
      if (size !== undefined && reader.total !== size) throw sizeMismatch(path, size, String(reader.total));
      if (wholeMd5 && (await wholeMd5.digests()).md5 !== knownMd5) {
        throw new RemoteIOError(`s3: write ${JSON.stringify(path)}: content does not match the given md5 ${knownMd5}`);
      }
      parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
      await this.completeMultipartUpload(loc, path, 'upload', uploadId, parts);
      return reader.total;
    } catch (err) {
      cancel.abort();
      wholeMd5?.abort();
      await Promise.allSettled(inFlight);
      await reader.close();
      await this.abortUpload(loc, uploadId, path);
      if (signal?.aborted) throw asAborted(err, signal);
      throw err instanceof Error ? err : toRemoteError(err, 'write', path, 'none');
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async uploadPart(
    loc: Location,
    uploadId: string,
    partNumber: number,
    data: Buffer,
    md5: string,
    signal: AbortSignal,
    path: string,
  ): Promise<string> {
    try {
      const out = await this.conn.client.send(
        new this.conn.sdk.UploadPartCommand({
          Bucket: loc.bucket,
          Key: loc.key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: data,
          ContentLength: data.length,
          ContentMD5: md5,
          ...sseInput(this.conn.options),
        }),
        { abortSignal: signal },
      );
      if (!out.ETag) throw new RemoteIOError(`s3: write ${JSON.stringify(path)}: part ${partNumber} got no ETag`);
      return out.ETag;
    } catch (err) {
      throw toRemoteError(err, `upload part ${partNumber} of`, path, 'none');
    }
  }

  private async abortUpload(loc: Location, uploadId: string, path: string): Promise<void> {
    try {
      await this.conn.client.send(new this.conn.sdk.AbortMultipartUploadCommand({ Bucket: loc.bucket, Key: loc.key, UploadId: uploadId }));
      this.conn.log.debug(`s3: aborted multipart upload of ${path}`);
    } catch (err) {
      this.conn.log.warn(`s3: could not abort the multipart upload of ${JSON.stringify(path)} (upload id ${uploadId}): ${errorMessage(err)}`);
    }
  }

  async copyMultipart(
    from: Location,
    to: Location,
    info: ObjectInfo,
    path: string,
    target: { metadata: Record<string, string>; contentType?: string },
  ): Promise<void> {
    const partSize = this.partSizeFor(info.size, Math.max(this.limits.copyCutoff, MIN_PART_SIZE));
    const uploadId = await this.createMultipartUpload(to, path, 'copy', target.metadata, target.contentType);
    const ranges: { partNumber: number; start: number; end: number }[] = [];
    for (let start = 0, n = 1; start < info.size; start += partSize, n++) {
      ranges.push({ partNumber: n, start, end: Math.min(start + partSize, info.size) - 1 });
    }
    try {
      const parts = await mapLimit(ranges, this.limits.uploadConcurrency, async (r) => {
        try {
          const out = await this.conn.client.send(
            new this.conn.sdk.UploadPartCopyCommand({
              Bucket: to.bucket,
              Key: to.key,
              UploadId: uploadId,
              PartNumber: r.partNumber,
              CopySource: copySource(from.bucket, from.key),
              CopySourceRange: `bytes=${r.start}-${r.end}`,
              ...sseInput(this.conn.options),
              ...sseCopySourceInput(this.conn.options),
            }),
          );
          return { PartNumber: r.partNumber, ETag: out.CopyPartResult?.ETag } satisfies CompletedPart;
        } catch (err) {
          throw toRemoteError(err, `copy part ${r.partNumber} of`, path);
        }
      });
      await this.completeMultipartUpload(to, path, 'copy', uploadId, parts);
    } catch (err) {
      await this.abortUpload(to, uploadId, path);
      throw err;
    }
  }
}
