// Keys in libsodium's secure memory: sodium_malloc gives pages that are
// mlocked (never swapped out), fenced by guard pages and a canary, and we zero
// them when the remote closes. Process hardening (no core dumps) is done at
// start by the CLI. What cannot live here: the AES key schedule of the name
// cipher (inside OpenSSL's cipher context) and scrypt's output before it is
// copied in (zeroed at once).
import { sodiumBinding } from './sodium.js';

interface SecureMemoryBinding {
  sodium_malloc(size: number): Buffer;
  sodium_memzero(buf: Uint8Array): void;
}
const sodium = sodiumBinding as SecureMemoryBinding;

/** A copy of `bytes` in secure memory. */
export function secureCopy(bytes: Uint8Array): Buffer {
  const out = sodium.sodium_malloc(bytes.length);
  out.set(bytes);
  return out;
}

/** Zeroes secrets (a zeroing the compiler cannot drop). */
export function wipe(...buffers: Array<Uint8Array | undefined>): void {
  for (const b of buffers) if (b && b.length > 0) sodium.sodium_memzero(b);
}
