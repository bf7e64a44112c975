// Text encodings for encrypted name bytes (rclone `filename_encoding`), docs/crypt-format.md §4.4.
// Decoders reproduce Go's behaviour, including which inputs they accept (non-canonical
// trailing bits, CR/LF) and the byte offsets in their error messages.
import { ConfigError, NameDecryptError } from '../errors.js';

export type NameEncodingName = 'base32' | 'base64' | 'base32768';

export interface NameEncoding {
  readonly name: NameEncodingName;
  /** Whether a remote that folds case would corrupt these names (pitfall 18). */
  readonly caseSensitive: boolean;
  encode(bytes: Uint8Array): string;
  /** Throws NameEncodingError with Go's message. */
  decode(text: string): Buffer;
  /** Characters (UTF-16 code units) produced for `byteLength` input bytes. */
  encodedLength(byteLength: number): number;
  /** Upper bound of the UTF-8 byte length of the encoding of `byteLength` bytes (exact for base32/base64). */
  maxEncodedUtf8Length(byteLength: number): number;
}

/** A name that is not valid text in the configured encoding. */
export class NameEncodingError extends NameDecryptError {}

const CR = 0x0d;
const LF = 0x0a;
const EQUALS = 0x3d;

function decodeTable(alphabet: string): Uint8Array {
  const table = new Uint8Array(256).fill(0xff);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
}

// ---------------------------------------------------------------- base32

const BASE32HEX = '0123456789abcdefghijklmnopqrstuv';
const BASE32HEX_UPPER_DECODE = decodeTable(BASE32HEX.toUpperCase());

function encodeBase32(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32HEX[(acc >> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32HEX[(acc << (5 - bits)) & 31];
  return out;
}

/** Go's strings.ToUpper as far as it matters here: only results inside the ASCII alphabet count. */
function goUpperBytes(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) {
      out.push(cp >= 0x61 && cp <= 0x7a ? cp - 0x20 : cp);
      continue;
    }
    // Non-ASCII is illegal base32 unless it upper-cases to ASCII (ı → I, ſ → S), as Go's
    // simple case mapping does; rclone then accepts it.
    const upper = ch.toUpperCase();
    if (upper.length === 1 && upper.charCodeAt(0) < 0x80) out.push(upper.charCodeAt(0));
    else for (const b of Buffer.from(ch, 'utf8')) out.push(b);
  }
  return out;
}

function base32Error(offset: number): NameEncodingError {
  return new NameEncodingError(`illegal base32 data at input byte ${offset}`);
}

/** Whole bytes carried by a final quantum of n characters (1, 3 and 6 are rejected earlier). */
const BASE32_BYTES_PER_CHARS: Record<number, number> = { 8: 5, 7: 4, 5: 3, 4: 2, 2: 1 };

/** Port of Go's encoding/base32 (padded) decoder over HexEncoding. */
function goDecodeBase32HexPadded(src: number[]): Buffer {
  const olen = src.length;
  const out: number[] = [];
  let pos = 0;
  let end = false;
  const dbuf = new Uint8Array(8);
  while (pos < olen && !end) {
    dbuf.fill(0);
    let dlen = 8;
    for (let j = 0; j < 8; ) {
      if (pos === olen) throw base32Error(pos - j); // missing padding
      const c = src[pos++]!;
      const remaining = olen - pos;
      if (c === EQUALS && j >= 2 && remaining < 8) {
        if (remaining + j < 7) throw base32Error(olen); // not enough padding
        for (let k = 0; k < 7 - j; k++) {
          if (remaining > k && src[pos + k] !== EQUALS) throw base32Error(pos + k - 1);
        }
        dlen = j;
        end = true;
        // 1, 3 and 6 characters cannot carry a whole byte.
        if (dlen === 1 || dlen === 3 || dlen === 6) throw base32Error(pos - 1);
        break;
      }
      const v = c < 256 ? BASE32HEX_UPPER_DECODE[c]! : 0xff;
      if (v === 0xff) throw base32Error(pos - 1);
      dbuf[j++] = v;
    }
    const b = dbuf;
    const quantum = [
      (b[0]! << 3) | (b[1]! >> 2),
      (b[1]! << 6) | (b[2]! << 1) | (b[3]! >> 4),
      (b[3]! << 4) | (b[4]! >> 1),
      (b[4]! << 7) | (b[5]! << 2) | (b[6]! >> 3),
      (b[6]! << 5) | b[7]!,
    ];
    const count = BASE32_BYTES_PER_CHARS[dlen] ?? 0;
    for (let i = 0; i < count; i++) out.push(quantum[i]! & 0xff);
  }
  return Buffer.from(out);
}

function decodeBase32(text: string): Buffer {
  // rclone's caseInsensitiveBase32Encoding.DecodeString.
  if (text.endsWith('=')) throw new NameEncodingError('bad base32 filename encoding');
  const byteLength = Buffer.byteLength(text, 'utf8');
  const equals = ((byteLength + 7) & ~7) - byteLength;
  const src = goUpperBytes(text);
  for (let i = 0; i < equals; i++) src.push(EQUALS);
  // Go strips CR/LF after rclone has counted the padding.
  return goDecodeBase32HexPadded(src.filter((c) => c !== CR && c !== LF));
}

const base32: NameEncoding = {
  name: 'base32',
  caseSensitive: false,
  encode: encodeBase32,
  decode: decodeBase32,
  encodedLength: (n) => Math.ceil((8 * n) / 5),
  maxEncodedUtf8Length: (n) => Math.ceil((8 * n) / 5),
};

// ---------------------------------------------------------------- base64

const BASE64URL_DECODE = decodeTable('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');

function base64Error(offset: number): NameEncodingError {
  return new NameEncodingError(`illegal base64 data at input byte ${offset}`);
}

/** Port of Go's base64.RawURLEncoding.DecodeString (decodeQuantum loop, non-strict). */
function decodeBase64(text: string): Buffer {
  const src = Buffer.from(text, 'utf8');
  const out: number[] = [];
  let si = 0;
  const dbuf = new Uint8Array(4);
  while (si < src.length) {
    dbuf.fill(0);
    let dlen = 4;
    let j = 0;
    for (; j < 4; j++) {
      if (si === src.length) {
        if (j === 0) return Buffer.from(out); // only trailing newlines were left
        if (j === 1) throw base64Error(si - j);
        dlen = j;
        break;
      }
      const c = src[si++]!;
      const v = BASE64URL_DECODE[c]!;
      if (v !== 0xff) {
        dbuf[j] = v;
        continue;
      }
      if (c === LF || c === CR) {
        j--;
        continue;
      }
      throw base64Error(si - 1); // '=' is illegal too: no padding in this encoding
    }
    const val = (dbuf[0]! << 18) | (dbuf[1]! << 12) | (dbuf[2]! << 6) | dbuf[3]!;
    const three = [(val >> 16) & 0xff, (val >> 8) & 0xff, val & 0xff];
    for (let i = 0; i < dlen - 1; i++) out.push(three[i]!);
  }
  return Buffer.from(out);
}

const base64: NameEncoding = {
  name: 'base64',
  caseSensitive: true,
  encode: (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url'),
  decode: decodeBase64,
  encodedLength: (n) => Math.ceil((4 * n) / 3),
  maxEncodedUtf8Length: (n) => Math.ceil((4 * n) / 3),
};

// ---------------------------------------------------------------- base32768

/**
 * Max-Sum/base32768 SafeEncoding alphabet: each entry starts a block of 32 code points.
 * "X-Y" means every multiple of 0x20 from X to Y (docs/crypt-format.md §4.4).
 */
const BASE32768_SAFE_RANGES =
  '0180 0240-0280 04A0 0500 0680-06A0 0760-0780 07C0 1000 10A0 1100-1140 1180 11E0-1220 1260 ' +
  '12E0 1320 13A0-13C0 1420-1640 16A0-16C0 1780 1820-1840 18C0 1980 19E0 1A20 1BC0 1C00 1D00 ' +
  '21E0 22C0 2340-23C0 2400 2500-2740 2780-27A0 2800-2960 29A0 2A20-2A40 2A80-2AA0 2AE0-2B40 ' +
  '2C00 2C80-2CC0 2D00 2D40 2EA0-2EC0 31C0 3400-4D80 4DC0-9FA0 A000-A460 A4A0 A500-A5E0 A640 ' +
  'A6A0-A6C0 A700-A740 A780 A840';

function expandRanges(ranges: string): number[] {
  const out: number[] = [];
  for (const token of ranges.split(' ')) {
    const [from, to = from] = token.split('-') as [string, string?];
    for (let cp = parseInt(from, 16); cp <= parseInt(to, 16); cp += 0x20) out.push(cp);
  }
  return out;
}

interface Base32768Tables {
  /** 1024 block starts for 15-bit groups. */
  a: number[];
  /** 4 block starts for 7-bit final groups. */
  b: number[];
  /** Units below this are table B's (a final group). */
  splitter: number;
  /** Indexed by code unit >> 5: the value of the block's first unit, or B32K_INVALID. */
  decode: Uint16Array;
}

const B32K_INVALID = 0xfffd;
let b32kTables: Base32768Tables | undefined;

/** Built on first use: most remotes never use base32768, and every cold start would pay for it. */
function base32768Tables(): Base32768Tables {
  if (b32kTables) return b32kTables;
  // The 1028 block starts, ascending: 4 for 7-bit final groups (table B), then 1024 (table A).
  const starts = expandRanges(BASE32768_SAFE_RANGES);
  const b = starts.slice(0, 4);
  const a = starts.slice(4);
  const decode = new Uint16Array(2048).fill(B32K_INVALID);
  a.forEach((cp, i) => (decode[cp >> 5] = i << 5));
  b.forEach((cp, i) => (decode[cp >> 5] = i << 5));
  b32kTables = { a, b, splitter: a[0]!, decode };
  return b32kTables;
}

/** The SafeEncoding alphabet: the 1028 block starts as one string (for tests and docs). */
export function base32768SafeAlphabet(): string {
  const { a, b } = base32768Tables();
  return String.fromCharCode(...b, ...a);
}

function encodeBase32768(src: Uint8Array): string {
  const { a: tableA, b: tableB } = base32768Tables();
  const units: number[] = [];
  const encode15 = (v: number) => tableA[(v & 0x7fff) >> 5]! | (v & 31);
  let left = 0;
  let leftn = 0;
  let i = 0;
  while (i < src.length) {
    let chunk = ((left << (15 - leftn)) | (src[i]! << (7 - leftn))) & 0xffff;
    if (leftn < 7 && i + 1 < src.length) {
      chunk |= src[i + 1]! >> (1 + leftn);
      left = src[i + 1]! & ((1 << (1 + leftn)) - 1);
      leftn++;
      i += 2;
    } else {
      chunk |= (1 << (7 - leftn)) - 1; // pad with 1-bits
      left = 0;
      leftn = 0;
      i += 1;
    }
    units.push(encode15(chunk));
  }
  if (leftn > 0) {
    const v = (((left << (7 - leftn)) & 0xff) | ((1 << (7 - leftn)) - 1)) & 0x7f;
    units.push(tableB[v >> 5]! | (v & 31));
  }
  return String.fromCharCode(...units);
}

function decodeBase32768(text: string): Buffer {
  const { decode: blockValue, splitter } = base32768Tables();
  const out: number[] = [];
  let left = 0;
  let leftn = 0;
  let index = 0; // in UTF-16 code units after CR/LF removal
  for (let k = 0; k < text.length; k++) {
    const unit = text.charCodeAt(k);
    if (unit === CR || unit === LF) continue;
    const base = blockValue[unit >> 5]!;
    if (base === B32K_INVALID) {
      // Go prints the offset as if the input were UTF-16BE bytes.
      throw new NameEncodingError(`illegal base32768 data at input byte ${index * 2}`);
    }
    const d = base | (unit & 31);
    if (unit < splitter) {
      // A 7-bit final group ends the data; anything after it is ignored.
      if (leftn > 0) out.push(((left << (8 - leftn)) | (d >> (leftn - 1))) & 0xff);
      return Buffer.from(out);
    }
    if (leftn > 0) {
      out.push(((left << (8 - leftn)) | (d >> (7 + leftn))) & 0xff);
      out.push((d >> (leftn - 1)) & 0xff);
      left = d & ((1 << (leftn - 1)) - 1);
      leftn--;
    } else {
      out.push((d >> 7) & 0xff);
      left = d & 0x7f;
      leftn = 7;
    }
    index++;
  }
  return Buffer.from(out);
}

const base32768: NameEncoding = {
  name: 'base32768',
  caseSensitive: true,
  encode: encodeBase32768,
  decode: decodeBase32768,
  encodedLength: (n) => Math.ceil((8 * n) / 15),
  // Table-A units from U+0800 up take 3 UTF-8 bytes (below that, 2).
  maxEncodedUtf8Length: (n) => 3 * Math.ceil((8 * n) / 15),
};

// ----------------------------------------------------------------

const ENCODINGS: Record<NameEncodingName, NameEncoding> = { base32, base64, base32768 };

/** The encoding for a `filename_encoding` value (case-insensitive, like rclone). */
export function getNameEncoding(name: string): NameEncoding {
  const key = name.toLowerCase();
  if (Object.hasOwn(ENCODINGS, key)) return ENCODINGS[key as NameEncodingName];
  throw new ConfigError(`unknown file name encoding mode ${JSON.stringify(key)}`);
}
