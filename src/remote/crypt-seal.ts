// Sealing on write: the crypt remote's side of the sealed record (src/crypt/seal.ts). The plaintext
// is hashed (SHA-256, MD5, SHA-1) and counted as it flows into the encryptor, in the same pass, and
// the record goes into the object's metadata:
//   - with the object itself where the record is known before the upload (a first pass over a
//     reopenable source, which crypt already makes for S3 multipart uploads);
//   - otherwise through WriteOptions.lateMetadata, which a driver asks for once it has read the
//     whole source: local sets it as xattrs on the temp file before the rename; Swift and S3 put it
//     on a buffered PUT or a Swift manifest; an S3 streamed/multipart upload, a Swift streamed PUT
//     get it right after (copy-in-place with REPLACE, POST).
// A new PUT replaces all of an object's metadata, so an overwritten object never keeps a stale
// record: it is either sealed with its own record or briefly unsealed.
import { createHash, type Hash } from 'node:crypto';
import { OffThreadHasher } from './hash-worker.js';
import { log } from '../log.js';
import { CryptfsError } from '../errors.js';
import { SealKey, sealFromMetadata, sealRemovalMetadata, sealToMetadata, isSealMetadataKey, type SealRecord } from '../crypt/seal.js';
import { NONCE_SIZE } from '../crypt/nonce.js';
import type { ByteSource, HashType, Metadata, Remote, RemoteEntry } from './remote.js';
import { lazyField, withLazyMetadata } from './remote.js';

/** Plaintext size and hashes of one upload, lower-case hex. */
export interface PlaintextDigests {
  size: number;
  sha256: string;
  md5: string;
  sha1: string;
}

/** The record was asked for before the whole plaintext went through: a driver bug, never a wrong record. */
export class SealNotReadyError extends CryptfsError {}

/** Sources known to be smaller than this are hashed on the main thread (a worker round trip costs more). */
const INLINE_HASH_BELOW = 1024 * 1024;
const ALGORITHMS = ['sha256', 'md5', 'sha1'] as const;

/**
 * Counts and hashes the bytes of a source as they pass through (on worker threads unless the source
 * is known to be small: hash-worker.ts). digests() may be called once the source has ended, or
 * once `expectedSize` bytes went through (a driver that stops at the declared size need not pull
 * the source's end).
 */
export class HashingSource {
  private readonly inline?: Hash[];
  private readonly offThread?: OffThreadHasher;
  private seen = 0;
  private ended = false;
  private result?: Promise<PlaintextDigests>;

  constructor(
    private readonly inner: ByteSource,
    private readonly expectedSize?: number,
  ) {
    if (expectedSize !== undefined && expectedSize < INLINE_HASH_BELOW) this.inline = ALGORITHMS.map((a) => createHash(a));
    else this.offThread = new OffThreadHasher([...ALGORITHMS]);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    let finished = false;
    try {
      for await (const chunk of this.inner) {
        if (this.result) throw new SealNotReadyError('plaintext continued after its record was made');
        if (this.inline) for (const h of this.inline) h.update(chunk);
        else await this.offThread!.update(chunk);
        this.seen += chunk.length;
        yield chunk;
      }
      this.ended = true;
      finished = true;
    } finally {
      // A write that failed or stopped early: its hashes will never be asked for.
      if (!finished && !this.complete) this.offThread?.abort();
    }
  }

  /** Whether every byte has gone through. */
  get complete(): boolean {
    return this.ended || (this.expectedSize !== undefined && this.seen === this.expectedSize);
  }

  digests(): Promise<PlaintextDigests> {
    if (this.result) return this.result;
    if (!this.complete) {
      return Promise.reject(new SealNotReadyError(`sealed record asked for after ${this.seen} bytes, before the end of the plaintext`));
    }
    const size = this.seen;
    this.result = this.inline
      ? Promise.resolve(this.inline.map((h) => h.digest('hex'))).then(([sha256, md5, sha1]) => ({ size, sha256, md5, sha1 }))
      : this.offThread!.digests().then((d) => ({ size, sha256: d.sha256, md5: d.md5, sha1: d.sha1 }));
    return this.result;
  }
}

/** Metadata entries that store `text` and clear any piece a longer earlier record left behind. */
export function recordMetadata(text: string): Metadata {
  return { ...sealRemovalMetadata(), ...sealToMetadata(text) };
}

/** The crypt remote's record key and what it does with it. */
export class Sealer {
  constructor(private readonly key: SealKey) {}

  /** Metadata holding the record for an object with header nonce `headerNonce` at `encryptedPath`. */
  metadataFor(headerNonce: Buffer, digests: PlaintextDigests, encryptedPath: string): Metadata {
    const { size, sha256, md5, sha1 } = digests;
    return recordMetadata(this.key.seal({ headerNonce, size, sha256, md5, sha1, encryptedPath }));
  }

  /** The record an object's metadata holds; undefined when unsealed or when it does not open. */
  recordOf(metadata: Metadata | undefined): SealRecord | undefined {
    const text = sealFromMetadata(metadata);
    return text === undefined ? undefined : this.openText(text);
  }

  /** The record in `text`; undefined when it does not open (tampered, another password). */
  openText(text: string): SealRecord | undefined {
    try {
      return this.key.open(text);
    } catch {
      return undefined;
    }
  }

  wipe(): void {
    this.key.wipe();
  }
}

/** The plaintext hash of type `type` a record states. */
export function recordHash(record: SealRecord, type: HashType): string {
  return record[type];
}

/** `metadata` without the record's keys (what a user sees and what `copy -M` carries elsewhere). */
export function withoutSealKeys(metadata: Metadata | undefined): Metadata | undefined {
  if (!metadata) return metadata;
  let out: Metadata | undefined;
  for (const k of Object.keys(metadata)) {
    if (isSealMetadataKey(k)) {
      out ??= { ...metadata };
      delete out[k];
    }
  }
  return out ?? metadata;
}

const lazySealText = lazyField<string | undefined>('sealText');

/**
 * The crypt entry for an underlying one whose metadata is not read yet (a local file's xattrs):
 * `metadata` and `sealText` are read from it when first asked for. A listing that needs neither
 * (lsf, lsl, size, a copy's walk) then makes no xattr calls: 1.1 of the 2.5 s of `lsf -R` of 30,000
 * files went to them. `sealText` is present, undefined, when the object has no record.
 */
export function lazySealedEntry(fields: Omit<RemoteEntry, 'metadata' | 'sealText'>, underlying: RemoteEntry): RemoteEntry {
  const entry = withLazyMetadata(fields, () => withoutSealKeys(underlying.metadata));
  lazySealText.define(entry, () => sealFromMetadata(underlying.metadata));
  return entry;
}

/** The crypt entry for an underlying one: the record's text stays on the entry, out of `metadata`. */
export function sealedEntry(entry: RemoteEntry): Pick<RemoteEntry, 'metadata' | 'sealText'> {
  const sealText = sealFromMetadata(entry.metadata);
  return { metadata: withoutSealKeys(entry.metadata), ...(sealText !== undefined ? { sealText } : {}) };
}

/**
 * The metadata change that re-seals the record of underlying object `from` for `to` (a cryptfs
 * move or copy). Only a record that states `from` itself is carried over: one naming another path
 * (content swapped or moved in by another tool) travels unchanged, so a move by cryptfs never
 * makes misplaced content look right.
 */
export async function resealing(underlying: Remote, sealer: Sealer, from: string, to: string): Promise<{ metadata?: Metadata }> {
  if (from === to) return {};
  const record = sealer.recordOf((await underlying.stat(from)).metadata);
  if (!record || record.encryptedPath !== from) return {};
  return { metadata: sealer.metadataFor(record.headerNonce, record, to) };
}

/**
 * The plaintext hash the record of underlying object `enc` (entry `e`) states, if it describes the
 * object: same plaintext size and, where records may go stale, the same header nonce (one 24-byte read).
 */
export async function recordedHash(
  underlying: Remote,
  sealer: Sealer,
  enc: string,
  e: RemoteEntry,
  plainSize: number,
  type: HashType,
  checkNonce: boolean,
): Promise<string | undefined> {
  const record = sealer.recordOf(e.metadata);
  if (!record || record.size !== plainSize) return undefined;
  if (checkNonce) {
    const header = Buffer.alloc(NONCE_SIZE);
    let at = 0;
    for await (const chunk of await underlying.openRead(enc, { offset: 8, length: NONCE_SIZE })) {
      header.set(chunk.subarray(0, NONCE_SIZE - at), at);
      at += chunk.length;
    }
    if (at !== NONCE_SIZE || !header.equals(record.headerNonce)) return undefined;
  }
  return recordHash(record, type);
}

/**
 * After an upload sealed up front from a first pass: when the bytes sent differ from the first
 * pass (the source changed in between), the record is rewritten to state what was stored.
 */
export async function resealIfChanged(
  underlying: Remote,
  sealer: Sealer,
  w: { path: string; enc: string; nonce: Buffer; firstPass: PlaintextDigests | undefined; sent: PlaintextDigests },
): Promise<void> {
  const a = w.firstPass;
  const b = w.sent;
  if (!a || (a.size === b.size && a.sha256 === b.sha256 && a.md5 === b.md5 && a.sha1 === b.sha1)) return;
  log.notice(`${w.path}: source changed while it was uploaded; its sealed record states the bytes stored`);
  await underlying.setMetadata?.(w.enc, sealer.metadataFor(w.nonce, b, w.enc));
}
