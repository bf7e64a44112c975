// rclone's encrypted config file (fs/config/crypt.go in rclone 1.60.1):
//
//   # Encrypted rclone configuration File
//
//   RCLONE_ENCRYPT_V0:
//   base64(nonce[24] ‖ secretbox(plain config text))
//
// key = SHA-256("[" + password + "][rclone-config]") after rclone's password
// check (valid UTF-8, NFKC, not empty or all whitespace). secretbox is NaCl's
// XSalsa20-Poly1305, tag first. Detection: the first line that is neither blank
// nor a `#`/`;` comment is the header; any other first line means plain text.
import { createHash, randomBytes } from 'node:crypto';
import { sodiumBinding } from '../crypt/sodium.js';
import { ConfigError } from '../errors.js';
import { goTrimSpace } from './config-file.js';

export const ENCRYPT_V0_HEADER = 'RCLONE_ENCRYPT_V0:';
const ENCRYPTED_PREFIX = 'RCLONE_ENCRYPT_V';
const NONCE_BYTES = 24;
const MAC_BYTES = 16;
const KEY_BYTES = 32;

interface SecretboxBinding {
  crypto_secretbox_easy(c: Uint8Array, m: Uint8Array, n: Uint8Array, k: Uint8Array): void;
  crypto_secretbox_open_easy(m: Uint8Array, c: Uint8Array, n: Uint8Array, k: Uint8Array): boolean;
}
// sodium-native is CommonJS without type declarations.
const sodium = sodiumBinding as SecretboxBinding;

/** The password did not open the config (rclone: "Couldn't decrypt configuration, most likely wrong password."). */
export class WrongConfigPasswordError extends ConfigError {
  constructor(options?: { cause?: unknown }) {
    super("couldn't decrypt configuration, most likely wrong password", options);
  }
}

/** Where the encrypted body starts, or undefined for a plain-text config. */
interface Detected {
  /** Offset of the first character after the header line. */
  bodyStart: number;
}

function detect(text: string): Detected | undefined {
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    const line = goTrimSpace(text.slice(pos, end));
    pos = end + 1;
    if (line === '' || line[0] === '#' || line[0] === ';') continue;
    if (line === ENCRYPT_V0_HEADER) return { bodyStart: Math.min(pos, text.length) };
    if (line.startsWith(ENCRYPTED_PREFIX)) {
      throw new ConfigError('unsupported configuration encryption - update rclone for support');
    }
    return undefined;
  }
  return undefined;
}

/** True if `text` is an rclone-encrypted config (throws for an unknown RCLONE_ENCRYPT_Vn version). */
export function isEncryptedConfig(text: string): boolean {
  return detect(text) !== undefined;
}

/**
 * rclone's checkPassword: the password must be valid UTF-8 and not empty or
 * only whitespace; it is NFKC-normalised. Leading/trailing whitespace is kept
 * (older rclone stripped it), with a warning.
 */
export function checkPassword(password: string | Uint8Array, warn: (message: string) => void = () => {}): string {
  let text: string;
  if (typeof password === 'string') {
    // A JS string can only be invalid UTF-16 (lone surrogates, which /u matches
    // as \p{Cs} only when unpaired), the analogue of invalid UTF-8.
    if (/\p{Cs}/u.test(password)) throw new ConfigError('password contains invalid utf8 characters');
    text = password;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(password);
    } catch (err) {
      throw new ConfigError('password contains invalid utf8 characters', { cause: err });
    }
  }
  const trimmed = goTrimSpace(text);
  if (trimmed.length !== text.length) {
    warn('Your password contains leading/trailing whitespace - in previous versions of rclone this was stripped');
  }
  const normalised = text.normalize('NFKC');
  if (normalised.length === 0 || trimmed.length === 0) throw new ConfigError('no characters in password');
  return normalised;
}

/** The 32-byte config key for a password (checked and normalised as rclone does). */
export function configKeyFromPassword(password: string | Uint8Array, warn?: (message: string) => void): Buffer {
  const checked = checkPassword(password, warn);
  return createHash('sha256').update(`[${checked}][rclone-config]`, 'utf8').digest();
}

function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_BYTES) throw new RangeError(`config key must be ${KEY_BYTES} bytes`);
}

/** Go's base64.StdEncoding decoder behind a reader: CR and LF are skipped, anything else must be valid. */
function decodeBase64Std(body: string): Buffer {
  const compact = body.replace(/[\r\n]/g, '');
  const bad = compact.search(/[^A-Za-z0-9+/=]/);
  const padAt = compact.indexOf('=');
  const malformed =
    bad >= 0 ||
    compact.length % 4 !== 0 ||
    (padAt >= 0 && (padAt < compact.length - 2 || !/^=*$/.test(compact.slice(padAt))));
  if (malformed) {
    const at = bad >= 0 ? bad : padAt >= 0 ? padAt : compact.length;
    throw new ConfigError(`failed to load base64 encoded data: illegal base64 data at input byte ${at}`);
  }
  return Buffer.from(compact, 'base64');
}

/**
 * Decrypts an encrypted config to its plain text. Throws WrongConfigPasswordError if the key
 * does not open it, ConfigError if the body is damaged or the text is not encrypted.
 */
export function decryptConfig(text: string, key: Uint8Array, sourceName = 'config'): string {
  checkKey(key);
  const found = detect(text);
  if (!found) throw new ConfigError(`${sourceName}: not an encrypted rclone config`);
  let box: Buffer;
  try {
    box = decodeBase64Std(text.slice(found.bodyStart));
  } catch (err) {
    throw new ConfigError(`${sourceName}: ${(err as Error).message}`, { cause: err });
  }
  if (box.length < NONCE_BYTES + MAC_BYTES) throw new ConfigError(`${sourceName}: configuration data too short`);
  const nonce = box.subarray(0, NONCE_BYTES);
  const sealed = box.subarray(NONCE_BYTES);
  const plain = Buffer.alloc(sealed.length - MAC_BYTES);
  if (!sodium.crypto_secretbox_open_easy(plain, sealed, nonce, key)) throw new WrongConfigPasswordError();
  return plain.toString('utf8');
}

/** Encrypts plain config text in rclone's format, with a fresh random nonce. */
export function encryptConfig(plainText: string, key: Uint8Array): string {
  checkKey(key);
  const plain = Buffer.from(plainText, 'utf8');
  const nonce = randomBytes(NONCE_BYTES);
  const sealed = Buffer.alloc(plain.length + MAC_BYTES);
  sodium.crypto_secretbox_easy(sealed, plain, nonce, key);
  const body = Buffer.concat([nonce, sealed]).toString('base64');
  return `# Encrypted rclone configuration File\n\n${ENCRYPT_V0_HEADER}\n${body}\n`;
}
