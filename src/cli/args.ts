// Command-line parsing in the style of rclone (cobra/pflag): long flags with
// `--name value` or `--name=value`, short flags (`-v`, `-vv`, `-P`), flags
// anywhere among the arguments, `--` ends flags.
import { UsageError } from '../errors.js';

/** A `--name` no flag spec declares; `flag` keeps what was typed, for "did you mean". */
export class UnknownFlagError extends UsageError {
  constructor(readonly flag: string) {
    super(`unknown flag: ${flag}`);
  }
}

export type FlagType = 'bool' | 'string' | 'int' | 'count' | 'strings' | 'size' | 'duration';

export interface FlagSpec {
  name: string;
  short?: string;
  type: FlagType;
  help: string;
  default?: string | number | boolean | string[];
  /** Hidden from help. */
  hidden?: boolean;
}

export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

export interface ParsedArgs {
  flags: FlagValues;
  /** Which flags were given explicitly. */
  given: Set<string>;
  args: string[];
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Parses `argv` against the given flag specs. Flag values are keyed by their long name. */
export function parseArgs(argv: string[], specs: FlagSpec[]): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const flags: FlagValues = {};
  const given = new Set<string>();
  for (const s of specs) {
    if (s.default !== undefined) flags[s.name] = Array.isArray(s.default) ? [...s.default] : s.default;
    else if (s.type === 'bool') flags[s.name] = false;
    else if (s.type === 'count') flags[s.name] = 0;
    else if (s.type === 'strings') flags[s.name] = [];
  }
  const args: string[] = [];

  const setValue = (spec: FlagSpec, raw: string | undefined, shown: string): void => {
    given.add(spec.name);
    switch (spec.type) {
      case 'bool': {
        const v = raw === undefined ? 'true' : raw.toLowerCase();
        if (!['true', 'false', '1', '0', 't', 'f'].includes(v)) {
          throw new UsageError(`invalid argument "${raw}" for "${shown}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`);
        }
        flags[spec.name] = ['true', '1', 't'].includes(v);
        return;
      }
      case 'count':
        flags[spec.name] = raw === undefined ? Number(flags[spec.name] ?? 0) + 1 : Number(raw);
        return;
      case 'int': {
        if (raw === undefined || !/^-?\d+$/.test(raw)) {
          throw new UsageError(`invalid argument "${raw ?? ''}" for "${shown}" flag: strconv.ParseInt: parsing "${raw ?? ''}": invalid syntax`);
        }
        flags[spec.name] = Number(raw);
        return;
      }
      case 'strings':
        (flags[spec.name] as string[]).push(raw ?? '');
        return;
      default:
        flags[spec.name] = raw ?? '';
    }
  };

  let i = 0;
  while (i < argv.length) {
    const a = argv[i++];
    if (a === '--') {
      args.push(...argv.slice(i));
      break;
    }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const spec = byLong.get(name) ?? byLong.get(name.replace(/_/g, '-'));
      if (!spec) throw new UnknownFlagError(`--${name}`);
      let raw: string | undefined = eq >= 0 ? a.slice(eq + 1) : undefined;
      if (raw === undefined && spec.type !== 'bool' && spec.type !== 'count') {
        if (i >= argv.length) throw new UsageError(`flag needs an argument: --${name}`);
        raw = argv[i++];
      }
      setValue(spec, raw, `--${spec.name}`);
      continue;
    }
    if (a.startsWith('-') && a.length > 1 && a !== '-') {
      // A cluster of short flags: -vv, -P, -n; the last may take a value (-o x).
      let j = 1;
      while (j < a.length) {
        const ch = a[j];
        const spec = byShort.get(ch);
        if (!spec) throw new UsageError(`unknown shorthand flag: '${ch}' in ${a}`);
        const shown = `-${ch}, --${spec.name}`;
        if (spec.type === 'bool' || spec.type === 'count') {
          if (a[j + 1] === '=') {
            setValue(spec, a.slice(j + 2), shown);
            j = a.length;
          } else {
            setValue(spec, undefined, shown);
            j++;
          }
          continue;
        }
        let raw = a.slice(j + 1);
        if (raw.startsWith('=')) raw = raw.slice(1);
        if (raw === '') {
          if (i >= argv.length) throw new UsageError(`flag needs an argument: '${ch}' in -${ch}`);
          raw = argv[i++];
        }
        setValue(spec, raw, shown);
        j = a.length;
      }
      continue;
    }
    args.push(a);
  }
  return { flags, given, args };
}

/** Reads a flag value typed. */
export function flagString(f: FlagValues, name: string): string {
  const v = f[name];
  return v === undefined ? '' : String(v);
}

export function flagNumber(f: FlagValues, name: string): number {
  return Number(f[name] ?? 0);
}

export function flagBool(f: FlagValues, name: string): boolean {
  return f[name] === true;
}

export function flagStrings(f: FlagValues, name: string): string[] {
  const v = f[name];
  return Array.isArray(v) ? v : [];
}

export { camel as flagKey };
