// EME (ECB-Mix-ECB, Halevi–Rogaway) wide-block mode as implemented by
// github.com/rfjakob/eme, which rclone uses with AES-256 to encrypt names.
// Spec: docs/crypt-format.md §4.3 and pitfall 22.
import { createCipheriv, createDecipheriv, type Cipher, type Decipher } from 'node:crypto';

const BLOCK = 16;
/** rfjakob/eme accepts 1..128 blocks (16..2048 bytes). */
export const EME_MAX_BYTES = BLOCK * 128;

/** GF(2^128) doubling, little-endian byte order with 0x87 folded into byte 0 (not GCM's bit order). */
function double(block: Buffer): void {
  const carry = block[15]! >> 7;
  for (let j = 15; j > 0; j--) block[j] = ((block[j]! << 1) | (block[j - 1]! >> 7)) & 0xff;
  block[0] = ((block[0]! << 1) & 0xff) ^ (carry ? 0x87 : 0);
}

function xorInto(dst: Buffer, dstOffset: number, src: Buffer, srcOffset: number): void {
  for (let i = 0; i < BLOCK; i++) dst[dstOffset + i]! ^= src[srcOffset + i]!;
}

/** A raw AES-ECB block transform that keeps one OpenSSL context alive across calls. */
type EcbTransform = (data: Buffer) => Buffer;

function ecb(ctx: Cipher | Decipher): EcbTransform {
  ctx.setAutoPadding(false);
  // Without padding and with whole blocks, update() returns every block at once and the
  // context stays usable, so no final() (which would end it) is ever needed.
  return (data) => ctx.update(data);
}

/** EME-AES-256 bound to one key; reuse it for every name encrypted with that key. */
export class EmeCipher {
  private readonly encryptBlocks: EcbTransform;
  private readonly decryptBlocks: EcbTransform;
  /** L_j = 2^(j+1)·AES-Enc(0) for j = 0..127, concatenated. */
  private readonly lTable: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new RangeError(`EME key must be 32 bytes (AES-256), got ${key.length}`);
    this.encryptBlocks = ecb(createCipheriv('aes-256-ecb', key, null));
    this.decryptBlocks = ecb(createDecipheriv('aes-256-ecb', key, null));
    // L comes from AES *encryption* of the zero block in both directions.
    const l = Buffer.from(this.encryptBlocks(Buffer.alloc(BLOCK)));
    this.lTable = Buffer.alloc(EME_MAX_BYTES);
    for (let j = 0; j < 128; j++) {
      double(l);
      l.copy(this.lTable, j * BLOCK);
    }
  }

  encrypt(tweak: Uint8Array, data: Uint8Array): Buffer {
    return this.transform(tweak, data, this.encryptBlocks);
  }

  decrypt(tweak: Uint8Array, data: Uint8Array): Buffer {
    return this.transform(tweak, data, this.decryptBlocks);
  }

  private transform(tweak: Uint8Array, data: Uint8Array, blocks: EcbTransform): Buffer {
    if (tweak.length !== BLOCK) throw new RangeError(`EME tweak must be 16 bytes, got ${tweak.length}`);
    const n = data.length;
    if (n === 0 || n % BLOCK !== 0 || n > EME_MAX_BYTES) {
      throw new RangeError(`EME input must be 16..2048 bytes and a multiple of 16, got ${n}`);
    }
    const m = n / BLOCK;
    const t = Buffer.from(tweak.buffer, tweak.byteOffset, BLOCK);

    // PPP_j = X(P_j ⊕ L_j), all blocks in one ECB call.
    const pp = Buffer.from(data);
    for (let i = 0; i < n; i++) pp[i]! ^= this.lTable[i]!;
    const c = blocks(pp);

    // MP = T ⊕ ⊕PPP_j; MC = X(MP); M = MP ⊕ MC.
    const mp = Buffer.from(t);
    for (let j = 0; j < m; j++) xorInto(mp, 0, c, j * BLOCK);
    const mc = blocks(mp);
    const mask = Buffer.from(mp);
    xorInto(mask, 0, mc, 0);

    // CCC_j = PPP_j ⊕ 2^j·M for j ≥ 1 (M is doubled before its first use).
    for (let j = 1; j < m; j++) {
      double(mask);
      xorInto(c, j * BLOCK, mask, 0);
    }
    // CCC_0 = MC ⊕ T ⊕ ⊕_{j≥1} CCC_j.
    const ccc0 = Buffer.from(mc);
    xorInto(ccc0, 0, t, 0);
    for (let j = 1; j < m; j++) xorInto(ccc0, 0, c, j * BLOCK);
    ccc0.copy(c, 0);

    // C_j = X(CCC_j) ⊕ L_j.
    const out = blocks(c);
    for (let i = 0; i < n; i++) out[i]! ^= this.lTable[i]!;
    return out;
  }
}

// One-shot helpers keep the last key's cipher so repeated calls with the same key
// do not rebuild the AES contexts.
let lastKey: Buffer | undefined;
let lastCipher: EmeCipher | undefined;

function cipherFor(key: Uint8Array): EmeCipher {
  if (lastCipher === undefined || lastKey === undefined || !lastKey.equals(key)) {
    lastCipher = new EmeCipher(key);
    lastKey = Buffer.from(key);
  }
  return lastCipher;
}

/** EME-AES-256 encryption of 16..2048 bytes (a multiple of 16). */
export function emeEncrypt(key: Uint8Array, tweak: Uint8Array, data: Uint8Array): Buffer {
  return cipherFor(key).encrypt(tweak, data);
}

/** EME-AES-256 decryption of 16..2048 bytes (a multiple of 16). */
export function emeDecrypt(key: Uint8Array, tweak: Uint8Array, data: Uint8Array): Buffer {
  return cipherFor(key).decrypt(tweak, data);
}
