// rclone's "obscure": reversible scrambling of config secrets (not security).
// AES-256-CTR with a fixed public key, random 16-byte IV, base64url without padding.
// The payload is bytes, as in rclone (a Go string): a raw password that happens
// to be base64url reveals to arbitrary bytes, and keys must be derived from those
// same bytes, not from a UTF-8 decoding of them (which turns each invalid byte
// into the 3 bytes of U+FFFD).
import { createCipheriv, randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.js';

const OBSCURE_KEY = Buffer.from('9c935b48730a554d6bfd7c63c886a92bd390198eb8128afbf4de162b8b95f638', 'hex');
const IV_SIZE = 16;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

function aesCtr(iv: Buffer, data: Buffer): Buffer {
  // Node's aes-256-ctr increments the whole 128-bit block big-endian, as Go's cipher.NewCTR does.
  const c = createCipheriv('aes-256-ctr', OBSCURE_KEY, iv);
  return Buffer.concat([c.update(data), c.final()]);
}

/** Obscures a value the way `rclone obscure` does: a string as its UTF-8 bytes, or raw bytes. `iv` is for tests only. */
export function obscure(plain: string | Uint8Array, iv: Buffer = randomBytes(IV_SIZE)): string {
  if (iv.length !== IV_SIZE) throw new RangeError('obscure IV must be 16 bytes');
  const payload = aesCtr(iv, typeof plain === 'string' ? Buffer.from(plain, 'utf8') : Buffer.from(plain));
  return Buffer.concat([iv, payload]).toString('base64url');
}

/** Reveals an obscured value to its bytes, exactly as rclone does; errors carry rclone's wording. */
export function revealBytes(obscured: string): Buffer {
  // Go's decoder ignores CR/LF; everything else outside the URL-safe alphabet is illegal.
  const text = obscured.replace(/[\r\n]/g, '');
  if (!BASE64URL.test(text) || text.length % 4 === 1) {
    const bad = [...text].findIndex((ch) => !/[A-Za-z0-9_-]/.test(ch));
    const at = bad >= 0 ? bad : text.length - 1;
    throw new ConfigError(
      `base64 decode failed when revealing password - is it obscured?: illegal base64 data at input byte ${at}`,
    );
  }
  const raw = Buffer.from(text, 'base64url');
  if (raw.length < IV_SIZE) {
    throw new ConfigError('input too short when revealing password - is it obscured?');
  }
  return aesCtr(raw.subarray(0, IV_SIZE), raw.subarray(IV_SIZE));
}

/**
 * Reveals an obscured value as text, for showing and for tests of readability:
 * bytes that are not UTF-8 come out as U+FFFD. Never derive keys from this; use revealBytes.
 */
export function reveal(obscured: string): string {
  return revealBytes(obscured).toString('utf8');
}

/** True when `value` reveals without error (rclone's test for "already obscured"). */
export function isObscured(value: string): boolean {
  try {
    reveal(value);
    return true;
  } catch {
    return false;
  }
}
