// Duration flag values, parsed as rclone 1.60.1 parses them, with its error texts:
//   - time.Duration flags (--stats, --retries-sleep): Go's time.ParseDuration;
//   - fs.Duration flags (--min-age, --max-age): fs.ParseDuration, which tries a Go
//     duration, then a number with an optional d|w|M|y suffix (bare = seconds), then
//     a date (RFC 3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"
//     in local time) meaning the time since then. When all fail the error is Go's
//     time.Parse error for the last layout, "2006-01-02".
// Results are milliseconds (fractions kept); "off" is Infinity.

/** A duration flag value that does not parse; the message is rclone's (Go's) words. */
export class DurationSyntaxError extends Error {}

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const AGE_SUFFIXES: [string, number][] = [
  ['d', 86_400_000],
  ['w', 7 * 86_400_000],
  ['M', 30 * 86_400_000],
  ['y', 365 * 86_400_000],
  ['', 1000],
];

/** Go's time.ParseDuration, in milliseconds; errors are Go's. */
export function parseGoDuration(text: string): number {
  const invalid = () => new DurationSyntaxError(`time: invalid duration ${goQuote(text)}`);
  let s = text;
  let negative = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let total = 0;
  while (s !== '') {
    const number = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    const [whole, pre, post] = number;
    if (pre === '' && (post === undefined || post === '')) throw invalid();
    s = s.slice(whole.length);
    const unit = /^[^.0-9]*/.exec(s)![0];
    if (unit === '') throw new DurationSyntaxError(`time: missing unit in duration ${goQuote(text)}`);
    const scale = GO_UNITS[unit];
    if (scale === undefined) throw new DurationSyntaxError(`time: unknown unit ${goQuote(unit)} in duration ${goQuote(text)}`);
    total += Number(`${pre || '0'}.${post ?? ''}`) * scale;
    s = s.slice(unit.length);
  }
  return negative ? -total : total;
}

/** rclone's fs.ParseDuration, in milliseconds before now (`now` for tests). */
export function parseFsDuration(text: string, now: Date = new Date()): number {
  if (text === 'off') return Infinity;
  try {
    return parseGoDuration(text);
  } catch {
    // not a Go duration: try the next form
  }
  for (const [suffix, scale] of AGE_SUFFIXES) {
    if (!text.endsWith(suffix)) continue;
    const n = parseGoFloat(text.slice(0, text.length - suffix.length));
    if (n !== undefined) return n * scale;
    break; // rclone stops at the first suffix that matches
  }
  const instant = parseDate(text);
  if (instant !== undefined) return now.getTime() - instant;
  throw new DurationSyntaxError(dateLayoutError(text));
}

/** strconv.ParseFloat's decimal forms (Inf, NaN and hex floats are not taken). */
function parseGoFloat(text: string): number | undefined {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/** The instant (ms since the epoch) of a date in one of rclone's layouts, else undefined. */
function parseDate(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:([T ])(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, sep, h = '0', mi = '0', sec = '0', frac = '', zone] = m;
  // A zone is RFC 3339 only ('T'); the other layouts are local time.
  if (zone !== undefined && sep !== 'T') return undefined;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, sec].map(Number);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = frac === '' ? 0 : Number(frac) * 1000;
  if (zone === undefined) return new Date(year, month - 1, day, hour, minute, second).getTime() + ms;
  const offset = zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  return Date.UTC(year, month - 1, day, hour, minute, second) + ms - offset * 60_000;
}

function daysIn(month: number, year: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Go's time.Parse error for `text` against the layout "2006-01-02", quirks
 * included: after a 4-byte year that is not a number it names what follows it.
 */
export function dateLayoutError(text: string): string {
  const whole = Buffer.from(text, 'utf8').toString('latin1'); // one char per byte, as Go indexes
  const cannot = (valueElem: string, layoutElem: string) =>
    `parsing time ${goQuote(whole, true)} as "2006-01-02": cannot parse ${goQuote(valueElem, true)} as ${goQuote(layoutElem)}`;
  const message = (msg: string) => `parsing time ${goQuote(whole, true)}${msg}`;
  let value = whole;
  if (value.length < 4 || !/^\d/.test(value)) return cannot(value, '2006');
  const yearText = value.slice(0, 4);
  value = value.slice(4);
  if (!/^[+-]?\d*$/.test(yearText)) return cannot(value, '2006');
  const year = Number(yearText.replace(/^\+/, '') || '0');
  const twoDigits = (): number | undefined => {
    const m = /^\d\d/.exec(value);
    return m ? Number(m[0]) : undefined;
  };
  if (value[0] !== '-') return cannot(value, '-');
  value = value.slice(1);
  const month = twoDigits();
  if (month === undefined) return cannot(value, '01');
  value = value.slice(2);
  if (month < 1 || month > 12) return message(': month out of range');
  if (value[0] !== '-') return cannot(value, '-');
  value = value.slice(1);
  const day = twoDigits();
  if (day === undefined) return cannot(value, '02');
  value = value.slice(2);
  if (value !== '') return message(`: extra text: ${goQuote(value, true)}`);
  if (day < 1 || day > daysIn(month, year)) return message(': day out of range');
  return message(': out of range'); // not reached: parseDate takes every date that gets here
}

/** Go's time.quote: printable ASCII as is ('"' and '\' escaped), other bytes as \xNN. */
function goQuote(text: string, bytes = false): string {
  const raw = bytes ? text : Buffer.from(text, 'utf8').toString('latin1');
  let out = '"';
  for (const ch of raw) {
    const c = ch.charCodeAt(0);
    if (c >= 0x80 || c < 0x20) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch === '"' || ch === '\\' ? `\\${ch}` : ch;
  }
  return out + '"';
}
