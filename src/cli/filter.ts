// rclone's include/exclude filtering (fs/filter in rclone 1.60): rsync-style
// globs turned into regular expressions, file rules and directory rules checked
// in order with the first match deciding, --files-from lists, and size limits.
//
// Glob rules: `*` matches within one path segment, `**` across segments, `?` one
// character that is not '/', `[...]` a character class, `{a,b}` alternatives
// (not nested), `\` escapes. A leading '/' anchors the glob at the root, else it
// matches at the end of the path after any '/'. A trailing '/' makes a directory
// rule. `- glob` / `+ glob` lines in filter files, `!` clears the rules so far.
import { readFileSync } from 'node:fs';
import { log } from '../log.js';
import { flagStrings, flagString, flagBool, type FlagSpec, type FlagValues } from './args.js';
import { FlagValueError, parseDuration, parseSizeSuffix } from './stats.js';
import { UsageError } from '../errors.js';

/** A filter rule or filter file that cannot be used; rclone: "Failed to load filters: ...", exit 1. */
export class FilterError extends UsageError {}

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/** Characters that must be escaped to be literal in a JavaScript `u` regular expression. */
const SYNTAX = new Set([...'^$\\.*+?()[]{}|/']);

/** Escapes one literal character for a `u`-flag regular expression. */
function literal(c: string): string {
  return SYNTAX.has(c) ? `\\${c}` : c;
}

/** Inside a bracket expression: Go-style POSIX classes become ranges; the rest passes through. */
function bracketBody(body: string): string {
  return body.replace(/\[:([a-z]+):\]/g, (whole, name: string) => POSIX_CLASSES[name] ?? whole);
}

/**
 * Converts an rclone glob to a regular expression (rclone's GlobToRegexp). `source`
 * is the pattern in Go's syntax, for `--dump filters`-style listings.
 */
export function globToRegExp(glob: string, ignoreCase = false): RegExp {
  let re = '';
  let g = glob;
  if (g.startsWith('/')) {
    g = g.slice(1);
    re += '^';
  } else {
    re += '(?:^|/)';
  }
  let stars = 0;
  const flushStars = () => {
    if (stars === 1) re += '[^/]*';
    else if (stars === 2) re += '.*';
    else if (stars > 2) throw new FilterError(`too many stars in ${JSON.stringify(glob)}`);
    stars = 0;
  };
  let inBraces = false;
  let bracket = '';
  let bracketDepth = 0;
  let escaped = false;
  for (const c of g) {
    if (escaped) {
      // Go regexp escapes: a letter keeps its class meaning (\d, \w); anything else is literal.
      re += /[A-Za-z0-9]/.test(c) ? `\\${c}` : literal(c);
      escaped = false;
      continue;
    }
    if (c !== '*') flushStars();
    if (bracketDepth > 0) {
      bracket += c;
      if (c === '[') bracketDepth++;
      if (c === ']') bracketDepth--;
      if (bracketDepth === 0) re += `[${bracketBody(bracket.slice(0, -1))}]`;
      continue;
    }
    switch (c) {
      case '\\':
        escaped = true;
        break;
      case '*':
        stars++;
        break;
      case '?':
        re += '[^/]';
        break;
      case '[':
        bracketDepth = 1;
        bracket = '';
        break;
      case ']':
        throw new FilterError(`mismatched ']' in glob ${JSON.stringify(glob)}`);
      case '{':
        if (inBraces) throw new FilterError(`can't nest '{' '}' in glob ${JSON.stringify(glob)}`);
        inBraces = true;
        re += '(?:';
        break;
      case '}':
        if (!inBraces) throw new FilterError(`mismatched '{' and '}' in glob ${JSON.stringify(glob)}`);
        inBraces = false;
        re += ')';
        break;
      case ',':
        re += inBraces ? '|' : ',';
        break;
      default:
        re += literal(c);
    }
  }
  flushStars();
  if (bracketDepth > 0) throw new FilterError(`mismatched '[' and ']' in glob ${JSON.stringify(glob)}`);
  if (inBraces) throw new FilterError(`mismatched '{' and '}' in glob ${JSON.stringify(glob)}`);
  re += '$';
  try {
    return new RegExp(re, ignoreCase ? 'iu' : 'u');
  } catch (err) {
    throw new FilterError(`bad glob pattern ${JSON.stringify(glob)} (regexp ${JSON.stringify(re)}): ${(err as Error).message}`);
  }
}

/** Globs with braces holding '/' or '**' defeat the directory split below. */
const TOO_HARD = /\{[^{}]*(\*\*|\/)[^{}]*\}/;

/**
 * The directory globs a file glob implies (rclone's globToDirGlobs): matched
 * against "dir/", they tell whether the file glob could match inside that directory.
 */
export function globToDirGlobs(glob: string): string[] {
  if (TOO_HARD.test(glob)) {
    log.info(`Can't figure out directory filters from ${JSON.stringify(glob)}: looking in all directories`);
    return ['/**'];
  }
  let g = glob.replace(/\/{2,}/g, '/');
  const out: string[] = [];
  for (;;) {
    let i = g.lastIndexOf('/');
    const j = g.lastIndexOf('**');
    let what = '';
    if (j > i) {
      i = j;
      what = '**';
    }
    if (i < 0) {
      if (out.length === 0) out.push('/**');
      break;
    }
    g = g.slice(0, i);
    const next = `${g}${what}/`;
    if (out.length === 0 || out[out.length - 1] !== next) out.push(next);
  }
  return out;
}

interface Rule {
  include: boolean;
  re: RegExp;
  /** The glob the rule came from, for listings. */
  glob: string;
}

export interface FilterOptions {
  include?: string[];
  exclude?: string[];
  includeFrom?: string[];
  excludeFrom?: string[];
  filter?: string[];
  filterFrom?: string[];
  filesFrom?: string[];
  filesFromRaw?: string[];
  /** Bytes; -1 = no limit. */
  minSize?: number;
  maxSize?: number;
  /** Milliseconds; Infinity/undefined = no limit. */
  minAge?: number;
  maxAge?: number;
  ignoreCase?: boolean;
  deleteExcluded?: boolean;
  /** Reads a rules/list file; '-' is stdin. */
  readText?: (path: string) => string;
}

function readTextFile(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file or directory' : (err as Error).message;
    throw new FilterError(`open ${path}: ${reason}`, { cause: err });
  }
}

/** The lines of a rules file: trimmed, without blank lines and '#' / ';' comments (unless raw). */
function fileLines(text: string, raw: boolean): string[] {
  const out: string[] = [];
  for (let line of text.split(/\r?\n/)) {
    if (!raw) {
      line = line.trim();
      if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    } else if (line === '') continue;
    out.push(line);
  }
  return out;
}

export class Filter {
  private fileRules: Rule[] = [];
  private dirRules: Rule[] = [];
  /** --files-from: the listed files and every directory above them. */
  private files?: Set<string>;
  private dirs?: Set<string>;
  minSize = -1;
  maxSize = -1;
  /** Oldest / newest modification time allowed (ms since epoch). */
  modTimeFrom?: number;
  modTimeTo?: number;
  deleteExcluded = false;

  /**
   * Whether the rules can leave a directory out (--files-from, or a directory rule): a walk must
   * then go directory by directory (rclone's UsesDirectoryFilters), not take one recursive listing.
   */
  get usesDirectoryFilters(): boolean {
    return this.files !== undefined || this.dirRules.length > 0;
  }

  /** Whether the rules look at modification times (--min-age/--max-age): listings must then have them. */
  get usesModTimes(): boolean {
    return this.modTimeFrom !== undefined || this.modTimeTo !== undefined;
  }

  constructor(readonly ignoreCase = false) {}

  /** Builds the filter the flags describe, in rclone's order: includes, excludes, filters, then files-from. */
  static fromOptions(o: FilterOptions): Filter {
    const f = new Filter(o.ignoreCase ?? false);
    const read = o.readText ?? readTextFile;
    f.minSize = o.minSize ?? -1;
    f.maxSize = o.maxSize ?? -1;
    f.deleteExcluded = o.deleteExcluded ?? false;
    const now = Date.now();
    if (o.minAge !== undefined && Number.isFinite(o.minAge)) f.modTimeTo = now - o.minAge;
    if (o.maxAge !== undefined && Number.isFinite(o.maxAge)) {
      f.modTimeFrom = now - o.maxAge;
      if (f.modTimeTo !== undefined && f.modTimeTo < f.modTimeFrom) {
        throw new FilterError('filter: --min-age can\'t be larger than --max-age');
      }
    }
    let implicitExclude = false;
    let sawExclude = false;
    for (const g of o.include ?? []) {
      f.add(true, g);
      implicitExclude = true;
    }
    for (const p of o.includeFrom ?? []) {
      for (const line of fileLines(read(p), false)) f.add(true, line);
      implicitExclude = true;
    }
    for (const g of o.exclude ?? []) {
      f.add(false, g);
      sawExclude = true;
    }
    for (const p of o.excludeFrom ?? []) {
      for (const line of fileLines(read(p), false)) f.add(false, line);
      sawExclude = true;
    }
    if (implicitExclude && sawExclude) {
      log.error(
        'Using --filter is recommended instead of both --include and --exclude as the order they are parsed in is indeterminate',
      );
    }
    for (const r of o.filter ?? []) f.addRule(r);
    for (const p of o.filterFrom ?? []) for (const line of fileLines(read(p), false)) f.addRule(line);
    if (implicitExclude) f.add(false, '/**');

    const lists: [string[], boolean][] = [
      [o.filesFrom ?? [], false],
      [o.filesFromRaw ?? [], true],
    ];
    const inactiveBeforeFiles = !f.active;
    for (const [paths, raw] of lists) {
      for (const p of paths) {
        if (!inactiveBeforeFiles) {
          throw new FilterError(
            `The usage of --files-from overrides all other filters, it should be used alone or with --files-from-raw`,
          );
        }
        f.files ??= new Set();
        f.dirs ??= new Set();
        for (const line of fileLines(read(p), raw)) f.addFile(line);
      }
    }
    return f;
  }

  /** Adds one include or exclude glob (rclone's Filter.Add). */
  add(include: boolean, glob: string): void {
    let g = glob;
    let isDirRule = g.endsWith('/');
    let isFileRule = !isDirRule;
    // Excluding "dir/" is excluding "dir/**".
    if (isDirRule && !include) g += '**';
    if (g.includes('**')) {
      isDirRule = true;
      isFileRule = true;
    }
    const re = globToRegExp(g, this.ignoreCase);
    if (isFileRule) {
      this.fileRules.push({ include, re, glob: g });
      // An include rule needs its directories scanned; an exclude rule rules nothing out, except `*`.
      if (include || g === '*') {
        for (const dirGlob of globToDirGlobs(g)) {
          if (dirGlob === '/') continue; // the root is always scanned
          this.dirRules.push({ include, re: globToRegExp(dirGlob, this.ignoreCase), glob: dirGlob });
        }
      }
    }
    if (isDirRule) this.dirRules.push({ include, re, glob: g });
  }

  /** Adds a "+ glob", "- glob" or "!" line. */
  addRule(rule: string): void {
    if (rule === '!') {
      this.clear();
      return;
    }
    if (rule.startsWith('- ')) return this.add(false, rule.slice(2));
    if (rule.startsWith('+ ')) return this.add(true, rule.slice(2));
    throw new FilterError(`malformed rule ${JSON.stringify(rule)}`);
  }

  /** Limits the filter to this file (--files-from line, or a single-file source). */
  addFile(file: string): void {
    this.files ??= new Set();
    this.dirs ??= new Set();
    let p = file.replace(/^\/+|\/+$/g, '');
    this.files.add(p);
    for (;;) {
      const i = p.lastIndexOf('/');
      if (i < 0) break;
      p = p.slice(0, i);
      if (this.dirs.has(p)) break;
      this.dirs.add(p);
    }
  }

  clear(): void {
    this.fileRules = [];
    this.dirRules = [];
  }

  /** Whether anything is filtered at all. */
  get active(): boolean {
    return (
      this.files !== undefined ||
      this.minSize >= 0 ||
      this.maxSize >= 0 ||
      this.modTimeFrom !== undefined ||
      this.modTimeTo !== undefined ||
      this.fileRules.length > 0 ||
      this.dirRules.length > 0
    );
  }

  /** The --files-from list, if one is in use. */
  get fileList(): ReadonlySet<string> | undefined {
    return this.files;
  }

  /** Whether a path passes the path rules (no size or time). */
  includePath(path: string): boolean {
    if (this.files) return this.files.has(path);
    for (const r of this.fileRules) if (r.re.test(path)) return r.include;
    return true;
  }

  /** Whether a file is included (rclone's Filter.Include). */
  includeFile(path: string, size: number, mtime?: Date): boolean {
    if (this.files) {
      const inc = this.files.has(path);
      if (!inc) log.debug(`${path}: Excluded (FilesFrom Filter)`);
      return inc;
    }
    const t = mtime?.getTime();
    if (t !== undefined && ((this.modTimeFrom !== undefined && t < this.modTimeFrom) || (this.modTimeTo !== undefined && t > this.modTimeTo))) {
      log.debug(`${path}: Excluded (ModTime Filter)`);
      return false;
    }
    if ((this.minSize >= 0 && size < this.minSize) || (this.maxSize >= 0 && size > this.maxSize)) {
      log.debug(`${path}: Excluded (Size Filter)`);
      return false;
    }
    const inc = this.includePath(path);
    if (!inc) log.debug(`${path}: Excluded (Path Filter)`);
    return inc;
  }

  /** Whether to descend into a directory (rclone's IncludeDirectory). */
  includeDir(path: string): boolean {
    const p = path.replace(/^\/+|\/+$/g, '');
    if (this.files) return this.dirs!.has(p);
    const withSlash = `${p}/`;
    for (const r of this.dirRules) if (r.re.test(withSlash)) return r.include;
    return true;
  }

  /** A copy with the same rules, limited further to one file (a single-file source). */
  withSingleFile(name: string): Filter {
    const f = new Filter(this.ignoreCase);
    f.addFile(name);
    f.deleteExcluded = false;
    return f;
  }

  /** The rules, one per line ("+ glob" / "- glob"), file rules then directory rules. */
  describe(): string {
    const line = (r: Rule) => `${r.include ? '+' : '-'} ${r.re.source}`;
    return [
      '--- File filter rules ---',
      ...this.fileRules.map(line),
      '--- Directory filter rules ---',
      ...this.dirRules.map(line),
    ].join('\n');
  }
}

/** The filter flags, as global flags (rclone's names and help). */
export const filterFlags: FlagSpec[] = [
  { name: 'include', type: 'strings', help: 'Include files matching pattern' },
  { name: 'exclude', type: 'strings', help: 'Exclude files matching pattern' },
  { name: 'include-from', type: 'strings', help: 'Read file include patterns from file (use - to read from stdin)' },
  { name: 'exclude-from', type: 'strings', help: 'Read file exclude patterns from file (use - to read from stdin)' },
  { name: 'filter', short: 'f', type: 'strings', help: 'Add a file filtering rule' },
  { name: 'filter-from', type: 'strings', help: 'Read file filtering patterns from a file (use - to read from stdin)' },
  { name: 'files-from', type: 'strings', help: 'Read list of source-file names from file (use - to read from stdin)' },
  { name: 'files-from-raw', type: 'strings', help: 'Read list of source-file names from file without any processing of lines (use - to read from stdin)' },
  { name: 'min-size', type: 'string', default: 'off', help: 'Only transfer files bigger than this in KiB or suffix B|K|M|G|T|P' },
  { name: 'max-size', type: 'string', default: 'off', help: 'Only transfer files smaller than this in KiB or suffix B|K|M|G|T|P' },
  { name: 'min-age', type: 'string', default: 'off', help: 'Only transfer files older than this in s or suffix ms|s|m|h|d|w|M|y' },
  { name: 'max-age', type: 'string', default: 'off', help: 'Only transfer files younger than this in s or suffix ms|s|m|h|d|w|M|y' },
  { name: 'ignore-case', type: 'bool', help: 'Ignore case in filters (case insensitive)' },
  { name: 'delete-excluded', type: 'bool', help: 'Delete files on dest excluded from sync' },
];

const cache = new WeakMap<FlagValues, Filter>();

/** The filter the command-line flags describe; built once per flag set. Throws FilterError. */
export function filterFromFlags(flags: FlagValues): Filter {
  let f = cache.get(flags);
  if (f) return f;
  const size = (name: string) => {
    try {
      return parseSizeSuffix(flagString(flags, name) || 'off');
    } catch (err) {
      throw new FilterError(`invalid argument ${JSON.stringify(flagString(flags, name))} for "--${name}" flag: ${(err as FlagValueError).message}`);
    }
  };
  const age = (name: string) => {
    const v = flagString(flags, name) || 'off';
    try {
      return parseDuration(v);
    } catch (err) {
      throw new FilterError(`invalid argument ${JSON.stringify(v)} for "--${name}" flag: ${(err as Error).message}`);
    }
  };
  f = Filter.fromOptions({
    include: flagStrings(flags, 'include'),
    exclude: flagStrings(flags, 'exclude'),
    includeFrom: flagStrings(flags, 'include-from'),
    excludeFrom: flagStrings(flags, 'exclude-from'),
    filter: flagStrings(flags, 'filter'),
    filterFrom: flagStrings(flags, 'filter-from'),
    filesFrom: flagStrings(flags, 'files-from'),
    filesFromRaw: flagStrings(flags, 'files-from-raw'),
    minSize: size('min-size'),
    maxSize: size('max-size'),
    minAge: age('min-age'),
    maxAge: age('max-age'),
    ignoreCase: flagBool(flags, 'ignore-case'),
    deleteExcluded: flagBool(flags, 'delete-excluded'),
  });
  cache.set(flags, f);
  return f;
}
