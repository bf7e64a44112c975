// Duration flag values against rclone 1.60.1's answers (recorded with
// `rclone ls DIR --min-age V` / `--stats V`; the live comparison is in
// test/integration/cli/claims-rclone.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFsDuration, parseGoDuration } from '../../../src/cli/durations.js';

const NOW = new Date(2026, 0, 10, 12, 0, 0);

test('fs.Duration (--min-age/--max-age): Go durations, suffixed numbers, bare seconds, dates since', () => {
  assert.equal(parseFsDuration('1m0s', NOW), 60_000);
  assert.equal(parseFsDuration('-5s', NOW), -5000);
  assert.equal(parseFsDuration('.5h', NOW), 1_800_000);
  assert.equal(parseFsDuration('5.s', NOW), 5000);
  assert.equal(parseFsDuration('12345', NOW), 12_345_000);
  assert.equal(parseFsDuration('+5', NOW), 5000);
  assert.equal(parseFsDuration('1e3', NOW), 1_000_000);
  assert.equal(parseFsDuration('1.5d', NOW), 1.5 * 86_400_000);
  assert.equal(parseFsDuration('2w', NOW), 14 * 86_400_000);
  assert.equal(parseFsDuration('1M', NOW), 30 * 86_400_000);
  assert.equal(parseFsDuration('1y', NOW), 365 * 86_400_000);
  assert.equal(parseFsDuration('off', NOW), Infinity);
  // Dates: local time unless RFC 3339 gives a zone.
  assert.equal(parseFsDuration('2026-01-09', NOW), 36 * 3_600_000);
  assert.equal(parseFsDuration('2026-01-10 11:00:00', NOW), 3_600_000);
  assert.equal(parseFsDuration('2026-01-10T11:30:00', NOW), 1_800_000);
  assert.equal(parseFsDuration('2026-01-10T12:00:00Z', NOW), NOW.getTime() - Date.UTC(2026, 0, 10, 12));
  assert.equal(parseFsDuration('2026-01-10T12:00:00.5+02:00', NOW), NOW.getTime() - (Date.UTC(2026, 0, 10, 10) + 500));
  assert.equal(parseFsDuration('2024-02-29', NOW), NOW.getTime() - new Date(2024, 1, 29).getTime());
});

test('fs.Duration errors are Go time.Parse errors for the layout "2006-01-02", quirks included', () => {
  const cases: [string, string][] = [
    ['3q', 'parsing time "3q" as "2006-01-02": cannot parse "3q" as "2006"'],
    ['', 'parsing time "" as "2006-01-02": cannot parse "" as "2006"'],
    ['d', 'parsing time "d" as "2006-01-02": cannot parse "d" as "2006"'],
    ['abcde', 'parsing time "abcde" as "2006-01-02": cannot parse "abcde" as "2006"'],
    ['-123-01-01', 'parsing time "-123-01-01" as "2006-01-02": cannot parse "-123-01-01" as "2006"'],
    ['1.5.5', 'parsing time "1.5.5" as "2006-01-02": cannot parse "5" as "2006"'],
    ['0x10', 'parsing time "0x10" as "2006-01-02": cannot parse "" as "2006"'],
    ['12a4-01-01', 'parsing time "12a4-01-01" as "2006-01-02": cannot parse "-01-01" as "2006"'],
    ['2023/01/01', 'parsing time "2023/01/01" as "2006-01-02": cannot parse "/01/01" as "-"'],
    ['2023-1-01', 'parsing time "2023-1-01" as "2006-01-02": cannot parse "1-01" as "01"'],
    ['2023-01-1', 'parsing time "2023-01-1" as "2006-01-02": cannot parse "1" as "02"'],
    ['2023-13-01', 'parsing time "2023-13-01": month out of range'],
    ['2023-00-10', 'parsing time "2023-00-10": month out of range'],
    ['2023-02-29', 'parsing time "2023-02-29": day out of range'],
    ['2023-01-00', 'parsing time "2023-01-00": day out of range'],
    ['2023-01-01 12:00', 'parsing time "2023-01-01 12:00": extra text: " 12:00"'],
    ['2023-01-01T25:00:00', 'parsing time "2023-01-01T25:00:00": extra text: "T25:00:00"'],
    ['ü', 'parsing time "\\xc3\\xbc" as "2006-01-02": cannot parse "\\xc3\\xbc" as "2006"'],
    ['"x"', 'parsing time "\\"x\\"" as "2006-01-02": cannot parse "\\"x\\"" as "2006"'],
  ];
  for (const [input, message] of cases) assert.throws(() => parseFsDuration(input, NOW), { message }, JSON.stringify(input));
});

test('time.Duration (--stats, --retries-sleep): Go durations only, with Go\'s errors', () => {
  assert.equal(parseGoDuration('0'), 0);
  assert.equal(parseGoDuration('1.5m'), 90_000);
  assert.equal(parseGoDuration('-1s'), -1000);
  assert.equal(parseGoDuration('1h30m'), 5_400_000);
  assert.equal(parseGoDuration('250us'), 0.25);
  const cases: [string, string][] = [
    ['5', 'time: missing unit in duration "5"'],
    ['1h2', 'time: missing unit in duration "1h2"'],
    ['5q', 'time: unknown unit "q" in duration "5q"'],
    ['5x5s', 'time: unknown unit "x" in duration "5x5s"'],
    ['1d', 'time: unknown unit "d" in duration "1d"'],
    ['abc', 'time: invalid duration "abc"'],
    ['', 'time: invalid duration ""'],
    ['.s', 'time: invalid duration ".s"'],
  ];
  for (const [input, message] of cases) assert.throws(() => parseGoDuration(input), { message }, JSON.stringify(input));
});
