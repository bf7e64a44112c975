// The sealed record: what rclone's crypt format cannot prove about a file, kept beside it in the
// object's user metadata (S3 x-amz-meta-*, Swift X-Object-Meta-*, local user.* xattrs), where rclone
// keeps metadata it does not understand and therefore ignores it.
//
// rclone's format authenticates each 64 KiB chunk on its own, so a file's whole ciphertext can be
// moved under another name, cut at a chunk boundary, or rolled back, and still decrypt. The record
// binds the file's header nonce, plaintext size and encrypted path together under a key derived
// from (never equal to) the crypt keys, and carries plaintext hashes so a crypt remote can answer
// checksums without downloading anything.
//
// Layout (docs/crypt-format.md, "Sealed record"):
//   text   = base64url(box nonce[24] ‖ secretbox(body, box nonce, seal key)), no padding
//   body   = version[1]=1 ‖ header nonce[24] ‖ size[8, big-endian] ‖ sha256[32] ‖ md5[16] ‖ sha1[20] ‖ path (UTF-8)
//   key    = HKDF-SHA256(ikm = data key ‖ name key ‖ name tweak, salt = "cryptfs", info = "cryptfs sealed record key v1")
// Swift limits one metadata value to 256 bytes, so the text is stored in pieces of at most
// SEAL_PIECE_CHARS characters under cryptfs-seal, cryptfs-seal-2, cryptfs-seal-3, ...
import { sodiumBinding } from './sodium.js';
import { hkdfSync } from 'node:crypto';
import { CryptFormatError } from '../errors.js';
import type { CryptKeys } from './keys.js';
import { NONCE_SIZE, randomNonce } from './nonce.js';
import { secureCopy, wipe } from './secure-memory.js';

interface SecretboxBinding {
  crypto_secretbox_easy(c: Uint8Array, m: Uint8Array, n: Uint8Array, k: Uint8Array): void;
  crypto_secretbox_open_easy(m: Uint8Array, c: Uint8Array, n: Uint8Array, k: Uint8Array): boolean;
}
// sodium-native is CommonJS without type declarations.
const sodium = sodiumBinding as SecretboxBinding;

/** Metadata key of the record's first piece (lower case, as our Metadata keys are). */
export const SEAL_METADATA_KEY = 'cryptfs-seal';
/** Longest piece of record text in one metadata value (Swift's default limit is 256 bytes per value). */
export const SEAL_PIECE_CHARS = 240;
/** Most pieces read back: bounds what a hostile object's metadata can make us allocate. */
const MAX_PIECES = 16;

export const SEAL_VERSION = 1;
const TAG_SIZE = 16;
const SIZE_SIZE = 8;
const SHA256_SIZE = 32;
const MD5_SIZE = 16;
const SHA1_SIZE = 20;
const FIXED_BODY_SIZE = 1 + NONCE_SIZE + SIZE_SIZE + SHA256_SIZE + MD5_SIZE + SHA1_SIZE;

/** What a record states about one object. Hashes are lower-case hex. */
export interface SealRecord {
  /** The file header's nonce (bytes 8..32 of the object). */
  headerNonce: Buffer;
  /** Plaintext size in bytes. */
  size: number;
  sha256: string;
  md5: string;
  sha1: string;
  /** The object's encrypted path, relative to the crypt remote's root, at the time it was sealed. */
  encryptedPath: string;
}

/** A record that is present but cannot be read: tampered, foreign key, or an unknown version. */
export class SealRecordError extends CryptFormatError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`sealed record is not valid: ${detail}`, options);
  }
}

const HKDF_SALT = Buffer.from('cryptfs', 'utf8');
const HKDF_INFO = Buffer.from('cryptfs sealed record key v1', 'utf8');

/** The key that seals and opens records; its own key, domain-separated from the content and name keys. */
export class SealKey {
  private constructor(private readonly key: Buffer) {}

  /** Derives the record key from the crypt keys (before they are wiped). */
  static derive(keys: CryptKeys): SealKey {
    const ikm = Buffer.concat([keys.dataKey, keys.nameKey, keys.nameTweak]);
    const derived = Buffer.from(hkdfSync('sha256', ikm, HKDF_SALT, HKDF_INFO, 32));
    const key = secureCopy(derived);
    wipe(ikm, derived);
    return new SealKey(key);
  }

  /** Record text for `record` (a fresh random box nonce each time). */
  seal(record: SealRecord): string {
    const body = encodeBody(record);
    const nonce = randomNonce();
    const out = Buffer.alloc(NONCE_SIZE + TAG_SIZE + body.length);
    nonce.copy(out, 0);
    sodium.crypto_secretbox_easy(out.subarray(NONCE_SIZE), body, nonce, this.key);
    return out.toString('base64url');
  }

  /** The record in `text`; throws SealRecordError when it does not authenticate or parse. */
  open(text: string): SealRecord {
    if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new SealRecordError('not base64url text');
    const boxed = Buffer.from(text, 'base64url');
    if (boxed.length < NONCE_SIZE + TAG_SIZE + FIXED_BODY_SIZE) throw new SealRecordError('too short');
    const body = Buffer.alloc(boxed.length - NONCE_SIZE - TAG_SIZE);
    if (!sodium.crypto_secretbox_open_easy(body, boxed.subarray(NONCE_SIZE), boxed.subarray(0, NONCE_SIZE), this.key)) {
      throw new SealRecordError('it does not authenticate (altered, or sealed under another password)');
    }
    return decodeBody(body);
  }

  wipe(): void {
    wipe(this.key);
  }
}

// Compiled once per length: a record is sealed for every file written.
const hexPatterns = new Map<number, RegExp>();

function hexBytes(hex: string, size: number, what: string): Buffer {
  let pattern = hexPatterns.get(size);
  if (!pattern) hexPatterns.set(size, (pattern = new RegExp(`^[0-9a-f]{${size * 2}}$`)));
  if (!pattern.test(hex)) throw new RangeError(`${what} must be ${size * 2} lower-case hex digits`);
  return Buffer.from(hex, 'hex');
}

function encodeBody(r: SealRecord): Buffer {
  if (r.headerNonce.length !== NONCE_SIZE) throw new RangeError(`header nonce must be ${NONCE_SIZE} bytes`);
  if (!Number.isSafeInteger(r.size) || r.size < 0) throw new RangeError(`size must be a non-negative integer, got ${r.size}`);
  const path = Buffer.from(r.encryptedPath, 'utf8');
  const body = Buffer.alloc(FIXED_BODY_SIZE + path.length);
  let at = 0;
  body[at++] = SEAL_VERSION;
  at += r.headerNonce.copy(body, at);
  body.writeBigUInt64BE(BigInt(r.size), at);
  at += SIZE_SIZE;
  at += hexBytes(r.sha256, SHA256_SIZE, 'sha256').copy(body, at);
  at += hexBytes(r.md5, MD5_SIZE, 'md5').copy(body, at);
  at += hexBytes(r.sha1, SHA1_SIZE, 'sha1').copy(body, at);
  path.copy(body, at);
  return body;
}

function decodeBody(body: Buffer): SealRecord {
  if (body[0] !== SEAL_VERSION) throw new SealRecordError(`unknown record version ${body[0]} (this cryptfs reads version ${SEAL_VERSION})`);
  let at = 1;
  const take = (n: number): Buffer => {
    const b = body.subarray(at, at + n);
    at += n;
    return b;
  };
  const headerNonce = Buffer.from(take(NONCE_SIZE));
  const size = body.readBigUInt64BE(at);
  at += SIZE_SIZE;
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new SealRecordError('size out of range');
  const sha256 = take(SHA256_SIZE).toString('hex');
  const md5 = take(MD5_SIZE).toString('hex');
  const sha1 = take(SHA1_SIZE).toString('hex');
  const pathBytes = body.subarray(at);
  const encryptedPath = new TextDecoder('utf-8', { fatal: true }).decode(pathBytes);
  return { headerNonce, size: Number(size), sha256, md5, sha1, encryptedPath };
}

/** Metadata key of piece `index` (0-based): cryptfs-seal, cryptfs-seal-2, ... */
export function sealPieceKey(index: number): string {
  return index === 0 ? SEAL_METADATA_KEY : `${SEAL_METADATA_KEY}-${index + 1}`;
}

/** The metadata entries that store record `text`. */
export function sealToMetadata(text: string): Record<string, string> {
  const md: Record<string, string> = {};
  for (let i = 0, piece = 0; i < text.length; i += SEAL_PIECE_CHARS, piece++) {
    md[sealPieceKey(piece)] = text.slice(i, i + SEAL_PIECE_CHARS);
  }
  return md;
}

/** Metadata entries that remove every piece a record may have (a value of '' removes a key). */
export function sealRemovalMetadata(): Record<string, string> {
  return { ...SEAL_REMOVAL };
}

// Made once: every record written is preceded by these removals.
const SEAL_REMOVAL: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(Array.from({ length: MAX_PIECES }, (_, i) => [sealPieceKey(i), ''])),
);

/** The record text stored in `metadata`, or undefined when the object carries none. */
export function sealFromMetadata(metadata: Record<string, string> | undefined): string | undefined {
  const first = metadata?.[SEAL_METADATA_KEY];
  if (first === undefined || first === '') return undefined;
  let text = first;
  for (let i = 1; i < MAX_PIECES; i++) {
    const piece = metadata![sealPieceKey(i)];
    if (piece === undefined || piece === '') break;
    text += piece;
  }
  return text;
}

/** Whether a metadata key belongs to the record (so listings can hide it from users' metadata). */
export function isSealMetadataKey(key: string): boolean {
  return key === SEAL_METADATA_KEY || /^cryptfs-seal-[0-9]+$/.test(key);
}
