// rclone.conf as text: sections of ordered key/value pairs, read and written
// the way rclone 1.60.1 does it (its INI library is Unknwon/goconfig v1.0.0).
//
// Why not the `ini` npm package: it treats `;`/`#` after a value as an inline
// comment (`k = ;x` becomes ''), strips "double quotes" and turns `k[] = v`
// into arrays. rclone does none of that — its values are raw strings. What
// goconfig does, checked against the rclone 1.60.1 binary:
//  * every line is trimmed (Go's TrimSpace); blank lines are skipped;
//  * a line starting with `#` or `;` is a comment; goconfig attaches the
//    comments to the next section header or key and writes them back there;
//    comments after the last entry are dropped by rclone (we keep them);
//  * `[name]` (first and last char) opens a section; the name is trimmed;
//  * otherwise the key ends at the first `=` or `:` (either is a separator);
//    a key may be quoted with ` or " or """ to contain those characters;
//  * the value is the rest, trimmed; if it starts with ` (and has 2+ chars) or
//    with """ (6+ chars) it is quoted, and the value runs to the LAST matching
//    quote — this is how values with leading/trailing spaces survive;
//    "double quotes" and 'single quotes' are kept as part of the value;
//  * there are no inline comments, no escapes and no multi-line values;
//  * keys before any section belong to the section "DEFAULT", which is written
//    back without a header;
//  * a repeated section merges into the first, a repeated key overwrites the
//    value in place (the later line wins).
// goconfig's writer only quotes values containing a backtick (which its reader
// then gets wrong); ours quotes exactly the values that would not read back
// unchanged, so serialising is lossless for every single-line value while
// matching rclone's output byte for byte for ordinary configs.
import { ConfigError } from '../errors.js';

/** Section that holds keys written before the first `[section]` line (goconfig's name). */
export const DEFAULT_SECTION = 'DEFAULT';

// Go's unicode.IsSpace set, which is what strings.TrimSpace trims (JS trim() also trims U+FEFF).
const GO_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';
const LEADING_SPACE = new RegExp(`^[${GO_SPACE}]+`);
const TRAILING_SPACE = new RegExp(`[${GO_SPACE}]+$`);

/** strings.TrimSpace from Go. */
export function goTrimSpace(s: string): string {
  return s.replace(LEADING_SPACE, '').replace(TRAILING_SPACE, '');
}

interface Entry {
  value: string;
  /** Comment lines (with their `#`/`;`) written just above the key. */
  comments: string[];
}

interface Section {
  comments: string[];
  entries: Map<string, Entry>;
}

export class ConfigFile {
  private readonly data = new Map<string, Section>();
  /** Comments after the last entry; rclone drops these, we keep them at the end. */
  private trailingComments: string[] = [];

  /**
   * Parses rclone.conf text. `sourceName` (usually the file path) prefixes
   * error messages: `<source>: line 7: expected "key = value", got "…"`.
   */
  static parse(text: string, sourceName = 'config'): ConfigFile {
    const file = new ConfigFile();
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // UTF-8 BOM, as goconfig skips it
    const lines = text.split('\n');
    let section: string | undefined = DEFAULT_SECTION;
    let comments: string[] = [];
    const fail = (lineNo: number, what: string, line: string): never => {
      const shown = line.length > 80 ? `${line.slice(0, 77)}...` : line;
      throw new ConfigError(`${sourceName}: line ${lineNo}: ${what}, got ${JSON.stringify(shown)}`);
    };
    for (let i = 0; i < lines.length; i++) {
      const lineNo = i + 1;
      const line = goTrimSpace(lines[i]);
      if (line === '') continue;
      if (line[0] === '#' || line[0] === ';') {
        comments.push(line);
        continue;
      }
      if (line[0] === '[' && line[line.length - 1] === ']' && line.length >= 2) {
        const name = goTrimSpace(line.slice(1, -1));
        if (name === '') {
          // goconfig accepts `[]` and only fails on a key under it; we do the same.
          section = undefined;
          comments = [];
          continue;
        }
        section = name;
        const s = file.ensureSection(name);
        if (comments.length) s.comments = comments;
        comments = [];
        continue;
      }
      if (section === undefined) fail(lineNo, 'key outside of any section (empty section name not allowed)', line);
      const { key, value } = parseKeyValue(line, (what) => fail(lineNo, what, line));
      const s = file.ensureSection(section!);
      const existing = s.entries.get(key);
      if (existing) {
        existing.value = value;
        if (comments.length) existing.comments = comments;
      } else {
        s.entries.set(key, { value, comments });
      }
      comments = [];
    }
    file.trailingComments = comments;
    return file;
  }

  /** The file in rclone's layout: `[name]\nkey = value\n…\n\n` per section. */
  toString(): string {
    let out = '';
    let first = true;
    for (const [name, s] of this.data) {
      for (const c of s.comments) out += c + '\n';
      // goconfig writes DEFAULT without a header; that only reads back right if it comes first.
      if (!(name === DEFAULT_SECTION && first)) out += `[${name}]\n`;
      for (const [key, e] of s.entries) {
        for (const c of e.comments) out += c + '\n';
        out += `${formatKey(key)} = ${formatValue(e.value)}\n`;
      }
      out += '\n';
      first = false;
    }
    for (const c of this.trailingComments) out += c + '\n';
    return out;
  }

  /** Section names in file order. */
  sections(): string[] {
    return [...this.data.keys()];
  }

  hasSection(name: string): boolean {
    return this.data.has(name);
  }

  /** A copy of one section's options in file order, or undefined if there is no such section. */
  get(section: string): Record<string, string> | undefined {
    const s = this.data.get(section);
    if (!s) return undefined;
    // fromEntries defines own properties, so a key like "__proto__" stays a plain key.
    return Object.fromEntries([...s.entries].map(([k, e]) => [k, e.value]));
  }

  /** One section's options as ordered pairs (Records reorder integer-like keys; this does not). */
  entries(section: string): Array<[string, string]> {
    const s = this.data.get(section);
    return s ? [...s.entries].map(([k, e]) => [k, e.value]) : [];
  }

  getValue(section: string, key: string): string | undefined {
    return this.data.get(section)?.entries.get(key)?.value;
  }

  /** Sets one option, creating the section (at the end) if needed. Existing keys keep their place. */
  set(section: string, key: string, value: string): void {
    checkSectionName(section);
    checkKey(key);
    checkValue(key, value);
    const s = this.ensureSection(section);
    const e = s.entries.get(key);
    if (e) e.value = value;
    else s.entries.set(key, { value, comments: [] });
  }

  /** Creates an empty section if it does not exist. */
  addSection(section: string): void {
    checkSectionName(section);
    this.ensureSection(section);
  }

  deleteKey(section: string, key: string): boolean {
    return this.data.get(section)?.entries.delete(key) ?? false;
  }

  deleteSection(section: string): boolean {
    return this.data.delete(section);
  }

  /**
   * Renames a section in place, keeping its position, options and comments.
   * Throws if `from` is missing or `to` already exists.
   */
  renameSection(from: string, to: string): void {
    if (from === to) return;
    checkSectionName(to);
    if (!this.data.has(from)) throw new ConfigError(`can't rename: no section ${JSON.stringify(from)}`);
    if (this.data.has(to)) throw new ConfigError(`can't rename: section ${JSON.stringify(to)} already exists`);
    const rebuilt = new Map<string, Section>();
    for (const [name, s] of this.data) rebuilt.set(name === from ? to : name, s);
    this.data.clear();
    for (const [name, s] of rebuilt) this.data.set(name, s);
  }

  /** Copies a section's options (not its comments) to a new section at the end, like `rclone config copy`. */
  copySection(from: string, to: string): void {
    checkSectionName(to);
    const s = this.data.get(from);
    if (!s) throw new ConfigError(`can't copy: no section ${JSON.stringify(from)}`);
    if (this.data.has(to)) throw new ConfigError(`can't copy: section ${JSON.stringify(to)} already exists`);
    const copy = this.ensureSection(to);
    for (const [k, e] of s.entries) copy.entries.set(k, { value: e.value, comments: [] });
  }

  private ensureSection(name: string): Section {
    let s = this.data.get(name);
    if (!s) {
      s = { comments: [], entries: new Map() };
      this.data.set(name, s);
    }
    return s;
  }
}

/** Splits one (already trimmed, non-comment, non-section) line like goconfig's reader. */
function parseKeyValue(line: string, fail: (what: string) => never): { key: string; value: string } {
  let key: string;
  let sep: number;
  let keyQuote = '';
  if (line[0] === '"') keyQuote = line.length >= 6 && line.startsWith('"""') ? '"""' : '"';
  else if (line[0] === '`') keyQuote = '`';
  if (keyQuote) {
    const close = line.indexOf(keyQuote, keyQuote.length);
    if (close < 0) fail(`unterminated ${keyQuote} quote in key`);
    const rel = indexOfAny(line.slice(close), '=:');
    if (rel <= 0) fail('expected "key = value"');
    key = line.slice(keyQuote.length, close);
    sep = close + rel;
  } else {
    sep = indexOfAny(line, '=:');
    if (sep <= 0) fail('expected "key = value"');
    key = goTrimSpace(line.slice(0, sep));
  }
  const right = goTrimSpace(line.slice(sep + 1));
  let valQuote = '';
  if (right.length >= 2 && right[0] === '`') valQuote = '`';
  else if (right.length >= 6 && right.startsWith('"""')) valQuote = '"""';
  if (!valQuote) return { key, value: right };
  const close = right.lastIndexOf(valQuote);
  if (close < valQuote.length) fail(`unterminated ${valQuote} quote in value`);
  return { key, value: right.slice(valQuote.length, close) };
}

function indexOfAny(s: string, chars: string): number {
  for (let i = 0; i < s.length; i++) if (chars.includes(s[i])) return i;
  return -1;
}

/** Whether the value needs backtick quoting to read back unchanged. */
function valueNeedsQuotes(v: string): boolean {
  if (v !== goTrimSpace(v)) return true;
  if (v.length >= 2 && v[0] === '`') return true;
  if (v.length >= 6 && v.startsWith('"""')) return true;
  return false;
}

// A backtick-quoted value reads back as everything up to the last backtick, so any
// single-line value round-trips this way, backticks included.
function formatValue(v: string): string {
  return valueNeedsQuotes(v) ? '`' + v + '`' : v;
}

function keyNeedsQuotes(k: string): boolean {
  return (
    k !== goTrimSpace(k) ||
    /[=:]/.test(k) ||
    k[0] === '"' ||
    k[0] === '`' ||
    k[0] === '#' ||
    k[0] === ';' ||
    k[0] === '['
  );
}

function formatKey(k: string): string {
  return keyNeedsQuotes(k) ? '`' + k + '`' : k;
}

function checkSectionName(name: string): void {
  if (name === '' || name !== goTrimSpace(name) || name.includes('\n')) {
    throw new ConfigError(`invalid section name ${JSON.stringify(name)}`);
  }
}

function checkKey(key: string): void {
  if (key === '' || key.includes('\n')) throw new ConfigError(`invalid config key ${JSON.stringify(key)}`);
  // A quoted key ends at the first closing backtick, so a key needing quotes can't hold one.
  if (keyNeedsQuotes(key) && key.includes('`')) {
    throw new ConfigError(`config key ${JSON.stringify(key)} can't be written to an rclone config file`);
  }
}

function checkValue(key: string, value: string): void {
  // goconfig reads line by line, so a newline can't be stored (a CR can: only
  // '\n' ends a line, and quoting protects a trailing one).
  if (value.includes('\n')) {
    throw new ConfigError(`value of ${JSON.stringify(key)} contains a line break, which a config file can't hold`);
  }
}
