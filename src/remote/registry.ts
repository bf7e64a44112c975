// The backend registry: each remote type declares its options once, as data.
// The config wizard, `config show` redaction, env overrides and docs all read
// these declarations, the way rclone's fs.RegInfo drives `rclone config`.
import { ConfigError } from '../errors.js';
import { revealBytes } from '../crypt/obscure.js';
import { rememberSecret } from './redact.js';
import { secretCommandOptions } from './secret-command.js';
import type { Remote } from './remote.js';

export type OptionType = 'string' | 'bool' | 'int' | 'size' | 'duration' | 'enum';

export interface OptionExample {
  value: string;
  help: string;
}

export interface OptionSpec {
  /** rclone's option name (snake_case), as written in the config file. */
  readonly name: string;
  help: string;
  type?: OptionType; // default 'string'
  default?: string | number | boolean;
  /** Stored obscured in the config (rclone's IsPassword). */
  secret?: boolean;
  /** Not obscured, but redacted by `config show` (keys, tokens). */
  sensitive?: boolean;
  advanced?: boolean;
  required?: boolean;
  /** Not offered by the wizard. */
  hidden?: boolean;
  examples?: readonly OptionExample[];
  /** For 'enum': values must be one of the examples (case-insensitive). */
  exclusive?: boolean;
}

/** A backend's option declarations (OptionSpec per option). */
export type OptionSpecs = readonly OptionSpec[];

/**
 * Declares a backend's options. The declaration keeps each option's name and
 * type in its own type, so OptionValues over it accepts only declared names,
 * each read as its declared type (bool() only bool options, secret() only
 * secret ones): a misspelt or mistyped option is a compile error, as rclone's
 * configstruct makes it for Go.
 */
export function declareOptions<const T extends OptionSpecs>(specs: T): T {
  return specs;
}

/** The names in a declaration; plain `string` for one whose names are not known (OptionSpecs). */
type NamesWhere<T extends OptionSpecs, Shape> = string extends T[number]['name']
  ? string
  : Extract<T[number], Shape>['name'];
/** Options read as text: declared 'string' (the default) or 'enum'. */
type TextOption = { readonly name: string; readonly type?: 'string' | 'enum' };

export interface BackendContext<T extends OptionSpecs = OptionSpecs> {
  /** Config section name ('' for an unnamed local path). */
  name: string;
  /** Path inside the remote, as given after `name:`. */
  root: string;
  options: OptionValues<T>;
  /** Opens another remote by spec (`name:path` or a local path) — for wrapping backends like crypt. */
  openRemote(spec: string): Promise<Remote>;
}

export interface BackendSpec<T extends OptionSpecs = OptionSpecs> {
  type: string;
  description: string;
  options: T;
  /**
   * True when create() roots the remote at ctx.root itself; otherwise the
   * factory creates it at '' and wraps it so that ctx.root becomes its root.
   */
  handlesRoot?: boolean;
  create(ctx: BackendContext<T>): Promise<Remote>;
}

const backends = new Map<string, BackendSpec>();

export function registerBackend<const T extends OptionSpecs>(spec: BackendSpec<T>): void {
  // Every secret may also come from a command: declared here once for all backends.
  const options: OptionSpecs = [...spec.options, ...secretCommandOptions(spec.options)];
  // The registry holds every backend alike; each one's create() still reads only its declared names.
  backends.set(spec.type, { ...spec, options } as unknown as BackendSpec);
}

export function getBackend(type: string): BackendSpec {
  const b = backends.get(type);
  if (!b) {
    throw new ConfigError(`didn't find backend called ${JSON.stringify(type)}`); // rclone 1.60.1's words
  }
  return b;
}

export function listBackends(): BackendSpec[] {
  // Code-unit order (the names are ASCII): localeCompare's first call loads ICU's collator, ~13 ms of every start.
  return [...backends.values()].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}

/** Backend types that work but are not offered to users (test doubles): no flags, no help, not in the wizard's storage list (they can still be typed in there). */
export const HIDDEN_BACKEND_TYPES: ReadonlySet<string> = new Set(['memory']);

/** The backends offered to users: listBackends() without HIDDEN_BACKEND_TYPES. */
export function userBackends(): BackendSpec[] {
  return listBackends().filter((b) => !HIDDEN_BACKEND_TYPES.has(b.type));
}

const SIZE_SUFFIX: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** rclone's SizeSuffix for option values: "5M", "64Ki", "100" (a bare number is KiB, as in rclone), "100b" for bytes. */
export function parseSize(text: string, optionName = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmgtp]?)(i?b?)?\s*$/i.exec(text);
  if (!m) throw new ConfigError(`${optionName}: bad size ${JSON.stringify(text)}`);
  // rclone reads a bare number as KiB.
  const unit = m[2] === '' && !/b/i.test(m[3] ?? '') ? 1024 : SIZE_SUFFIX[m[2].toLowerCase()];
  return Math.round(Number(m[1]) * unit);
}

/**
 * Option durations: "1h30m", "10s", "500ms", "1d", "2w"; bare numbers are seconds. A subset of
 * rclone's fs.Duration (no M/y suffixes, no dates: see cli/durations.ts for the full rule).
 */
export function parseDuration(text: string, optionName = 'duration'): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
  let total = 0;
  let rest = t;
  const re = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/;
  if (rest === '') throw new ConfigError(`${optionName}: empty duration`);
  while (rest !== '') {
    const m = re.exec(rest);
    if (!m) throw new ConfigError(`${optionName}: bad duration ${JSON.stringify(text)}`);
    total += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

export function parseBool(text: string, optionName = 'option'): boolean {
  const t = text.trim().toLowerCase();
  if (['true', '1', 'yes', 'y', 't', 'on'].includes(t)) return true;
  if (['false', '0', 'no', 'n', 'f', 'off', ''].includes(t)) return false;
  throw new ConfigError(`${optionName}: bad boolean ${JSON.stringify(text)}`);
}

/** Option values of one remote, typed by its declaration. Raw values are strings, as in the INI file. */
export class OptionValues<T extends OptionSpecs = OptionSpecs> {
  /**
   * @param fromCommands values of secret options given as X_command, already
   *   run (resolveSecretCommands): plain values, not obscured.
   */
  constructor(
    readonly specs: T,
    readonly raw: Record<string, string>,
    readonly remoteName = '',
    private readonly fromCommands: ReadonlyMap<string, string> = new Map(),
  ) {
    // Whatever message later quotes one of these values, it goes out redacted.
    for (const s of specs) {
      const v = raw[s.name];
      if ((s.secret || s.sensitive) && v !== undefined && v !== '') rememberSecret(v);
    }
    for (const v of fromCommands.values()) rememberSecret(v);
  }

  spec(name: NamesWhere<T, unknown>): OptionSpec {
    const s = this.specs.find((o) => o.name === name);
    if (!s) throw new Error(`internal: option ${name} is not declared`);
    return s;
  }

  has(name: NamesWhere<T, unknown>): boolean {
    return (this.raw[name] !== undefined && this.raw[name] !== '') || this.fromCommands.has(name);
  }

  private value(name: NamesWhere<T, unknown>): string | undefined {
    const v = this.raw[name];
    if (v !== undefined && v !== '') return v;
    const fromCommand = this.fromCommands.get(name);
    if (fromCommand !== undefined) return fromCommand;
    const d = this.spec(name).default;
    return d === undefined ? undefined : String(d);
  }

  private where(name: NamesWhere<T, unknown>): string {
    return this.remoteName ? `${this.remoteName}: ${name}` : name;
  }

  string(name: NamesWhere<T, TextOption>): string {
    const v = this.value(name);
    if (v === undefined && this.spec(name).required) {
      throw new ConfigError(`${name} not set in config file`);
    }
    return v ?? '';
  }

  bool(name: NamesWhere<T, { readonly type: 'bool' }>): boolean {
    return parseBool(this.value(name) ?? 'false', this.where(name));
  }

  int(name: NamesWhere<T, { readonly type: 'int' }>): number {
    const v = this.value(name) ?? '0';
    if (!/^-?\d+$/.test(v.trim())) throw new ConfigError(`${this.where(name)}: bad integer ${JSON.stringify(v)}`);
    return Number(v);
  }

  size(name: NamesWhere<T, { readonly type: 'size' }>): number {
    return parseSize(this.value(name) ?? '0', this.where(name));
  }

  duration(name: NamesWhere<T, { readonly type: 'duration' }>): number {
    return parseDuration(this.value(name) ?? '0', this.where(name));
  }

  /** An enum value, lower-cased and checked against the declared examples. */
  choice(name: NamesWhere<T, { readonly type: 'enum' }>): string {
    const v = this.string(name).toLowerCase();
    const spec = this.spec(name);
    const allowed = (spec.examples ?? []).map((e) => e.value.toLowerCase());
    if (spec.exclusive && allowed.length && !allowed.includes(v)) {
      throw new ConfigError(`${this.where(name)}: ${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
    }
    return v;
  }

  /**
   * A secret option, revealed (values are stored obscured) to its bytes, exactly
   * as rclone reveals it: they need not be UTF-8, and keys are derived from them.
   */
  secret(name: NamesWhere<T, { readonly secret: true }>): Buffer {
    const fromCommand = this.fromCommands.get(name);
    if (fromCommand !== undefined) return Buffer.from(fromCommand, 'utf8');
    const v = this.raw[name];
    if (v === undefined || v === '') {
      if (this.spec(name).required) {
        // rclone's words (crypt: "password not set in config file"); the caller names the remote.
        throw new ConfigError(`${name} not set in config file`);
      }
      return Buffer.alloc(0);
    }
    try {
      return revealBytes(v);
    } catch (err) {
      throw new ConfigError(`failed to decrypt ${this.where(name)}: ${(err as Error).message}`, { cause: err });
    }
  }
}
