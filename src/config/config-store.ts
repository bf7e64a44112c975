// The loaded config: the file (decrypted if it was encrypted), environment
// overrides, and saving back.
//
// Option precedence for a named remote, highest first:
//   1. options inline in the spec (`name,opt=v:path`) — applied by the caller
//   2. CRYPTFS_CONFIG_<REMOTE>_<OPTION>
//   3. RCLONE_CONFIG_<REMOTE>_<OPTION>
//   4. the remote's section in the config file
//   5. CRYPTFS_<TYPE>_<OPTION>   (backendEnvOverrides / backendDefaults)
//   6. RCLONE_<TYPE>_<OPTION>
//   7. the option's declared default (OptionValues)
// <REMOTE> and <OPTION> are upper-cased with `-` turned into `_`; rclone's own
// spelling (remote name upper-cased as is, e.g. RCLONE_CONFIG_MY-REMOTE_TYPE)
// is accepted too. A variable that is set but empty still overrides (it sets the
// option to ''), as in rclone. A remote can exist only in the environment,
// through <PREFIX>_CONFIG_<REMOTE>_TYPE; its name is the lower-cased <REMOTE>.
//
// NOTE: rclone 1.60.1 ranks 5/6 above 4: with RCLONE_CRYPT_FILENAME_ENCODING
// set, rclone uses it even for crypt remotes whose section sets
// filename_encoding (checked against the binary). Here backend-wide variables
// are defaults below the file, as the design asks; change the order in the
// caller if exact rclone behaviour is wanted.
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { lstat, mkdir, open, readFile, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from '../errors.js';
import type { OptionSpec } from '../remote/registry.js';
import { ConfigFile } from './config-file.js';
import {
  configKeyFromPassword,
  decryptConfig,
  encryptConfig,
  isEncryptedConfig,
  WrongConfigPasswordError,
} from './encrypted-config.js';
import { canPrompt, NOT_ALLOWED_TO_ASK, promptHidden, suppliedPassword } from './password.js';

export interface ConfigStoreOptions {
  /** Absolute path of the config file (see resolveConfigPath). */
  path: string;
  /** Environment for overrides and passwords (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** --password-command. */
  passwordCommand?: string;
  /** Whether to prompt for the config password on a terminal (rclone's --ask-password; default true). */
  askPassword?: boolean;
  /** Replaces the terminal prompt (e.g. a GUI); called only when prompting is allowed. */
  prompt?: (message: string) => Promise<string>;
  /** Where warnings go (default: stderr). */
  warn?: (message: string) => void;
  /**
   * The key of the encrypted config, derived already (by the `mount --daemon`
   * parent, which asked for the password on its terminal); used before any
   * password source.
   */
  key?: Buffer;
}

const PROMPT_ATTEMPTS = 3;

/** `my-remote` → candidate env spellings of <REMOTE>: rclone's (`MY-REMOTE`) and ours (`MY_REMOTE`). */
function envNameForms(name: string): string[] {
  const upper = name.toUpperCase();
  const underscored = upper.replace(/-/g, '_');
  return upper === underscored ? [upper] : [underscored, upper];
}

function envOptionName(option: string): string {
  return option.toUpperCase().replace(/-/g, '_');
}

/** Normal form for matching env-derived names against section names. */
function envKeyOf(name: string): string {
  return name.toUpperCase().replace(/-/g, '_');
}

export class ConfigStore {
  private constructor(
    /** Where the file is read from and saved to. */
    readonly path: string,
    /** Whether the file existed when loaded. */
    readonly existed: boolean,
    /** The file contents; edit it, then save(). */
    readonly file: ConfigFile,
    private key: Buffer | undefined,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /**
   * Reads the config at `options.path`, decrypting it if needed. A missing
   * file gives an empty config (saved on first save()).
   */
  static async load(options: ConfigStoreOptions): Promise<ConfigStore> {
    const env = options.env ?? process.env;
    let text: string;
    try {
      text = await readFile(options.path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return new ConfigStore(options.path, false, new ConfigFile(), undefined, env);
      throw new ConfigError(`failed to read config file ${options.path}: ${(err as Error).message}`, { cause: err });
    }
    let key: Buffer | undefined;
    if (isEncryptedConfig(text)) {
      const opened = await unlock(text, options, env);
      text = opened.plain;
      key = opened.key;
    }
    return new ConfigStore(options.path, true, ConfigFile.parse(text, options.path), key, env);
  }

  /** A store over in-memory text (nothing is read; save() writes to `path`). */
  static fromFile(path: string, file: ConfigFile, env: NodeJS.ProcessEnv = process.env): ConfigStore {
    return new ConfigStore(path, false, file, undefined, env);
  }

  /** Whether save() encrypts. */
  get encrypted(): boolean {
    return this.key !== undefined;
  }

  /** A copy of the key of an encrypted config (for the `mount --daemon` child); undefined if not encrypted. */
  keyForHandoff(): Buffer | undefined {
    return this.key ? Buffer.from(this.key) : undefined;
  }

  /** Sets (or with undefined removes) the config password; takes effect on save(). */
  setPassword(password: string | undefined, warn?: (message: string) => void): void {
    this.key = password === undefined ? undefined : configKeyFromPassword(password, warn);
  }

  /** The text save() would write (encrypted if the store is). */
  serialise(): string {
    const plain = this.file.toString();
    return this.key ? encryptConfig(plain, this.key) : plain;
  }

  /**
   * Writes the config atomically: a temp file in the same directory, fsync,
   * rename over the old one, fsync the directory. New files get mode 0600; an
   * existing file keeps its mode (as rclone does). A symlinked config is
   * written through to its target.
   */
  async save(): Promise<void> {
    const text = this.serialise();
    let target = this.path;
    let mode = 0o600;
    try {
      if ((await lstat(target)).isSymbolicLink()) target = await realpath(target);
      mode = (await stat(target)).mode & 0o7777;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const dir = dirname(target);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
    const fh = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    try {
      try {
        await fh.writeFile(text, 'utf8');
        if (mode !== 0o600) await fh.chmod(mode);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, target);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw new ConfigError(`failed to save config file ${target}: ${(err as Error).message}`, { cause: err });
    }
    // Make the rename itself durable; not every filesystem lets a directory be fsynced.
    const dh = await open(dir, 'r').catch(() => undefined);
    await dh?.sync().catch(() => undefined);
    await dh?.close();
  }

  /** Remote names: the file's sections, then remotes defined only by environment variables. */
  remoteNames(): string[] {
    const names = this.file.sections();
    const known = new Set(names.map(envKeyOf));
    for (const prefix of ['CRYPTFS_CONFIG_', 'RCLONE_CONFIG_']) {
      for (const key of Object.keys(this.env).sort()) {
        if (!key.startsWith(prefix) || !key.endsWith('_TYPE')) continue;
        const upper = key.slice(prefix.length, -'_TYPE'.length);
        if (upper === '' || known.has(envKeyOf(upper))) continue;
        known.add(envKeyOf(upper));
        names.push(upper.toLowerCase());
      }
    }
    return names;
  }

  hasRemote(name: string): boolean {
    return this.file.hasSection(name) || this.envOption(name, 'type') !== undefined;
  }

  /** Value of one option from CRYPTFS_CONFIG_… or RCLONE_CONFIG_…, if set. */
  private envOption(remote: string, option: string): string | undefined {
    const opt = envOptionName(option);
    for (const prefix of ['CRYPTFS_CONFIG_', 'RCLONE_CONFIG_']) {
      for (const form of envNameForms(remote)) {
        const v = this.env[`${prefix}${form}_${opt}`];
        if (v !== undefined) return v;
      }
    }
    return undefined;
  }

  /**
   * The remote's options: its section overlaid with CRYPTFS_CONFIG_/RCLONE_CONFIG_
   * variables (levels 2–4 above). Undefined if the remote is neither in the file
   * nor defined by a …_TYPE variable. Variables are matched by prefix, so for a
   * remote `a` the variable RCLONE_CONFIG_A_B_TYPE reads as option `b_type`
   * (rclone has the same ambiguity); backends ignore options they don't declare.
   */
  remoteOptions(name: string): Record<string, string> | undefined {
    if (!this.hasRemote(name)) return undefined;
    const merged = new Map<string, string>(this.file.entries(name));
    // RCLONE_ first so that CRYPTFS_ (applied after) wins.
    for (const prefix of ['RCLONE_CONFIG_', 'CRYPTFS_CONFIG_']) {
      // rclone's spelling first, ours after: ours wins when both are set.
      for (const form of [...envNameForms(name)].reverse()) {
        const head = `${prefix}${form}_`;
        for (const [key, value] of Object.entries(this.env)) {
          if (value === undefined || !key.startsWith(head) || key.length === head.length) continue;
          merged.set(key.slice(head.length).toLowerCase(), value);
        }
      }
    }
    return Object.fromEntries(merged);
  }

  /** The remote's `type`, or undefined if it has none or does not exist. */
  remoteType(name: string): string | undefined {
    const t = this.remoteOptions(name)?.type;
    return t === '' ? undefined : t;
  }

  /** Backend-wide defaults from the environment (levels 5–6), for the RemoteConfigSource interface. */
  backendDefaults(type: string, specs?: readonly OptionSpec[] | readonly string[]): Record<string, string> {
    return backendEnvOverrides(type, specs, this.env);
  }
}

/**
 * Backend-wide option values from CRYPTFS_<TYPE>_<OPTION> / RCLONE_<TYPE>_<OPTION>
 * (like rclone's RCLONE_CRYPT_PASSWORD), CRYPTFS_ winning. With `specs`, only
 * declared options are looked up (as rclone does); without, every variable with
 * the prefix counts.
 */
export function backendEnvOverrides(
  type: string,
  specs?: readonly OptionSpec[] | readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const typeUpper = envOptionName(type);
  const out = new Map<string, string>();
  const prefixes = [`RCLONE_${typeUpper}_`, `CRYPTFS_${typeUpper}_`]; // later wins
  if (specs) {
    const names = specs.map((s) => (typeof s === 'string' ? s : s.name));
    for (const prefix of prefixes) {
      for (const name of names) {
        const v = env[prefix + envOptionName(name)];
        if (v !== undefined) out.set(name, v);
      }
    }
  } else {
    for (const prefix of prefixes) {
      for (const [key, value] of Object.entries(env)) {
        if (value === undefined || !key.startsWith(prefix) || key.length === prefix.length) continue;
        out.set(key.slice(prefix.length).toLowerCase(), value);
      }
    }
  }
  return Object.fromEntries(out);
}

/** Finds a password that opens the encrypted text: command/env first, then the prompt. */
async function unlock(
  text: string,
  options: ConfigStoreOptions,
  env: NodeJS.ProcessEnv,
): Promise<{ plain: string; key: Buffer }> {
  const warn = options.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  const tryKey = (key: Buffer) => ({ plain: decryptConfig(text, key, options.path), key });
  if (options.key) return tryKey(options.key);
  const supplied = await suppliedPassword({ passwordCommand: options.passwordCommand, env });
  if (supplied) {
    // A scripted password that is wrong won't get better by asking again: no prompt after it.
    return tryKey(configKeyFromPassword(supplied.password, warn));
  }
  const askAllowed = options.askPassword ?? true;
  const prompt = options.prompt ?? (canPrompt() ? promptHidden : undefined);
  if (!askAllowed || !prompt) throw new ConfigError(NOT_ALLOWED_TO_ASK);
  let last: unknown;
  for (let attempt = 0; attempt < PROMPT_ATTEMPTS; attempt++) {
    const typed = await prompt('Enter configuration password:\npassword:');
    let key: Buffer;
    try {
      key = configKeyFromPassword(typed, warn);
    } catch (err) {
      // e.g. "no characters in password": ask again.
      if (!(err instanceof ConfigError)) throw err;
      last = err;
      warn(err.message);
      continue;
    }
    try {
      return tryKey(key);
    } catch (err) {
      if (!(err instanceof WrongConfigPasswordError)) throw err;
      last = err;
      warn("Couldn't decrypt configuration, most likely wrong password.");
    }
  }
  throw last instanceof WrongConfigPasswordError ? last : new WrongConfigPasswordError({ cause: last });
}
