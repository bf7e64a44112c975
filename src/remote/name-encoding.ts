// rclone keeps names in a "standard" internal form in which control characters
// are shown as Unicode control pictures (U+2401–U+241F, U+2421 for DEL), and a
// literal control picture is quoted with U+201B. Backends that store raw bytes
// (local, s3, swift) turn pictures back into control bytes on the way down.
// crypt's base32768 alphabet contains U+2400–U+241F, so matching this is what
// makes rclone-written base32768 trees readable (and ours readable by rclone).

const QUOTE = '\u201b';

function isPicture(cp: number): boolean {
  return (cp >= 0x2401 && cp <= 0x241f) || cp === 0x2421;
}

/** Standard (rclone internal) name → name as stored by a raw-bytes backend. */
export function toBackendName(name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    const cp = ch.charCodeAt(0);
    if (ch === QUOTE && i + 1 < name.length && isPicture(name.charCodeAt(i + 1))) {
      out += name[++i]; // a quoted picture is the literal character
    } else if (cp >= 0x2401 && cp <= 0x241f) {
      out += String.fromCharCode(cp - 0x2400);
    } else if (cp === 0x2421) {
      out += '\x7f';
    } else {
      out += ch;
    }
  }
  return out;
}

/** Name as stored by a raw-bytes backend → standard (rclone internal) name. */
export function fromBackendName(name: string): string {
  let out = '';
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x01 && cp <= 0x1f) out += String.fromCharCode(0x2400 + cp);
    else if (cp === 0x7f) out += '\u2421';
    else if (isPicture(cp)) out += QUOTE + ch;
    else out += ch;
  }
  return out;
}

/** Whether a name needs any mapping (the fast path skips the work for plain names). */
export function needsMapping(name: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\x01-\x1f\x7f\u2401-\u241f\u2421\u201b]/.test(name);
}

export function pathToBackend(path: string): string {
  return needsMapping(path) ? path.split('/').map(toBackendName).join('/') : path;
}

export function pathFromBackend(path: string): string {
  return needsMapping(path) ? path.split('/').map(fromBackendName).join('/') : path;
}
