// PKCS#7 padding as rclone's backend/crypt/pkcs7 does it, with its error texts.
import { NameDecryptError } from '../errors.js';

/** rclone's pkcs7 error variables, by Go name, with their messages. */
export const Pkcs7ErrorMessages = {
  ErrorPaddingNotFound: 'bad PKCS#7 padding - not padded',
  ErrorPaddingNotAMultiple: 'bad PKCS#7 padding - not a multiple of blocksize',
  ErrorPaddingTooLong: 'bad PKCS#7 padding - too long',
  ErrorPaddingTooShort: 'bad PKCS#7 padding - too short',
  ErrorPaddingNotAllTheSame: 'bad PKCS#7 padding - not all the same',
} as const;

export type Pkcs7ErrorKind = keyof typeof Pkcs7ErrorMessages;

/** Invalid padding after decrypting a name (a wrong key or a name that was never encrypted). */
export class Pkcs7PaddingError extends NameDecryptError {
  constructor(readonly kind: Pkcs7ErrorKind, options?: { cause?: unknown }) {
    super(Pkcs7ErrorMessages[kind], options);
  }
}

function checkBlockSize(blockSize: number): void {
  // Go panics here; it is a programming error, never data-dependent.
  if (!Number.isInteger(blockSize) || blockSize <= 1 || blockSize >= 256) {
    throw new RangeError(`PKCS#7 block size must be 2..255, got ${blockSize}`);
  }
}

/** Appends k = blockSize − (len mod blockSize) bytes of value k (always 1..blockSize bytes). */
export function pkcs7Pad(blockSize: number, data: Uint8Array): Buffer {
  checkBlockSize(blockSize);
  const k = blockSize - (data.length % blockSize);
  const out = Buffer.alloc(data.length + k, k);
  out.set(data, 0);
  return out;
}

/** Checks and strips PKCS#7 padding; returns a view into `data`. */
export function pkcs7Unpad(blockSize: number, data: Uint8Array): Buffer {
  checkBlockSize(blockSize);
  const n = data.length;
  if (n === 0) throw new Pkcs7PaddingError('ErrorPaddingNotFound');
  if (n % blockSize !== 0) throw new Pkcs7PaddingError('ErrorPaddingNotAMultiple');
  const k = data[n - 1]!;
  if (k > blockSize) throw new Pkcs7PaddingError('ErrorPaddingTooLong');
  if (k === 0) throw new Pkcs7PaddingError('ErrorPaddingTooShort');
  for (let i = n - k; i < n; i++) {
    if (data[i] !== k) throw new Pkcs7PaddingError('ErrorPaddingNotAllTheSame');
  }
  return Buffer.from(data.buffer, data.byteOffset, n - k);
}
