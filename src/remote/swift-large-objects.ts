// Swift large objects as rclone stores them: segments in `<container>_segments` under
// `<path>/<upload time>/<size or -1>/`, then a DLO manifest; writing them (streamed or buffered
// and sent in parallel), copying them server-side, and removing the segments a manifest leaves.
import { createHash } from 'node:crypto';
import { RemoteIOError } from '../errors.js';
import { log } from '../log.js';
import { mapLimit } from '../concurrency.js';
import type { ByteSource } from './remote.js';
import { encodeManifestValue, type SwiftClient } from './swift-client.js';
import { isStatus, type Location, type SwiftContainers } from './swift-containers.js';
import type { SwiftRemoteSettings } from './swift-options.js';
import { hasListedMetadata } from './swift-listed-metadata.js';

const SEGMENTS_SUFFIX = '_segments';

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
export class ByteReader {
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

export async function* concatSources(first: Uint8Array, rest: ByteSource): AsyncGenerator<Uint8Array> {
  if (first.byteLength) yield first;
  yield* rest;
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

/** The segmented uploads, copies and segment cleanup of one remote. */
export class SwiftLargeObjects {
  constructor(
    private readonly client: SwiftClient,
    private readonly settings: SwiftRemoteSettings,
    private readonly displayName: string,
    private readonly containers: SwiftContainers,
  ) {}

  /** Segments then the manifest, as rclone writes them. Returns the bytes written and the segment prefix. */
  async putSegmented(
    container: string,
    object: string,
    reader: ByteReader,
    size: number | undefined,
    headers: Record<string, string>,
    /** The manifest's headers, asked for once every segment is read (metadata known only then). */
    manifestHeaders: () => Promise<Record<string, string>> = async () => headers,
    /** Ends buffered segment PUTs in flight at once (the source ends with it too). */
    signal?: AbortSignal,
  ): Promise<{ written: number; prefix: string }> {
    const s = this.settings;
    const segContainer = container + SEGMENTS_SUFFIX;
    await this.containers.ensure(segContainer);
    const prefix = `${object}/${uploadTimestamp()}/${size ?? -1}`;
    const uploaded: string[] = [];
    const target = `${container}/${object}`;
    let written = 0;
    try {
      if (s.chunkSize <= s.replayBufferBytes) {
        written = await this.putSegmentsBuffered(segContainer, prefix, reader, size, headers, uploaded, target, signal);
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
        headers: { ...(await manifestHeaders()), 'X-Object-Manifest': encodeManifestValue(`${segContainer}/${prefix}`) },
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
    signal: AbortSignal | undefined,
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
        const sending: Promise<void> = this.containers.putBuffered(segContainer, name, buffer.subarray(0, filled), headers, hash.digest('hex'), signal)
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

  /** Deletes the segments a manifest points to (except those under `keepPrefix`), then their container if empty. */
  async removeSegments(manifest: string, keepPrefix?: string): Promise<void> {
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
      this.containers.forget(parsed.container);
    }
  }

  /** A large object's copy gets its own segments (copied server-side), so either can be deleted alone. */
  async copySegments(manifest: string, to: Location, headers: Headers): Promise<string> {
    const parsed = parseManifest(manifest);
    if (!parsed) throw new RemoteIOError(`swift: malformed X-Object-Manifest ${JSON.stringify(manifest)}`);
    const segContainer = to.container + SEGMENTS_SUFFIX;
    await this.containers.ensure(segContainer);
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
      // As a COPY would: the type (and the metadata it mirrors, swift-listed-metadata.ts) comes along.
      const type = headers.get('content-type');
      if (type && hasListedMetadata(type)) meta['Content-Type'] = type;
      await this.client.putObject(to.container, to.object, new Uint8Array(0), { headers: meta });
      return newManifest;
    } catch (err) {
      for (const name of copied) await this.client.deleteObject(segContainer, name).catch(() => undefined);
      throw err;
    }
  }

  /** After overwriting a large object, its old segments go (unless the new object uses them). */
  async cleanupReplaced(replaced: Headers | undefined, newManifest: string | undefined): Promise<void> {
    const old = replaced?.get('x-object-manifest');
    if (!old) return;
    const a = parseManifest(old);
    const b = newManifest ? parseManifest(newManifest) : undefined;
    if (a && b && a.container === b.container && a.prefix === b.prefix) return;
    await this.removeSegments(old);
  }
}
