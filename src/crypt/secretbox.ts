// One sealed chunk: NaCl secretbox (XSalsa20-Poly1305) in libsodium, tag ‖ ciphertext.
// The one place these two calls live: the content cipher (rclone's file format), the VFS
// cache's block files and its journal all seal with them, each with its own key and nonces.
import { sodiumBinding } from './sodium.js';

/** Bytes a sealed chunk adds to its plaintext: the Poly1305 tag. */
export const SECRETBOX_TAG_SIZE = 16;

/** The two libsodium calls we use. sodium-native is CommonJS without type declarations. */
interface SecretboxBinding {
  crypto_secretbox_easy(c: Uint8Array, m: Uint8Array, n: Uint8Array, k: Uint8Array): void;
  crypto_secretbox_open_easy(m: Uint8Array, c: Uint8Array, n: Uint8Array, k: Uint8Array): boolean;
}
const sodium = sodiumBinding as SecretboxBinding;

/** Seals one chunk: `out` (plain.length + 16 bytes) receives tag ‖ ciphertext. `out` may start 16 bytes before `plain` (in place). */
export function sealChunk(out: Uint8Array, plain: Uint8Array, nonce: Uint8Array, key: Uint8Array): void {
  sodium.crypto_secretbox_easy(out, plain, nonce, key);
}

/**
 * Opens one chunk (tag ‖ ciphertext) into `out` (cipher.length − 16 bytes). Returns false,
 * leaving `out` untouched, when authentication fails. `out` may overlap `cipher`:
 * libsodium verifies the tag before it writes.
 */
export function openChunk(out: Uint8Array, cipher: Uint8Array, nonce: Uint8Array, key: Uint8Array): boolean {
  return sodium.crypto_secretbox_open_easy(out, cipher, nonce, key);
}
