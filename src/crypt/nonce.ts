// The 24-byte XSalsa20 nonce of rclone crypt, treated as one 192-bit
// little-endian integer (byte 0 least significant) that wraps modulo 2^192.
// Chunk i of a file is sealed with N0 + i (docs/crypt-format.md §3.1, pitfall 7).

import { randomFillSync } from 'node:crypto';

export const NONCE_SIZE = 24;

const MAX_ADD = (1n << 64n) - 1n;

function checkNonce(nonce: Uint8Array): void {
  if (nonce.length !== NONCE_SIZE) throw new RangeError(`nonce must be ${NONCE_SIZE} bytes, got ${nonce.length}`);
}

/** Adds 1 at byte `start`, propagating the carry upwards; wraps at the top. */
function carryFrom(nonce: Uint8Array, start: number): void {
  for (let i = start; i < NONCE_SIZE; i++) {
    // (++nonce[i] would evaluate to 256, not the stored 0.)
    const next = (nonce[i] + 1) & 0xff;
    nonce[i] = next;
    if (next !== 0) return;
  }
}

/** Adds 1 in place, carrying through all 24 bytes (all-ff wraps to all-zero). */
export function incrementNonce(nonce: Uint8Array): void {
  checkNonce(nonce);
  carryFrom(nonce, 0);
}

/**
 * Adds a 64-bit unsigned value in place: into the low 8 bytes, then the carry
 * propagates into bytes 8..23 (what rclone does when seeking to a chunk).
 */
export function addToNonce(nonce: Uint8Array, amount: number | bigint): void {
  checkNonce(nonce);
  let x: bigint;
  if (typeof amount === 'number') {
    if (!Number.isSafeInteger(amount) || amount < 0) {
      throw new RangeError(`nonce addend must be a non-negative safe integer, got ${amount}`);
    }
    x = BigInt(amount);
  } else {
    x = amount;
  }
  if (x < 0n || x > MAX_ADD) throw new RangeError(`nonce addend must fit in 64 bits, got ${x}`);
  if (x === 0n) return;
  let carry = 0;
  for (let i = 0; i < 8; i++) {
    const sum = nonce[i] + Number(x & 0xffn) + carry;
    nonce[i] = sum & 0xff;
    carry = sum >> 8;
    x >>= 8n;
  }
  if (carry !== 0) carryFrom(nonce, 8);
}

/** The nonce of chunk `chunkIndex` of a file whose header holds `n0`, as a new buffer (n0 is left alone). */
export function chunkNonce(n0: Uint8Array, chunkIndex: number | bigint): Buffer {
  const out = Buffer.from(n0);
  addToNonce(out, chunkIndex);
  return out;
}

// Fresh random nonces are cut from a block of CSPRNG bytes drawn at once: one draw per file costs
// more than the file's own sealing when many small files are written. Each nonce is a copy of bytes
// handed out once only; they are public (stored in the clear), so the block needs no wiping.
const NONCE_BLOCK_SIZE = 170 * NONCE_SIZE;
let nonceBlock = Buffer.alloc(0);
let nonceBlockUsed = 0;

/** A fresh random nonce (a new buffer), for a file header or a sealed record's box. */
export function randomNonce(): Buffer {
  if (nonceBlockUsed + NONCE_SIZE > nonceBlock.length) {
    nonceBlock = randomFillSync(Buffer.allocUnsafeSlow(NONCE_BLOCK_SIZE));
    nonceBlockUsed = 0;
  }
  const nonce = Buffer.from(nonceBlock.subarray(nonceBlockUsed, nonceBlockUsed + NONCE_SIZE));
  nonceBlockUsed += NONCE_SIZE;
  return nonce;
}
