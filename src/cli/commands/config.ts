// `cryptfs config`: the interactive wizard on a terminal, and rclone's scripted
// subcommands (create, update, delete, show, dump, file, password, touch,
// paths, providers) for use without one.
//
// What is redacted and what is obscured comes from the backends' option
// declarations (OptionSpec.secret / .sensitive), never from per-backend code.
// Unlike rclone 1.60, `config show` hides secret and sensitive values unless
// --reveal is given; it always prints the file's values, not environment
// overrides (CRYPTFS_CONFIG_… / RCLONE_CONFIG_…), and says so when any apply.
import { commandOptionName } from '../../remote/secret-command.js';
import { tmpdir } from 'node:os';
import type { ReadStream } from 'node:tty';
import { flagBool, flagString, type FlagSpec } from '../args.js';
import { registerCommand, usageText, type CommandContext, type CommandSpec } from '../command.js';
import { loadConfigSource } from '../config-source.js';
import { writeOut } from '../util.js';
import {
  ConfigWizard,
  ENCRYPTED_PLACEHOLDER,
  LineStreamIO,
  TtyIO,
  canonicalOptionValue,
  isRemoteReference,
  looksObscured,
  remoteReferenceProblem,
} from '../wizard.js';
import { ConfigFile, DEFAULT_SECTION } from '../../config/config-file.js';
import type { ConfigStore } from '../../config/config-store.js';
import { resolveConfigPath } from '../../config/config-path.js';
import { checkRemoteName } from '../../config/remote-spec.js';
import { obscure } from '../../crypt/obscure.js';
import { ConfigError, UsageError, errorMessage } from '../../errors.js';
import { log } from '../../log.js';
import { getBackend, listBackends, type BackendSpec } from '../../remote/registry.js';
import '../../remote/backends.js';

const flags: Record<string, FlagSpec> = {
  obscure: { name: 'obscure', type: 'bool', help: 'Force any passwords to be obscured' },
  noObscure: { name: 'no-obscure', type: 'bool', help: 'Force any passwords not to be obscured' },
  nonInteractive: {
    name: 'non-interactive',
    type: 'bool',
    help: "Don't interact with user and return questions (as JSON)",
  },
  reveal: { name: 'reveal', type: 'bool', help: 'Show secret values as stored in the file instead of hiding them' },
};

interface Subcommand {
  name: string;
  use: string;
  short: string;
  minArgs: number;
  maxArgs: number;
  flags: FlagSpec[];
  run(ctx: CommandContext, args: string[]): Promise<void>;
}

/** Prints rclone's "Error: … / usage" block and fails with exit code 1. */
function usageFailure(ctx: CommandContext, sub: Subcommand, message: string): never {
  const spec: CommandSpec = { ...sub, name: `config ${sub.name}`, run: async () => undefined };
  ctx.stderr.write(`Error: ${message}\n${usageText(spec)}\n`);
  throw new UsageError(message);
}

/** rclone's argsToMap: `key=value` or `key value` pairs, later keys win. */
export function parseKeyValues(args: string[]): Array<[string, string]> {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.indexOf('=');
    if (eq >= 0) {
      out.set(arg.slice(0, eq), arg.slice(eq + 1));
      continue;
    }
    if (i + 1 >= args.length) throw new ConfigError('found key without value');
    out.set(arg, args[++i]);
  }
  return [...out];
}

export type ObscureMode = 'auto' | 'force' | 'never';

function obscureMode(ctx: CommandContext, sub: Subcommand): ObscureMode {
  const force = flagBool(ctx.flags, 'obscure');
  const never = flagBool(ctx.flags, 'no-obscure');
  if (force && never) usageFailure(ctx, sub, "can't use --obscure and --no-obscure together");
  return force ? 'force' : never ? 'never' : 'auto';
}

/**
 * The value to store for a secret option given on the command line
 * (docs/crypt-format.md §2): obscured unless it already is one (or --no-obscure);
 * --obscure forces it.
 */
export function storedSecret(value: string, mode: ObscureMode, label: string): string {
  if (value === '' || mode === 'never') return value;
  if (mode === 'force') return obscure(value);
  if (looksObscured(value)) {
    log.info(`${label}: value is already obscured - stored as given (use --obscure if it is the plain password)`);
    return value;
  }
  return obscure(value);
}

/** Checks and converts command-line values against the backend's declarations. */
function prepareValues(
  backend: BackendSpec,
  pairs: Array<[string, string]>,
  mode: ObscureMode,
  remote: string,
  store: ConfigStore,
): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [key, value] of pairs) {
    if (key === 'type') continue;
    const spec = backend.options.find((o) => o.name === key);
    const label = `${remote}: ${key}`;
    if (!spec) {
      log.notice(`${label}: not an option of type ${backend.type} - stored anyway`);
      out.push([key, value]);
      continue;
    }
    if (spec.secret) {
      out.push([key, storedSecret(value, mode, label)]);
      continue;
    }
    if (value === '') {
      out.push([key, value]);
      continue;
    }
    let canonical: string;
    try {
      canonical = canonicalOptionValue(spec, value);
    } catch (err) {
      throw new ConfigError(`${label}: ${errorMessage(err)}`, { cause: err });
    }
    if (isRemoteReference(spec)) {
      const problem = remoteReferenceProblem(canonical, store, remote);
      if (problem) log.notice(`${label}: ${problem}`);
    }
    out.push([key, canonical]);
  }
  return out;
}

/**
 * Advice about a remote's settings, shown by the wizard and after create/update.
 * The issue asks for this one explicitly: crypt without password2 uses rclone's
 * built-in salt.
 */
export function remoteWarnings(type: string, options: Record<string, string>): string[] {
  const out: string[] = [];
  if (type === 'crypt' && (options.password2 ?? '') === '' && (options.password2_command ?? '') === '') {
    out.push(
      'password2 (the salt) is not set: the built-in salt is shared by every user, so the same password ' +
        'gives the same keys everywhere. Setting password2 to a secret value of your own is recommended.',
    );
  }
  return out;
}

/** Warnings after a remote was written: required options left unset, and the backend's own advice. */
function warnAbout(store: ConfigStore, name: string, backend: BackendSpec): void {
  const values = store.file.get(name) ?? {};
  for (const spec of backend.options) {
    const fromCommand = (values[commandOptionName(spec.name)] ?? '') !== '';
    if (spec.required && (values[spec.name] ?? '') === '' && !fromCommand) {
      log.notice(`${name}: required option "${spec.name}" is not set`);
    }
  }
  for (const w of remoteWarnings(backend.type, values)) log.notice(`${name}: ${w}`);
}

function backendOrUndefined(type: string | undefined): BackendSpec | undefined {
  if (!type) return undefined;
  try {
    return getBackend(type);
  } catch {
    return undefined;
  }
}

/** Keys that are probably secret, for remotes of a type this program does not know. */
const SECRET_LOOKING_KEY = /pass|secret|token|credential|(^|_)key$/i;

/** Whether `config show` hides a value (secret or sensitive per the declaration). */
export function isRedacted(backend: BackendSpec | undefined, key: string): boolean {
  if (!backend) return SECRET_LOOKING_KEY.test(key);
  const spec = backend.options.find((o) => o.name === key);
  return Boolean(spec?.secret || spec?.sensitive);
}

/** A remote's options in config file format (`[name]` and `key = value` lines), redacted unless `reveal`. */
function optionsText(name: string, options: Array<[string, string]>, type: string | undefined, reveal: boolean): string {
  const backend = backendOrUndefined(type);
  const copy = new ConfigFile();
  copy.addSection(name);
  for (const [key, value] of options) {
    copy.set(name, key, !reveal && value !== '' && isRedacted(backend, key) ? ENCRYPTED_PLACEHOLDER : value);
  }
  return copy.toString().replace(/\n+$/, '\n');
}

/** One remote of the config file, as optionsText prints it. */
function sectionText(store: ConfigStore, name: string, reveal: boolean): string {
  return optionsText(name, store.file.entries(name), store.file.getValue(name, 'type'), reveal);
}

/** Says which of a remote's options the environment overrides (config show prints the file's). */
function noteEnvOverrides(store: ConfigStore, name: string): void {
  const merged = store.remoteOptions(name) ?? {};
  const file = store.file.get(name) ?? {};
  const overridden = Object.keys(merged).filter((k) => merged[k] !== file[k]);
  if (overridden.length > 0) {
    log.notice(
      `${name}: environment variables override ${overridden.join(', ')} - config show prints the file's values`,
    );
  }
}

async function showRemoteSummary(ctx: CommandContext, store: ConfigStore, name: string): Promise<void> {
  await writeOut(ctx.stdout, sectionText(store, name, flagBool(ctx.flags, 'reveal')));
}

/** A subcommand's `key=value` arguments; malformed ones fail with its usage text. */
function keyValuesOrUsage(ctx: CommandContext, sub: Subcommand, args: string[]): Array<[string, string]> {
  try {
    return parseKeyValues(args);
  } catch (err) {
    usageFailure(ctx, sub, errorMessage(err));
  }
}

/**
 * The end of create/update: warns, saves, then answers as rclone does - the
 * remote's section, or with --non-interactive the final state of its config
 * state machine.
 */
async function saveAndAnswer(
  ctx: CommandContext,
  store: ConfigStore,
  name: string,
  backend: BackendSpec,
): Promise<void> {
  warnAbout(store, name, backend);
  await store.save();
  if (flagBool(ctx.flags, 'non-interactive')) {
    // No backend here has a multi-step config state machine: the answer is always "done".
    await writeOut(ctx.stdout, JSON.stringify({ State: '', Option: null, Error: '', Result: '' }, null, '\t') + '\n');
    return;
  }
  await showRemoteSummary(ctx, store, name);
}

function isTerminal(stream: NodeJS.ReadableStream): stream is ReadStream {
  const s = stream as Partial<ReadStream>;
  return s.isTTY === true && typeof s.setRawMode === 'function';
}

async function interactive(ctx: CommandContext): Promise<void> {
  const store = await loadConfigSource(ctx.flags);
  if (!store.existed) log.notice(`Config file ${JSON.stringify(store.path)} not found - using defaults`);
  const io = isTerminal(ctx.stdin) ? new TtyIO(ctx.stdin, ctx.stdout) : new LineStreamIO(ctx.stdin, ctx.stdout);
  try {
    await new ConfigWizard(store, io, { warnings: remoteWarnings }).run();
  } finally {
    io.close();
  }
}

const subcommands: Subcommand[] = [
  {
    name: 'edit',
    use: '',
    short: 'Enter an interactive configuration session (the same as "cryptfs config").',
    minArgs: 0,
    maxArgs: 0,
    flags: [],
    run: (ctx) => interactive(ctx),
  },
  {
    name: 'create',
    use: 'name type [key=value]*',
    short: 'Create a new remote with name, type and options.',
    minArgs: 2,
    maxArgs: Number.POSITIVE_INFINITY,
    flags: [flags.noObscure, flags.nonInteractive, flags.obscure],
    async run(ctx, [name, type, ...rest]) {
      const sub = subcommand('create');
      const mode = obscureMode(ctx, sub);
      try {
        checkRemoteName(name);
      } catch (err) {
        usageFailure(ctx, sub, errorMessage(err));
      }
      const backend = backendOrUndefined(type);
      if (!backend) usageFailure(ctx, sub, `couldn't find backend for type ${JSON.stringify(type)}`);
      const pairs = keyValuesOrUsage(ctx, sub, rest);
      const store = await loadConfigSource(ctx.flags);
      const values = prepareValues(backend, pairs, mode, name, store);
      if (store.file.hasSection(name)) {
        log.notice(`${name}: replacing the existing remote of that name`);
        store.file.deleteSection(name);
      }
      store.file.set(name, 'type', backend.type);
      for (const [k, v] of values) store.file.set(name, k, v);
      await saveAndAnswer(ctx, store, name, backend);
    },
  },
  {
    name: 'update',
    use: 'name [key=value]+',
    short: 'Update options in an existing remote.',
    minArgs: 2,
    maxArgs: Number.POSITIVE_INFINITY,
    flags: [flags.noObscure, flags.nonInteractive, flags.obscure],
    async run(ctx, [name, ...rest]) {
      const sub = subcommand('update');
      const mode = obscureMode(ctx, sub);
      const pairs = keyValuesOrUsage(ctx, sub, rest);
      const store = await loadConfigSource(ctx.flags);
      if (!store.file.hasSection(name)) throw new ConfigError(`couldn't find remote ${JSON.stringify(name)} in config file`);
      const newType = pairs.find(([k]) => k === 'type')?.[1];
      const type = newType ?? store.file.getValue(name, 'type');
      if (!type) throw new ConfigError(`${name}: type not set in config file`);
      const backend = getBackend(type);
      const values = prepareValues(backend, pairs, mode, name, store);
      if (newType !== undefined) store.file.set(name, 'type', backend.type);
      for (const [k, v] of values) store.file.set(name, k, v);
      await saveAndAnswer(ctx, store, name, backend);
    },
  },
  {
    name: 'password',
    use: 'name [key=value]+',
    short: 'Set password options of an existing remote (the values are obscured).',
    minArgs: 2,
    maxArgs: Number.POSITIVE_INFINITY,
    flags: [],
    async run(ctx, [name, ...rest]) {
      const pairs = keyValuesOrUsage(ctx, subcommand('password'), rest);
      const store = await loadConfigSource(ctx.flags);
      if (!store.file.hasSection(name)) throw new ConfigError(`couldn't find remote ${JSON.stringify(name)} in config file`);
      const type = store.file.getValue(name, 'type') ?? '';
      const backend = getBackend(type);
      for (const [key] of pairs) {
        if (!backend.options.find((o) => o.name === key)?.secret) {
          throw new ConfigError(`${name}: ${JSON.stringify(key)} is not a password option of type ${type}`);
        }
      }
      for (const [key, value] of pairs) store.file.set(name, key, storedSecret(value, 'force', `${name}: ${key}`));
      warnAbout(store, name, backend);
      await store.save();
      await showRemoteSummary(ctx, store, name);
    },
  },
  {
    name: 'delete',
    use: 'name',
    short: 'Delete an existing remote.',
    minArgs: 1,
    maxArgs: 1,
    flags: [],
    async run(ctx, [name]) {
      const store = await loadConfigSource(ctx.flags);
      if (!store.file.deleteSection(name)) {
        // rclone exits 0 here too; say so rather than fail a cleanup script.
        log.notice(`${name}: no such remote in config file - nothing deleted`);
        return;
      }
      await store.save();
    },
  },
  {
    name: 'show',
    use: '[name]',
    short: 'Print (decrypted) config file, or the config for a single remote; secrets hidden unless --reveal.',
    minArgs: 0,
    maxArgs: 1,
    flags: [flags.reveal],
    async run(ctx, [name]) {
      const store = await loadConfigSource(ctx.flags);
      const reveal = flagBool(ctx.flags, 'reveal');
      if (name !== undefined) {
        if (!store.file.hasSection(name)) {
          const merged = store.remoteOptions(name);
          if (!merged) throw new ConfigError(`couldn't find remote ${JSON.stringify(name)} in config file`);
          // Defined only by environment variables: show what they define, marked as such.
          const text = optionsText(name, Object.entries(merged), merged.type, reveal);
          await writeOut(ctx.stdout, `; defined by environment variables, not in the config file\n${text}`);
          return;
        }
        await writeOut(ctx.stdout, sectionText(store, name, reveal));
        noteEnvOverrides(store, name);
        return;
      }
      const names = store.file.sections().filter((s) => s !== DEFAULT_SECTION || store.file.entries(s).length > 0);
      if (names.length === 0) {
        await writeOut(ctx.stdout, '; empty config\n');
        return;
      }
      if (reveal) {
        await writeOut(ctx.stdout, store.file.toString());
      } else {
        await writeOut(ctx.stdout, names.map((n) => sectionText(store, n, false)).join('\n') + '\n');
      }
      for (const n of names) noteEnvOverrides(store, n);
      const envOnly = store.remoteNames().filter((n) => !store.file.hasSection(n));
      if (envOnly.length > 0) {
        log.notice(`remotes defined only by environment variables (not shown): ${envOnly.join(', ')}`);
      }
    },
  },
  {
    name: 'dump',
    use: '',
    short: 'Dump the config file as JSON (values as stored: secrets stay obscured).',
    minArgs: 0,
    maxArgs: 0,
    flags: [],
    async run(ctx) {
      const store = await loadConfigSource(ctx.flags);
      const out: Record<string, Record<string, string>> = {};
      for (const name of [...store.file.sections()].sort()) {
        const entries = store.file.entries(name).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        out[name] = Object.fromEntries(entries);
      }
      await writeOut(ctx.stdout, JSON.stringify(out, null, 4) + '\n');
    },
  },
  {
    name: 'file',
    use: '',
    short: 'Show path of configuration file in use.',
    minArgs: 0,
    maxArgs: 0,
    flags: [],
    async run(ctx) {
      const choice = resolveConfigPath({ flag: flagString(ctx.flags, 'config') || undefined });
      const head = choice.exists
        ? 'Configuration file is stored at:'
        : "Configuration file doesn't exist, but cryptfs will use this path:";
      await writeOut(ctx.stdout, `${head}\n${choice.path}\n`);
    },
  },
  {
    name: 'touch',
    use: '',
    short: 'Ensure configuration file exists.',
    minArgs: 0,
    maxArgs: 0,
    flags: [],
    async run(ctx) {
      const choice = resolveConfigPath({ flag: flagString(ctx.flags, 'config') || undefined });
      if (choice.exists) return;
      const store = await loadConfigSource(ctx.flags);
      await store.save();
    },
  },
  {
    name: 'paths',
    use: '',
    short: 'Show paths used for configuration and temporary files.',
    minArgs: 0,
    maxArgs: 0,
    flags: [],
    async run(ctx) {
      const choice = resolveConfigPath({ flag: flagString(ctx.flags, 'config') || undefined });
      await writeOut(ctx.stdout, `Config file: ${choice.path}\nTemp dir:    ${tmpdir()}\n`);
    },
  },
  {
    name: 'providers',
    use: '',
    short: 'List in JSON format all the providers and options.',
    minArgs: 0,
    maxArgs: 0,
    flags: [],
    async run(ctx) {
      // rclone's field names, so tools that read `rclone config providers` can read this.
      const providers = listBackends().map((b) => ({
        Name: b.type,
        Description: b.description,
        Prefix: b.type,
        Options: b.options.map((o) => ({
          Name: o.name,
          Help: o.help,
          Default: o.default ?? '',
          Examples: (o.examples ?? []).map((e) => ({ Value: e.value, Help: e.help })),
          Required: o.required ?? false,
          IsPassword: o.secret ?? false,
          Sensitive: o.sensitive ?? false,
          Advanced: o.advanced ?? false,
          Hide: o.hidden ? 1 : 0,
          Exclusive: o.exclusive ?? false,
          Type: o.type ?? 'string',
        })),
      }));
      await writeOut(ctx.stdout, JSON.stringify(providers, null, '\t') + '\n');
    },
  },
];

function subcommand(name: string): Subcommand {
  return subcommands.find((s) => s.name === name)!;
}

const LONG_HELP = `Enter an interactive configuration session where you can set up new
remotes and manage existing ones. You may also set or remove a password to
protect your configuration (rclone's RCLONE_ENCRYPT_V0 format: rclone opens it
with the same password).

Without a terminal, use the subcommands:

${subcommands.map((s) => `  ${`${s.name} ${s.use}`.trim().padEnd(30)} ${s.short}`).join('\n')}

Values of password options given to create/update are obscured unless they
already are (--obscure forces it, --no-obscure stores them as given).
"config show" prints the file's values: options set by CRYPTFS_CONFIG_<REMOTE>_<OPTION>
or RCLONE_CONFIG_<REMOTE>_<OPTION> environment variables are not shown (a notice
says which apply).`;

registerCommand({
  name: 'config',
  use: '[command]',
  short: 'Enter an interactive configuration session.',
  long: LONG_HELP,
  minArgs: 0,
  maxArgs: Number.POSITIVE_INFINITY,
  flags: [flags.noObscure, flags.nonInteractive, flags.obscure, flags.reveal],
  async run(ctx, args) {
    if (args.length === 0) return interactive(ctx);
    const [name, ...rest] = args;
    const sub = subcommands.find((s) => s.name === name);
    if (!sub) {
      const message = `unknown command ${JSON.stringify(name)} for "cryptfs config"`;
      ctx.stderr.write(`Error: ${message}\nRun 'cryptfs config --help' for usage.\n`);
      throw new UsageError(message);
    }
    if (rest.length < sub.minArgs || rest.length > sub.maxArgs) {
      const n = rest.length;
      const bound = n < sub.minArgs ? `${sub.minArgs} arguments minimum` : `${sub.maxArgs} arguments maximum`;
      usageFailure(
        ctx,
        sub,
        `Command ${sub.name} needs ${bound}: you provided ${n} non flag arguments: [${rest.map((a) => JSON.stringify(a)).join(' ')}]`,
      );
    }
    await sub.run(ctx, rest);
  },
});
