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

function saltOf(password2: string | Uint8Array | undefined): Buffer {
  return password2 === undefined || password2.length === 0 ? DEFAULT_SALT : utf8(password2);
}

/** A scrypt started ahead of need (prefetchKeyMaterial), kept until one deriveKeys with the same inputs takes it. */
interface PrefetchedMaterial {
  password: Buffer;
  salt: Buffer;
  material: Promise<Buffer>;
  /** The material once it is there, so that an unclaimed one can be wiped at exit. */
  ready?: Buffer;
}
// On globalThis, not in this module: the bin runs a small bundle of the key prefetch before it loads
// the program's bundle (scripts/build.mjs), and each bundle has its own copy of this module.
const PREFETCH_REGISTRY = Symbol.for('cryptfs.prefetchedKeyMaterial');
const registryHolder = globalThis as typeof globalThis & { [PREFETCH_REGISTRY]?: PrefetchedMaterial[] };
const prefetched: PrefetchedMaterial[] = (registryHolder[PREFETCH_REGISTRY] ??= []);

function wipeUnclaimed(): void {
  for (const entry of prefetched.splice(0)) wipe(entry.password, entry.salt, entry.ready);
}

/**
 * Starts scrypt for these passwords now, on the thread pool, so that it runs while the rest of the
 * program is still loading (a cold `lsf` would otherwise wait ~40 ms for it afterwards). The first
 * deriveKeys with the same inputs takes the result; inputs that match nothing later cost one scrypt
 * of CPU and are wiped at exit. An empty password needs no scrypt and starts nothing.
 */
export function prefetchKeyMaterial(password: string | Uint8Array, password2?: string | Uint8Array): void {
  const passwordBytes = utf8(password);
  const salt = Buffer.from(saltOf(password2)); // a copy: it is wiped, and DEFAULT_SALT must not be
  if (passwordBytes.length === 0 || prefetched.some((e) => e.password.equals(passwordBytes) && e.salt.equals(salt))) {
    wipe(passwordBytes, salt);
    return;
  }
  if (prefetched.length === 0) process.once('exit', wipeUnclaimed);
  const entry: PrefetchedMaterial = { password: passwordBytes, salt, material: scryptAsync(passwordBytes, salt) };
  // A failure is the taker's to report (the same scrypt would fail again); unclaimed, it is nobody's.
  entry.material.then(
    (m) => (entry.ready = m),
    () => undefined,
  );
  prefetched.push(entry);
}

/** The prefetched material for exactly these inputs, taken (no second caller gets the same buffer). */
function takePrefetched(passwordBytes: Buffer, salt: Buffer): Promise<Buffer> | undefined {
  const i = prefetched.findIndex((e) => e.password.equals(passwordBytes) && e.salt.equals(salt));
  if (i < 0) return undefined;
  const [entry] = prefetched.splice(i, 1);
  if (process.env.CRYPTFS_DEBUG_KEY_PREFETCH === '1') process.stderr.write('key prefetch: taken\n');
  // The addon copied its inputs when the job started: these copies were only for matching.
  wipe(entry.password, entry.salt);
  return entry.material;
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
    const salt = saltOf(password2);
    material = await (takePrefetched(passwordBytes, salt) ?? scryptAsync(passwordBytes, salt));
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
