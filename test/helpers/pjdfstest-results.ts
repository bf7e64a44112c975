// The pure half of the pjdfstest run: reading one test file's TAP output, reading the
// expected-failures list, and comparing the two. The list can only shrink: a listed case
// that passes is an error as much as an unlisted case that fails.

/** What one pjdfstest file (e.g. `open/00.t`) reported. */
export interface FileResult {
  /** `dir/file.t`, relative to pjdfstest's tests/ directory. */
  file: string;
  /** Cases the plan announced (`1..N`); 0 when no plan was printed. */
  planned: number;
  /** Case numbers that failed, missing ones (the script died or timed out) included. */
  failed: Set<number>;
  /** Lines `not ok` with their message, for the report. */
  failureLines: string[];
  /** Set when the script did not finish (timeout, signal, no plan). */
  broken?: string;
}

/**
 * Reads the TAP a pjdfstest file printed. `not ok N # TODO` counts as passing (TAP's rule;
 * pjdfstest marks known per-OS failures so). A case of the plan that never reported fails.
 */
export function parseTap(file: string, tap: string, broken?: string): FileResult {
  const plan = /^1\.\.(\d+)\s*$/m.exec(tap);
  const planned = plan ? Number(plan[1]) : 0;
  const reported = new Set<number>();
  const failed = new Set<number>();
  const failureLines: string[] = [];
  for (const line of tap.split('\n')) {
    const m = /^(not )?ok (\d+)\b(.*)$/.exec(line);
    if (!m) continue;
    const n = Number(m[2]);
    reported.add(n);
    if (m[1] && !/#\s*TODO\b/i.test(m[3])) {
      failed.add(n);
      failureLines.push(line);
    }
  }
  for (let n = 1; n <= planned; n++) if (!reported.has(n)) failed.add(n);
  return { file, planned, failed, failureLines, broken: broken ?? (plan ? undefined : 'no TAP plan (1..N) printed') };
}

/** One line of the expected-failures list. */
export interface ExpectedFailure {
  file: string;
  /** 'all': every case may fail (the file must still fail somewhere, else it now passes). */
  cases: Set<number> | 'all';
  reason: string;
  /** Line number in the list file, for messages. */
  line: number;
}

export class ExpectedListError extends Error {
  override name = 'ExpectedListError';
}

/** Parses `1-3,6,9` into {1,2,3,6,9}. */
export function parseCases(text: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new ExpectedListError(`bad case list "${text}" (want e.g. 1-3,6 or *)`);
    const from = Number(m[1]);
    const to = m[2] ? Number(m[2]) : from;
    if (to < from) throw new ExpectedListError(`bad range "${part}"`);
    for (let n = from; n <= to; n++) out.add(n);
  }
  return out;
}

/** Formats {1,2,3,6} as `1-3,6`, the list file's notation. */
export function formatCases(cases: Iterable<number>): string {
  const sorted = [...cases].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/**
 * The list file: `dir/file.t  cases  reason`, one line per test file, `#` comments and blank
 * lines ignored. cases is `*` or a case list (`1-3,6`). Every line needs a reason.
 */
export function parseExpectedList(text: string): Map<string, ExpectedFailure> {
  const out = new Map<string, ExpectedFailure>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^(\S+\.t)\s+(\S+)\s+(.+)$/.exec(line);
    if (!m) throw new ExpectedListError(`line ${i + 1}: want "dir/file.t  cases  reason", got "${line}"`);
    if (out.has(m[1])) throw new ExpectedListError(`line ${i + 1}: ${m[1]} is listed twice`);
    let cases: Set<number> | 'all';
    try {
      cases = m[2] === '*' ? 'all' : parseCases(m[2]);
    } catch (err) {
      throw new ExpectedListError(`line ${i + 1}: ${(err as Error).message}`, { cause: err });
    }
    out.set(m[1], { file: m[1], cases, reason: m[3], line: i + 1 });
  });
  return out;
}

/** How one file's result compares with its line in the list (if any). */
export interface Verdict {
  file: string;
  /** Failed but not listed. */
  unexpected: number[];
  /** Listed but passed: the list must shrink. */
  nowPassing: number[];
  /** A `*` line whose file now passes whole. */
  wholeFileNowPasses: boolean;
}

export function judge(result: FileResult, expected: ExpectedFailure | undefined): Verdict {
  const failed = [...result.failed].sort((a, b) => a - b);
  if (!expected) return { file: result.file, unexpected: failed, nowPassing: [], wholeFileNowPasses: false };
  if (expected.cases === 'all') {
    return { file: result.file, unexpected: [], nowPassing: [], wholeFileNowPasses: failed.length === 0 && !result.broken };
  }
  const listed = expected.cases;
  return {
    file: result.file,
    unexpected: failed.filter((n) => !listed.has(n)),
    nowPassing: [...listed].filter((n) => !result.failed.has(n)).sort((a, b) => a - b),
    wholeFileNowPasses: false,
  };
}

/** The problems of a verdict as lines for an assertion message; empty when it is fine. */
export function verdictProblems(v: Verdict, result: FileResult, expected: ExpectedFailure | undefined): string[] {
  const out: string[] = [];
  if (v.unexpected.length) {
    const shown = result.failureLines.filter((l) => v.unexpected.includes(Number(/^not ok (\d+)/.exec(l)?.[1])));
    out.push(
      `${v.file}: cases ${formatCases(v.unexpected)} failed and are not in the expected-failures list` +
        (result.broken ? ` (${result.broken})` : '') +
        (shown.length ? `\n    ${shown.slice(0, 8).join('\n    ')}` : ''),
    );
  }
  if (v.nowPassing.length) {
    const left = expected && expected.cases !== 'all' ? [...expected.cases].filter((n) => !v.nowPassing.includes(n)) : [];
    out.push(
      `${v.file}: cases ${formatCases(v.nowPassing)} now pass: remove them from the list (line ${expected?.line}` +
        (left.length ? `, leaving ${formatCases(left)})` : `, the whole line)`),
    );
  }
  if (v.wholeFileNowPasses) out.push(`${v.file}: now passes: remove it from the list (line ${expected?.line})`);
  return out;
}
