// What the object-store drivers (s3, swift) share: rclone's modification-time text and a bounded
// parallel map for per-object requests.

// rclone stores a modification time (S3's X-Amz-Meta-Mtime, Swift's X-Object-Meta-Mtime) as
// seconds since the epoch in fixed-point decimal, trailing zeros dropped ("1354040105.123456789",
// "1354040105"). JavaScript dates hold milliseconds.

export function formatMtime(date: Date): string {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('invalid date');
  if (ms < 0) return '-' + formatMtime(new Date(-ms));
  const seconds = Math.floor(ms / 1000);
  const fraction = String(ms % 1000).padStart(3, '0').replace(/0+$/, '');
  return fraction === '' ? String(seconds) : `${seconds}.${fraction}`;
}

/** Parses rclone's (and python-swiftclient's) mtime string; undefined when it is not one. */
export function parseMtime(text: string | null | undefined): Date | undefined {
  if (text === undefined || text === null) return undefined;
  const m = /^\s*(-?)(\d+)(?:\.(\d*))?\s*$/.exec(text);
  if (!m) return undefined;
  const fraction = (m[3] ?? '').padEnd(3, '0').slice(0, 3);
  const ms = Number(m[2]) * 1000 + Number(fraction);
  if (!Number.isSafeInteger(ms)) return undefined;
  const date = new Date(m[1] === '-' ? -ms : ms);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Runs `fn` over `items` with at most `limit` in flight, results in input order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
