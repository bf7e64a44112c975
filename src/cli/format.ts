// Output formatting shared by the listing commands, matching rclone's layout.

const pad2 = (n: number) => String(n).padStart(2, '0');

/** "2006-01-02 15:04:05" in local time (lsd, lsf). */
export function formatTime(d: Date): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** "2006-01-02 15:04:05.000000000" in local time (lsl), to the nanosecond where the remote keeps it. */
export function formatTimeNanos(d: Date, ns?: bigint): string {
  const frac = ns !== undefined ? Number(((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n) : d.getMilliseconds() * 1e6;
  return `${formatTime(d)}.${String(frac).padStart(9, '0')}`;
}

/** rclone's human sizes: "1.500 MiB", "0 B". */
export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = -1;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(3)} ${units[i]}`;
}

/** "1.2s", "1m2.5s", "1h2m3s" like Go's time.Duration.String, rounded. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let s = ms / 1000;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const secs = h || m ? s.toFixed(0) : s.toFixed(1);
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${secs}s`;
}

/**
 * JSON as Go's encoding/json writes it (rclone 1.60, built with Go 1.19): JSON.stringify's text
 * with '<', '>', '&', U+2028 and U+2029 escaped as \u003c..., and \b and \f written as \u0008 and
 * \u000c. Object keys keep their order (sort them first where Go prints a map).
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/\\(?:u[0-9a-f]{4}|.)|[<>&\u2028\u2029]/g, (m) => {
    if (m === '\\b') return '\\u0008';
    if (m === '\\f') return '\\u000c';
    if (m.length === 1) return `\\u${m.charCodeAt(0).toString(16).padStart(4, '0')}`;
    return m;
  });
}
