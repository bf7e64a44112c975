// rclone crypt key derivation (docs/crypt-format.md §1): scrypt(password, salt, N=16384, r=8,
// p=1, 80 bytes) split into data key ‖ name key ‖ name tweak.
import { scrypt } from 'node:crypto';
import { loadNativeAddon } from '../os-native.js';
import { secureCopy, wipe } from './secure-memory.js';

export interface CryptKeys {
  /** XSalsa20-Poly1305 key for file contents (32 bytes). */
  dataKey: Buffer;
  /** AES-256 key for EME name encryption, and the byte-sum of name obfuscation (32 bytes). */
  nameKey: Buffer;
  /** EME tweak (16 bytes). */
  nameTweak: Buffer;
}

const DATA_KEY_SIZE = 32;
const NAME_KEY_SIZE = 32;
const NAME_TWEAK_SIZE = 16;
const KEY_MATERIAL_SIZE = DATA_KEY_SIZE + NAME_KEY_SIZE + NAME_TWEAK_SIZE;

/** Salt rclone uses when password2 is empty or not set (pitfall 2: not an empty salt). */
export const DEFAULT_SALT = Buffer.from('a80df43a8fbd0308a7cab83e581f86b1', 'hex');

const SCRYPT_PARAMS = {
  N: 16384,
  r: 8,
  p: 1,
  // scrypt needs 128·N·r = 16 MiB; Node's default ceiling (32 MiB) is too close to rely on.
  maxmem: 64 * 1024 * 1024,
};

function utf8(value: string | Uint8Array): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
}


interface ScryptBinding {
  scrypt(password: Buffer, salt: Buffer, n: number, r: number, p: number, keyLength: number): Promise<Buffer>;
}

let nativeScrypt: ScryptBinding | null | undefined;
/** native/scrypt.c, loaded on first use (only commands that open a crypt remote pay for it); null when not built. */
export function nativeScryptBinding(): ScryptBinding | null {
  if (nativeScrypt === undefined) nativeScrypt = loadNativeAddon<ScryptBinding>('cryptfs_scrypt.node') ?? null;
  return nativeScrypt;
}

/** node:crypto's scrypt (OpenSSL's): used when the addon is not built, and by the tests as a cross-check. */
export function opensslScrypt(password: Buffer, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_MATERIAL_SIZE, SCRYPT_PARAMS, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/**
 * rclone's scrypt on the thread pool: ours (native/scrypt.c, ~2.5x faster from a cold process: huge
 * pages for its 16 MiB table) when built, else node:crypto's.
 */
function scryptAsync(password: Buffer, salt: Buffer): Promise<Buffer> {
  const native = nativeScryptBinding();
  if (native === null) return opensslScrypt(password, salt);
  return native.scrypt(password, salt, SCRYPT_PARAMS.N, SCRYPT_PARAMS.r, SCRYPT_PARAMS.p, KEY_MATERIAL_SIZE);
}

/**
 * Derives the crypt keys from the REVEALED passwords (never the obscured text).
 * Strings are taken as their UTF-8 bytes; raw bytes may be passed for values that
 * are not valid UTF-8. An empty password gives all-zero keys without running
 * scrypt, as rclone does (whatever password2 is).
 */
export async function deriveKeys(password: string | Uint8Array, password2?: string | Uint8Array): Promise<CryptKeys> {
  const passwordBytes = utf8(password);
  let material: Buffer;
  if (passwordBytes.length === 0) {
    material = Buffer.alloc(KEY_MATERIAL_SIZE);
  } else {
    const salt = password2 === undefined || password2.length === 0 ? DEFAULT_SALT : utf8(password2);
    material = await scryptAsync(passwordBytes, salt);
  }
  // Each key on its own in secure memory (no key's .buffer exposes the others); then wipe the material.
  const keys: CryptKeys = {
    dataKey: secureCopy(material.subarray(0, DATA_KEY_SIZE)),
    nameKey: secureCopy(material.subarray(DATA_KEY_SIZE, DATA_KEY_SIZE + NAME_KEY_SIZE)),
    nameTweak: secureCopy(material.subarray(DATA_KEY_SIZE + NAME_KEY_SIZE, KEY_MATERIAL_SIZE)),
  };
  wipe(material, passwordBytes);
  return keys;
}

/** Zeroes derived keys once the ciphers that need them hold their own copies. */
export function wipeKeys(keys: CryptKeys): void {
  wipe(keys.dataKey, keys.nameKey, keys.nameTweak);
}
