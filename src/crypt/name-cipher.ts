// rclone crypt file and directory name cipher (docs/crypt-format.md §4, pitfalls 17–29):
// standard (PKCS#7 + EME-AES-256 + text encoding), obfuscate (keyed rotation) and off (suffix).
import { NameDecryptError, NameTooLongError, NotSupportedError, ConfigError } from '../errors.js';
import { EmeCipher, EME_MAX_BYTES } from './eme.js';
import { pkcs7Pad, pkcs7Unpad } from './pkcs7.js';
import { secureCopy, wipe } from './secure-memory.js';
import { getNameEncoding, type NameEncoding } from './name-encoding.js';

export type FilenameEncryptionMode = 'standard' | 'obfuscate' | 'off';
export type FilenameEncodingName = 'base32' | 'base64' | 'base32768';

export interface NameCipherOptions {
  mode: FilenameEncryptionMode;
  /** Standard mode only; default base32. */
  encoding?: FilenameEncodingName;
  /** Default true. */
  directoryNameEncryption?: boolean;
  /** Off mode only; default '.bin'; 'none' (any case) = no suffix; a missing leading '.' is added. */
  suffix?: string;
  /** 32 bytes: AES-256 key for EME, and the byte-sum for obfuscation. */
  nameKey: Buffer;
  /** 16 bytes: EME tweak. */
  nameTweak: Buffer;
}

const NAME_BLOCK = 16;
/** Largest segment EME can take once padded (a 2048-byte segment pads to 2064). */
export const MAX_STANDARD_SEGMENT_BYTES = EME_MAX_BYTES - 1;

// rclone's error texts (backend/crypt/cipher.go). A name that is not encrypted
// is rclone 1.60.1's `no ".bin" suffix` (the only suffix 1.60.1 has, obfuscate
// included); with another suffix (the later `suffix` option) the >= 1.63 wording.
const ERR_NOT_ENCRYPTED_BIN = 'not an encrypted file - no ".bin" suffix';
const ERR_NOT_ENCRYPTED = 'not an encrypted file - does not match suffix';
const ERR_NOT_MULTIPLE = 'not a multiple of blocksize';
const ERR_TOO_SHORT = 'too short after base32 decode';
const ERR_TOO_LONG = 'too long after base32 decode';

/** rclone's `filename_encryption` values (case-insensitive). */
export function parseFilenameEncryptionMode(value: string): FilenameEncryptionMode {
  const mode = value.toLowerCase();
  if (mode === 'standard' || mode === 'obfuscate' || mode === 'off') return mode;
  throw new ConfigError(`unknown file name encryption mode ${JSON.stringify(mode)}`);
}

// ---------------------------------------------------------------- version suffixes (lib/version)

const VERSION_PATTERN = /-v\d{4}-\d{2}-\d{2}-\d{6}-\d{3}/;
const VERSION_LENGTH = '-v2006-01-02-150405.000'.length; // 23
// The 3 millisecond characters go through Go's atoi, which takes a sign.
const VERSION_FIELDS = /^-v(\d{4})-(\d{2})-(\d{2})-(\d{2})(\d{2})(\d{2})-([+-]\d{2}|\d{3})$/;

/** Go's lib/version.Split: extension from the last '.' of the last path element; ".x" has none. */
function splitExtension(name: string): [base: string, ext: string] {
  const dot = name.lastIndexOf('.');
  if (dot < 0 || name.lastIndexOf('/') > dot) return [name, ''];
  const base = name.slice(0, dot);
  if (base === '') return [name, ''];
  return [base, name.slice(dot)];
}

function daysInMonth(month: number, year: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * lib/version.Remove after a version.Match: the name without its version and the version
 * text as version.Add would write it back, or undefined when it has no valid version.
 */
function removeVersion(name: string): { unversioned: string; version: string } | undefined {
  if (!VERSION_PATTERN.test(name)) return undefined;
  const [base, ext] = splitExtension(name);
  // Go works on bytes; any non-ASCII in the tail fails the parse, as the regexp does here.
  if (base.length < VERSION_LENGTH) return undefined;
  const fields = VERSION_FIELDS.exec(base.slice(base.length - VERSION_LENGTH));
  if (!fields) return undefined;
  const [year, month, day, hour, minute, second, millis] = fields.slice(1).map(Number) as number[];
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysInMonth(month!, year!)) return undefined;
  if (hour! > 23 || minute! > 59 || second! > 59 || millis! < 0) return undefined;
  const pad = (v: number, width: number) => String(v).padStart(width, '0');
  const version =
    `-v${pad(year!, 4)}-${pad(month!, 2)}-${pad(day!, 2)}-` +
    `${pad(hour!, 2)}${pad(minute!, 2)}${pad(second!, 2)}-${pad(Math.abs(millis!), 3)}`;
  return { unversioned: base.slice(0, base.length - VERSION_LENGTH) + ext, version };
}

function addVersion(name: string, version: string): string {
  const [base, ext] = splitExtension(name);
  return base + version + ext;
}

// ---------------------------------------------------------------- obfuscation helpers

const QUOTE = 0x21; // '!'
const LONE_SURROGATE = /\p{Cs}/u;

/** Go's WriteRune: anything that is not a Unicode scalar value becomes U+FFFD. */
function goRune(cp: number): string {
  if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return '\ufffd';
  return String.fromCodePoint(cp);
}

/** Go's strconv.Atoi: optional sign, decimal digits, int64 range. */
function goAtoi(text: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const value = BigInt(text);
  if (value !== BigInt.asIntN(64, value)) return undefined;
  return value;
}

interface Rotation {
  digits: number;
  letters: number;
  latin1: number;
  other: number;
}

/** The four per-class shifts for a rotation amount; Go's % truncates, so negatives stay negative. */
function rotation(dir: bigint): Rotation {
  return {
    digits: Number(dir % 9n) + 1,
    letters: Number(dir % 25n) + 1,
    latin1: Number(dir % 95n) + 1,
    other: Number(dir % 127n) + 1,
  };
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isLetter = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
/** Index on the 52-letter ring A..Z a..z. */
const letterIndex = (c: number) => (c >= 0x61 ? c - 0x61 + 26 : c - 0x41);
const letterAt = (i: number) => 0x41 + (i >= 26 ? i + 6 : i);

// ----------------------------------------------------------------

/** Most segments `NameCipher` remembers the encryption of. */
const RECENT_NAMES = 256;

export class NameCipher {
  readonly mode: FilenameEncryptionMode;
  readonly encoding: NameEncoding;
  readonly directoryNameEncryption: boolean;
  /** Off mode suffix as rclone uses it ('' for 'none'). */
  readonly suffix: string;
  /** The message for a name that is not an encrypted one. */
  private readonly notEncrypted: string;
  private readonly eme: EmeCipher;
  private readonly nameTweak: Buffer;
  private readonly nameKeySum: bigint;

  constructor(opts: NameCipherOptions) {
    if (opts.nameKey.length !== 32) throw new RangeError(`name key must be 32 bytes, got ${opts.nameKey.length}`);
    if (opts.nameTweak.length !== NAME_BLOCK) {
      throw new RangeError(`name tweak must be 16 bytes, got ${opts.nameTweak.length}`);
    }
    this.mode = opts.mode;
    this.encoding = getNameEncoding(opts.encoding ?? 'base32');
    this.directoryNameEncryption = opts.directoryNameEncryption ?? true;
    this.suffix = normaliseSuffix(opts.suffix);
    this.notEncrypted = this.suffix === '.bin' ? ERR_NOT_ENCRYPTED_BIN : ERR_NOT_ENCRYPTED;
    this.eme = new EmeCipher(opts.nameKey);
    this.nameTweak = secureCopy(opts.nameTweak);
    this.nameKeySum = BigInt(opts.nameKey.reduce((sum, b) => sum + b, 0));
  }

  /** Zeroes the tweak (the remote closed). The AES key schedule lives in OpenSSL's context, freed with it. */
  wipe(): void {
    wipe(this.nameTweak);
  }

  /** rclone EncryptFileName: a '/'-separated path relative to the crypt root. */
  encryptFileName(path: string): string {
    if (this.mode === 'off') return path + this.suffix;
    return this.transformPath(path, (s) => this.encryptName(s));
  }

  /** rclone DecryptFileName; throws NameDecryptError with rclone's message. */
  decryptFileName(path: string): string {
    if (this.mode === 'off') {
      const remaining = path.length - this.suffix.length;
      if (remaining <= 0 || !path.endsWith(this.suffix)) throw new NameDecryptError(this.notEncrypted);
      const decrypted = path.slice(0, remaining);
      // The version stays on; only a name that is nothing but a version is refused.
      if (removeVersion(decrypted)?.unversioned === '') throw new NameDecryptError(this.notEncrypted);
      return decrypted;
    }
    return this.transformPath(path, (s) => this.decryptName(s));
  }

  /** rclone EncryptDirName: identity in off mode or without directory name encryption. */
  encryptDirName(path: string): string {
    if (this.mode === 'off' || !this.directoryNameEncryption) return path;
    return this.transformPath(path, (s) => this.encryptName(s));
  }

  /** rclone DecryptDirName. */
  decryptDirName(path: string): string {
    if (this.mode === 'off' || !this.directoryNameEncryption) return path;
    return this.transformPath(path, (s) => this.decryptName(s));
  }

  /** Standard mode: PKCS#7 + EME + encoding of one segment ('' stays ''). */
  encryptSegment(segment: string): string {
    if (segment === '') return '';
    const plain = Buffer.from(segment, 'utf8');
    if (plain.length > MAX_STANDARD_SEGMENT_BYTES) {
      throw new NameTooLongError(segment, plain.length, MAX_STANDARD_SEGMENT_BYTES);
    }
    return this.encoding.encode(this.eme.encrypt(this.nameTweak, pkcs7Pad(NAME_BLOCK, plain)));
  }

  /** Standard mode: decode + EME-decrypt + unpad one segment. Not UTF-8 validated (pitfall 23). */
  decryptSegment(segment: string): string {
    if (segment === '') return '';
    const raw = this.encoding.decode(segment);
    if (raw.length % NAME_BLOCK !== 0) throw new NameDecryptError(ERR_NOT_MULTIPLE);
    if (raw.length === 0) throw new NameDecryptError(ERR_TOO_SHORT);
    if (raw.length > EME_MAX_BYTES) throw new NameDecryptError(ERR_TOO_LONG);
    const padded = this.eme.decrypt(this.nameTweak, raw);
    return pkcs7Unpad(NAME_BLOCK, padded).toString('utf8');
  }

  /**
   * Standard mode: UTF-8 bytes of the stored name of a segment of `segmentUtf8Bytes` bytes
   * (exact for base32/base64; for base32768 an upper bound, 3 bytes per character).
   * Obfuscated lengths depend on the characters: measure encryptFileName(segment) instead.
   */
  encryptedSegmentLength(segmentUtf8Bytes: number): number {
    if (this.mode === 'off') return segmentUtf8Bytes;
    if (this.mode === 'obfuscate') {
      throw new NotSupportedError('obfuscated name length depends on the name; measure the encrypted name');
    }
    if (segmentUtf8Bytes === 0) return 0;
    if (segmentUtf8Bytes > MAX_STANDARD_SEGMENT_BYTES) {
      throw new NameTooLongError(`(${segmentUtf8Bytes} bytes)`, segmentUtf8Bytes, MAX_STANDARD_SEGMENT_BYTES);
    }
    const padded = NAME_BLOCK * (Math.floor(segmentUtf8Bytes / NAME_BLOCK) + 1);
    return this.encoding.maxEncodedUtf8Length(padded);
  }

  // ------------------------------------------------------------ internals

  /**
   * Splits on '/', transforms every segment (only the last when directory names stay in
   * clear) and applies the version-suffix rule to the last one (§4.1).
   */
  private transformPath(path: string, transform: (segment: string) => string): string {
    const segments = path.split('/');
    const last = segments.length - 1;
    for (let i = 0; i <= last; i++) {
      if (!this.directoryNameEncryption && i !== last) continue;
      const versioned = i === last ? removeVersion(segments[i]!) : undefined;
      if (versioned) {
        segments[i] = addVersion(transform(versioned.unversioned), versioned.version);
      } else {
        segments[i] = transform(segments[i]!);
      }
    }
    return segments.join('/');
  }

  private encryptName(segment: string): string {
    // Directory names recur in every path below them (a copy of 10,000 files in 20 directories):
    // remembered, a deterministic encryption is done once per directory, not once per file.
    let encrypted = this.recentNames.get(segment);
    if (encrypted === undefined) {
      encrypted = this.mode === 'standard' ? this.encryptSegment(segment) : this.obfuscateSegment(segment);
      if (this.recentNames.size >= RECENT_NAMES) this.recentNames.clear();
      this.recentNames.set(segment, encrypted);
    }
    return encrypted;
  }

  /** Segments encrypted lately and what they encrypt to (bounded; emptied when full). */
  private readonly recentNames = new Map<string, string>();

  private decryptName(segment: string): string {
    return this.mode === 'standard' ? this.decryptSegment(segment) : this.deobfuscateSegment(segment);
  }

  private obfuscateSegment(plaintext: string): string {
    if (plaintext === '') return '';
    // Go's "not valid UTF-8" is a lone surrogate here: pass it through unrotated.
    if (LONE_SURROGATE.test(plaintext)) return '!.' + plaintext;

    let sum = 0;
    for (const ch of plaintext) sum += ch.codePointAt(0)!;
    const stored = sum % 256;
    const shift = rotation(BigInt(stored) + this.nameKeySum);

    const out: string[] = [`${stored}.`];
    for (const ch of plaintext) {
      const c = ch.codePointAt(0)!;
      if (c === QUOTE) {
        out.push('!!');
      } else if (isDigit(c)) {
        out.push(String.fromCharCode(0x30 + ((c - 0x30 + shift.digits) % 10)));
      } else if (isLetter(c)) {
        out.push(String.fromCharCode(letterAt((letterIndex(c) + shift.letters) % 52)));
      } else if (c >= 0xa0 && c <= 0xff) {
        out.push(String.fromCharCode(0xa0 + ((c - 0xa0 + shift.latin1) % 96)));
      } else if (c >= 0x100) {
        const base = c - (c % 256);
        const rotated = base + ((c - base + shift.other) % 256);
        // Cannot happen for valid input (a block never straddles the surrogates), kept as rclone has it.
        if (rotated > 0x10ffff || (rotated >= 0xd800 && rotated <= 0xdfff)) out.push('!', ch);
        else out.push(String.fromCodePoint(rotated));
      } else {
        out.push(ch);
      }
    }
    return out.join('');
  }

  private deobfuscateSegment(ciphertext: string): string {
    if (ciphertext === '') return '';
    const dot = ciphertext.indexOf('.');
    if (dot < 0) throw new NameDecryptError(this.notEncrypted);
    const prefix = ciphertext.slice(0, dot);
    const body = ciphertext.slice(dot + 1);
    if (prefix === '!') return body; // stored unrotated (was not valid UTF-8)
    const stored = goAtoi(prefix);
    if (stored === undefined) throw new NameDecryptError(this.notEncrypted);
    // Any integer is accepted, without checking it against the result; Go's int wraps.
    const shift = rotation(BigInt.asIntN(64, stored + this.nameKeySum));

    const out: string[] = [];
    let quoted = false;
    for (const ch of body) {
      // Go ranges over bytes of the stored name, where a lone surrogate would be U+FFFD.
      const c = LONE_SURROGATE.test(ch) ? 0xfffd : ch.codePointAt(0)!;
      if (quoted) {
        out.push(goRune(c));
        quoted = false;
      } else if (c === QUOTE) {
        quoted = true;
      } else if (isDigit(c)) {
        let r = c - shift.digits;
        if (r < 0x30) r += 10;
        out.push(goRune(r));
      } else if (isLetter(c)) {
        let i = letterIndex(c) - shift.letters;
        if (i < 0) i += 52;
        out.push(goRune(letterAt(i)));
      } else if (c >= 0xa0 && c <= 0xff) {
        let r = c - shift.latin1;
        if (r < 0xa0) r += 96;
        out.push(goRune(r));
      } else if (c >= 0x100) {
        const base = c - (c % 256);
        let r = c - shift.other;
        if (r < base) r += 256;
        out.push(goRune(r));
      } else {
        out.push(ch);
      }
    }
    return out.join('');
  }
}

/** rclone's setEncryptedSuffix (>= 1.63): 'none' = no suffix; a missing '.' is prepended. */
function normaliseSuffix(suffix: string | undefined): string {
  if (suffix === undefined) return '.bin';
  if (suffix.toLowerCase() === 'none') return '';
  return suffix.startsWith('.') ? suffix : '.' + suffix;
}
