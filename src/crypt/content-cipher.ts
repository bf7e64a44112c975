// rclone crypt file contents (docs/crypt-format.md §3): a 32-byte header "RCLONE\0\0" ‖ N0, then
// the plaintext cut into 64 KiB chunks, each NaCl secretbox-sealed (tag ‖ ciphertext)
// with nonce N0 + chunk index. Sealing and opening run in libsodium (sodium-native),
// (secretbox.ts), writing straight into the buffers that are handed out; no whole-file buffering.
import { AuthenticationError, BadMagicError, FileTooShortError, TruncatedBlockError } from '../errors.js';
import { NONCE_SIZE, addToNonce, incrementNonce, randomNonce } from './nonce.js';
import { secureCopy, wipe } from './secure-memory.js';
import { openChunk, SECRETBOX_TAG_SIZE, sealChunk } from './secretbox.js';
import { resumeIterator } from '../resume-iterator.js';
import { SharedBuffers } from '../shared-buffers.js';

export const HEADER_SIZE = 32;
export const BLOCK_DATA_SIZE = 65536;
export const BLOCK_OVERHEAD = SECRETBOX_TAG_SIZE;
export const BLOCK_SIZE = BLOCK_DATA_SIZE + BLOCK_OVERHEAD; // 65552
export const MAGIC = Buffer.from('RCLONE\0\0', 'latin1');
const MAGIC_SIZE = 8;
const KEY_SIZE = 32;

/**
 * Most chunks sealed/opened into one output buffer: amortises per-yield cost when
 * the source hands over big pieces, while keeping memory bounded (~1 MiB).
 */
export const MAX_CHUNKS_PER_OUTPUT = 16;
const MAX_OUTPUT_SIZE = HEADER_SIZE + MAX_CHUNKS_PER_OUTPUT * BLOCK_SIZE;

function checkByteCount(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative integer, got ${value}`);
}

/** N0 for a file being encrypted: a copy of `nonce` when given (deterministic output), else fresh random bytes. */
export function newFileNonce(nonce?: Uint8Array): Buffer {
  const n0 = nonce === undefined ? randomNonce() : Buffer.from(nonce);
  if (n0.length !== NONCE_SIZE) throw new RangeError(`nonce must be ${NONCE_SIZE} bytes, got ${n0.length}`);
  return n0;
}

async function* emptyGenerator(): AsyncGenerator<Buffer> {}

// Staging buffers of encryptions that ended, wiped, for the next ones: a copy of many small files
// otherwise allocates (and the GC reclaims) 64 KiB per file.
const spareStaging: Buffer[] = [];
const MAX_SPARE_STAGING = 16;

function takeStaging(): Buffer {
  return spareStaging.pop() ?? Buffer.allocUnsafeSlow(BLOCK_DATA_SIZE);
}

/** Wipes the first `used` bytes (they held plaintext) and keeps the buffer for reuse. */
function giveStaging(staging: Buffer, used: number): void {
  staging.fill(0, 0, used);
  if (spareStaging.length < MAX_SPARE_STAGING) spareStaging.push(staging);
}

/** Reads exactly `size` bytes from the front of a stream; returns what is left of the last piece. */
async function readFront(
  iterator: AsyncIterator<Uint8Array>,
  size: number,
): Promise<{ head: Buffer; filled: number; rest?: Uint8Array }> {
  const head = Buffer.alloc(size);
  let filled = 0;
  while (filled < size) {
    const step = await iterator.next();
    if (step.done) return { head, filled };
    const piece = step.value;
    const take = Math.min(size - filled, piece.length);
    head.set(piece.subarray(0, take), filled);
    filled += take;
    if (take < piece.length) return { head, filled, rest: piece.subarray(take) };
  }
  return { head, filled };
}

export interface RangePlan {
  /** Ciphertext offset of the first chunk needed. */
  underlyingOffset: number;
  /** Ciphertext bytes to read from there (whole chunks, may run past EOF); undefined = to the end. */
  underlyingLength?: number;
  /** Plaintext bytes to drop from the front of the first decrypted chunk. */
  discard: number;
  /** Index of the first chunk needed (added to N0). */
  blocks: number;
}

export class ContentCipher {
  protected readonly dataKey: Buffer;

  constructor(dataKey: Buffer) {
    if (dataKey.length !== KEY_SIZE) throw new RangeError(`data key must be ${KEY_SIZE} bytes, got ${dataKey.length}`);
    this.dataKey = secureCopy(dataKey);
  }

  /** Zeroes the key (the remote closed); the cipher is unusable afterwards. */
  wipe(): void {
    wipe(this.dataKey);
  }

  /** Ciphertext size for `plainSize` plaintext bytes. */
  static encryptedSize(plainSize: number): number {
    checkByteCount(plainSize, 'plain size');
    const full = Math.floor(plainSize / BLOCK_DATA_SIZE);
    const rest = plainSize % BLOCK_DATA_SIZE;
    return HEADER_SIZE + full * BLOCK_SIZE + (rest > 0 ? rest + BLOCK_OVERHEAD : 0);
  }

  /** Plaintext size of an object of `encryptedSize` bytes; throws for sizes no valid file can have. */
  static decryptedSize(encryptedSize: number): number {
    checkByteCount(encryptedSize, 'encrypted size');
    if (encryptedSize < HEADER_SIZE) throw new FileTooShortError();
    const body = encryptedSize - HEADER_SIZE;
    const full = Math.floor(body / BLOCK_SIZE);
    const rest = body % BLOCK_SIZE;
    if (rest === 0) return full * BLOCK_DATA_SIZE;
    if (rest <= BLOCK_OVERHEAD) throw new TruncatedBlockError();
    return full * BLOCK_DATA_SIZE + rest - BLOCK_OVERHEAD;
  }

  /** N0 from a file header (a copy); checks the size and the magic. */
  static readNonce(header: Uint8Array): Buffer {
    if (header.length < HEADER_SIZE) throw new FileTooShortError();
    if (Buffer.compare(header.subarray(0, MAGIC_SIZE), MAGIC) !== 0) throw new BadMagicError();
    return Buffer.from(header.subarray(MAGIC_SIZE, HEADER_SIZE));
  }

  /** Which ciphertext to fetch for plaintext bytes [offset, offset + length) (docs/crypt-format.md §3.5). */
  static rangePlan(offset: number, length?: number): RangePlan {
    checkByteCount(offset, 'offset');
    if (length !== undefined) checkByteCount(length, 'length');
    const blocks = Math.floor(offset / BLOCK_DATA_SIZE);
    const discard = offset % BLOCK_DATA_SIZE;
    const underlyingOffset = HEADER_SIZE + blocks * BLOCK_SIZE;
    if (length === undefined) return { underlyingOffset, discard, blocks };
    const extra = length - (BLOCK_DATA_SIZE - discard);
    const chunks = 1 + (extra > 0 ? Math.ceil(extra / BLOCK_DATA_SIZE) : 0);
    return { underlyingOffset, underlyingLength: chunks * BLOCK_SIZE, discard, blocks };
  }

  /**
   * Header, then the sealed chunks. Each 64 KiB chunk is filled completely from the
   * source before it is sealed, so the output depends only on the bytes, not on how
   * they were split. `nonce` (copied, not modified) makes the output deterministic —
   * only for re-encryption checks (cryptcheck); real writes must use the default fresh nonce.
   * Yielded buffers are new each time, unless `reuse` is on: then one buffer is refilled, each
   * time the consumer asks for more. Each source piece is done with when the next is asked for.
   */
  async *encrypt(source: AsyncIterable<Uint8Array>, nonce?: Uint8Array, reuse?: PieceReuseSignal): AsyncGenerator<Buffer> {
    const chunkNonce = newFileNonce(nonce);
    const key = this.dataKey;
    let headerPending = true;
    const writeHeader = (out: Buffer): number => {
      MAGIC.copy(out, 0);
      chunkNonce.copy(out, MAGIC_SIZE);
      headerPending = false;
      return HEADER_SIZE;
    };
    // Holds a partial chunk between source pieces; whole chunks inside a piece are sealed from the piece itself.
    const staging = takeStaging();
    let staged = 0;
    let stagedMost = 0; // how much of it held plaintext, to wipe
    const outputs = new OutputBuffers(MAX_OUTPUT_SIZE, reuse, true);
    try {
      for await (const piece of source) {
        let pos = 0;
        while (pos < piece.length) {
          const complete = Math.floor((staged + piece.length - pos) / BLOCK_DATA_SIZE);
          if (complete === 0) {
            staging.set(piece.subarray(pos), staged);
            staged += piece.length - pos;
            stagedMost = Math.max(stagedMost, staged);
            break;
          }
          const count = Math.min(complete, MAX_CHUNKS_PER_OUTPUT);
          const out = outputs.take((headerPending ? HEADER_SIZE : 0) + count * BLOCK_SIZE);
          let at = headerPending ? writeHeader(out) : 0;
          for (let i = 0; i < count; i++) {
            let plain: Uint8Array;
            if (staged > 0) {
              const take = BLOCK_DATA_SIZE - staged;
              staging.set(piece.subarray(pos, pos + take), staged);
              pos += take;
              staged = 0;
              stagedMost = BLOCK_DATA_SIZE;
              plain = staging;
            } else {
              plain = piece.subarray(pos, pos + BLOCK_DATA_SIZE);
              pos += BLOCK_DATA_SIZE;
            }
            sealChunk(out.subarray(at, at + BLOCK_SIZE), plain, chunkNonce, key);
            incrementNonce(chunkNonce);
            at += BLOCK_SIZE;
          }
          yield out;
        }
      }

      if (staged > 0 || headerPending) {
        // Last short chunk (never an empty one: an empty file is the header alone).
        const out = outputs.take((headerPending ? HEADER_SIZE : 0) + (staged > 0 ? staged + BLOCK_OVERHEAD : 0));
        const at = headerPending ? writeHeader(out) : 0;
        if (staged > 0) sealChunk(out.subarray(at), staging.subarray(0, staged), chunkNonce, key);
        yield out;
      }
      // Here only when the consumer asked past the last piece (not when it stopped early).
      outputs.ended();
    } finally {
      giveStaging(staging, stagedMost);
    }
  }

  /**
   * Header, then chunks; yields plaintext. Errors: FileTooShortError, BadMagicError,
   * TruncatedBlockError (a trailing 1..16-byte chunk), AuthenticationError(chunkIndex).
   * Bytes of a chunk that failed authentication are never yielded; chunks before it are.
   * A file cut exactly at a chunk boundary is not detectable here (docs/crypt-format.md §3.3 point 4).
   */
  async *decrypt(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
    yield* this.openStream(source, undefined, 0);
  }

  /**
   * Random access: plaintext bytes [offset, offset + length) (to the end when length is
   * undefined; fewer at EOF). `open` fetches a ciphertext byte range of the object. Reads
   * the header first for N0 (before resolving, so a damaged header or a missing object
   * rejects here), then only the whole chunks covering the range. `encryptedSize`, if
   * known, turns ranges that reach the end into open-ended reads and skips reads past EOF.
   * `onHeader` gets N0 (a copy) before any plaintext is handed out; when it rejects, so does this
   * (the sealed-record check of crypt-verify.ts runs there). Yielded buffers are new each time,
   * unless `reuse` is on: then one buffer is refilled once the consumer asks for the next piece.
   */
  async decryptRange(
    open: (range: { offset: number; length?: number }) => Promise<AsyncIterable<Uint8Array>>,
    offset: number,
    length?: number,
    encryptedSize?: number,
    onHeader?: (nonce: Buffer) => Promise<void>,
    reuse?: { readonly allowed: boolean },
  ): Promise<AsyncGenerator<Buffer>> {
    const plan = ContentCipher.rangePlan(offset, length);
    if (encryptedSize !== undefined) checkByteCount(encryptedSize, 'encrypted size');
    if (length === 0) return emptyGenerator();
    const clampLength = (start: number, len: number | undefined): number | undefined =>
      len !== undefined && encryptedSize !== undefined && start + len >= encryptedSize ? undefined : len;

    let iterator: AsyncIterator<Uint8Array>;
    let nonce: Buffer;
    let rest: Uint8Array | undefined;
    if (offset === 0) {
      // One read covering header and data, as rclone does.
      const total = plan.underlyingLength === undefined ? undefined : HEADER_SIZE + plan.underlyingLength;
      iterator = (await open({ offset: 0, length: clampLength(0, total) }))[Symbol.asyncIterator]();
      try {
        const front = await readFront(iterator, HEADER_SIZE);
        nonce = ContentCipher.readNonce(front.head.subarray(0, front.filled));
        rest = front.rest;
        await onHeader?.(Buffer.from(nonce));
      } catch (err) {
        await iterator.return?.();
        throw err;
      }
    } else {
      const headerIterator = (await open({ offset: 0, length: clampLength(0, HEADER_SIZE) }))[Symbol.asyncIterator]();
      try {
        const front = await readFront(headerIterator, HEADER_SIZE);
        nonce = ContentCipher.readNonce(front.head.subarray(0, front.filled));
      } finally {
        await headerIterator.return?.();
      }
      await onHeader?.(Buffer.from(nonce));
      if (encryptedSize !== undefined && plan.underlyingOffset >= encryptedSize) return emptyGenerator();
      addToNonce(nonce, plan.blocks);
      iterator = (
        await open({ offset: plan.underlyingOffset, length: clampLength(plan.underlyingOffset, plan.underlyingLength) })
      )[Symbol.asyncIterator]();
    }
    const plaintext = this.openStream(resumeIterator([rest], iterator), nonce, plan.blocks, reuse);
    return sliceStream(plaintext, plan.discard, length);
  }

  /**
   * Opens chunks from `source`. With `nonce` undefined the source starts with the
   * header; otherwise it starts at chunk `firstChunk`, sealed with `nonce`. With `reuse` on, the
   * output buffer is refilled (a fresh one per piece, for a big download, was a page-faulted MiB
   * per MiB decrypted), and wiped at the end.
   */
  protected async *openStream(
    source: AsyncIterable<Uint8Array>,
    nonce: Buffer | undefined,
    firstChunk: number,
    reuse?: { readonly allowed: boolean },
  ): AsyncGenerator<Buffer> {
    const key = this.dataKey;
    let chunkNonce: Buffer | undefined = nonce === undefined ? undefined : Buffer.from(nonce);
    const header = Buffer.alloc(HEADER_SIZE);
    let headerFilled = 0;
    // Holds a partial chunk between source pieces; whole chunks inside a piece are opened from the piece itself.
    const staging = Buffer.allocUnsafe(BLOCK_SIZE);
    let staged = 0;
    let chunkIndex = firstChunk;
    const outputs = new OutputBuffers(MAX_CHUNKS_PER_OUTPUT * BLOCK_DATA_SIZE, reuse);
    try {
      for await (const piece of source) {
        let pos = 0;
        if (chunkNonce === undefined) {
          const take = Math.min(HEADER_SIZE - headerFilled, piece.length);
          header.set(piece.subarray(0, take), headerFilled);
          headerFilled += take;
          pos = take;
          if (headerFilled < HEADER_SIZE) continue;
          chunkNonce = ContentCipher.readNonce(header);
        }
        const nonceNow: Buffer = chunkNonce;
        while (pos < piece.length) {
          const complete = Math.floor((staged + piece.length - pos) / BLOCK_SIZE);
          if (complete === 0) {
            staging.set(piece.subarray(pos), staged);
            staged += piece.length - pos;
            break;
          }
          const count = Math.min(complete, MAX_CHUNKS_PER_OUTPUT);
          const out = outputs.take(count * BLOCK_DATA_SIZE);
          for (let i = 0; i < count; i++) {
            let cipher: Uint8Array;
            if (staged > 0) {
              const take = BLOCK_SIZE - staged;
              staging.set(piece.subarray(pos, pos + take), staged);
              pos += take;
              staged = 0;
              cipher = staging;
            } else {
              cipher = piece.subarray(pos, pos + BLOCK_SIZE);
              pos += BLOCK_SIZE;
            }
            const at = i * BLOCK_DATA_SIZE;
            if (!openChunk(out.subarray(at, at + BLOCK_DATA_SIZE), cipher, nonceNow, key)) {
              if (at > 0) yield out.subarray(0, at);
              throw new AuthenticationError(chunkIndex);
            }
            incrementNonce(nonceNow);
            chunkIndex++;
          }
          yield out;
        }
      }

      if (chunkNonce === undefined) throw new FileTooShortError();
      if (staged === 0) return;
      if (staged <= BLOCK_OVERHEAD) throw new TruncatedBlockError();
      const out = outputs.take(staged - BLOCK_OVERHEAD);
      if (!openChunk(out, staging.subarray(0, staged), chunkNonce, key)) throw new AuthenticationError(chunkIndex);
      yield out;
    } finally {
      // It held plaintext; the consumer is done with it (it asked for more, or stopped).
      outputs.wipe();
    }
  }
}

/** What the content cipher needs of a PieceReuse (remote.ts): whether it is on, and whenDone. */
export interface PieceReuseSignal {
  readonly allowed: boolean;
  whenDone?(give: () => void): void;
}

// Small outputs (a small file's whole ciphertext: the header and one chunk) come from buffers shared
// by every encryption of the process, each back once its consumer is done with it (see SharedBuffers).
const smallOutputs = new SharedBuffers(HEADER_SIZE + BLOCK_SIZE);

/**
 * Buffers for a generator's pieces: a new one each time, or, once `reuse` is on, one buffer of
 * `capacity` refilled for each piece (the one yielded last is free again once the generator runs
 * on). With `shareSmall`, a small first piece is a shared buffer instead, back once the consumer is
 * done with it (ended()).
 */
class OutputBuffers {
  private spare?: Buffer;
  /** The shared buffer lent for the first piece, if it was small. */
  private lent?: Buffer;

  private first = true;

  constructor(
    private readonly capacity: number,
    private readonly reuse?: PieceReuseSignal,
    private readonly shareSmall = false,
  ) {}

  take(size: number): Buffer {
    // The first piece, when small (often a small file's whole output), from the shared buffers:
    // one at most per generator, back at its end (ended()).
    if (this.shareSmall && this.first && this.reuse?.whenDone && size <= smallOutputs.capacity) {
      this.first = false;
      this.lent = smallOutputs.take(size);
      return this.lent.subarray(0, size);
    }
    this.first = false;
    if (!this.reuse?.allowed) return Buffer.allocUnsafe(size);
    if (!this.spare || this.spare.length < size) {
      // A first piece smaller than the capacity is often the whole (small) file: a buffer of its
      // size, not of the capacity (1 MiB per small file made the mount's uploads mostly GC).
      // One that outgrows it is replaced by one of the full capacity.
      const grown = this.spare !== undefined;
      this.wipe();
      this.spare = Buffer.allocUnsafeSlow(grown ? Math.max(size, this.capacity) : size);
    }
    return this.spare.subarray(0, size);
  }

  /** Zeroes the refilled buffer (for plaintext). */
  wipe(): void {
    if (this.spare) wipe(this.spare);
  }

  /**
   * The generator ended normally (its consumer asked past the last piece): the shared buffer lent
   * for its first piece goes back once the consumer allows reuse, which then also means it is done
   * with it (PieceReuse.whenDone). It holds ciphertext: nothing to wipe.
   */
  ended(): void {
    const lent = this.lent;
    if (!lent || !this.reuse?.whenDone) return;
    this.lent = undefined;
    this.reuse.whenDone(() => smallOutputs.give(lent));
  }
}

/** Drops `skip` bytes, then passes on at most `length` bytes (all when undefined), then stops reading. */
async function* sliceStream(source: AsyncIterable<Buffer>, skip: number, length?: number): AsyncGenerator<Buffer> {
  let toSkip = skip;
  let remaining = length ?? Infinity;
  if (remaining <= 0) return;
  for await (const piece of source) {
    let part: Buffer = piece;
    if (toSkip > 0) {
      if (part.length <= toSkip) {
        toSkip -= part.length;
        continue;
      }
      part = part.subarray(toSkip);
      toSkip = 0;
    }
    if (part.length >= remaining) {
      yield part.subarray(0, remaining);
      return;
    }
    remaining -= part.length;
    yield part;
  }
}
