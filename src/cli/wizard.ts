// The interactive `cryptfs config` session, mirroring rclone 1.60's
// `rclone config` menus, prompts and wording (fs/config/ui.go), so that the
// steps of a guide written for rclone (CSC's Allas guide and the like) work
// here unchanged.
//
// Everything a backend can be asked is read from its declaration in the
// registry (OptionSpec): help text, type, default, examples, secret, advanced,
// hidden. There is no per-backend code here; the one convention used is
// rclone's own: an option named `remote` names the remote a wrapping backend
// (crypt, alias, …) stores its data in, so its value is checked against the
// configured remotes.
//
// Input and output go through WizardIO, so the same engine runs on a terminal
// (TtyIO: raw mode, echo off for passwords), on piped stdin (LineStreamIO, as
// rclone reads lines when stdin is not a terminal) and under test with
// scripted answers.
import type { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { ReadStream } from 'node:tty';
import { ConfigError, DirNotFoundError, errorMessage } from '../errors.js';
import { RemoteFactory } from '../remote/open.js';
import type { Remote } from '../remote/remote.js';
import { DEFAULT_SECTION, goTrimSpace } from '../config/config-file.js';
import type { ConfigStore } from '../config/config-store.js';
import { checkPassword } from '../config/encrypted-config.js';
import { checkRemoteName, parseRemoteSpec } from '../config/remote-spec.js';
import { obscure, reveal } from '../crypt/obscure.js';
import {
  getBackend,
  userBackends,
  parseDuration,
  parseSize,
  type BackendSpec,
  type OptionSpec,
} from '../remote/registry.js';
import '../remote/backends.js';
import { commandOptionName, resolveSecretCommands } from '../remote/secret-command.js';
import { generatePassword, MAX_PASSWORD_BITS, MIN_PASSWORD_BITS } from './password-gen.js';


/** What the wizard shows for a stored secret, as rclone does. */
export const ENCRYPTED_PLACEHOLDER = '*** ENCRYPTED ***';

/** Where the wizard reads answers and writes its questions. */
export interface WizardIO {
  /** Writes `prompt` and reads one line (without its line end); undefined at end of input. */
  readLine(prompt: string): Promise<string | undefined>;
  /** The same with echo off, for passwords. */
  readPassword(prompt: string): Promise<string | undefined>;
  write(text: string): void;
}

/** Input ended in the middle of a question (nothing unsaved is written). */
export class EndOfInputError extends ConfigError {
  constructor() {
    super('input ended before the configuration was complete; unsaved changes were dropped');
  }
}

/** The user pressed Ctrl-C. */
export class WizardInterruptedError extends ConfigError {
  constructor() {
    super('interrupted; unsaved changes were dropped');
  }
}

// ---------------------------------------------------------------------------------------------
// Input/output implementations.

/**
 * Lines from a stream (piped stdin, or a PassThrough in tests). Nothing is
 * echoed: the input is not a terminal. Passwords are read as plain lines, as
 * rclone does when stdin is not a terminal.
 */
export class LineStreamIO implements WizardIO {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  private readonly lines: string[] = [];
  private ended = false;
  private wake: (() => void) | undefined;
  private readonly onData = (chunk: Buffer | string) => {
    this.partial += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let nl: number;
    while ((nl = this.partial.indexOf('\n')) >= 0) {
      this.lines.push(this.partial.slice(0, nl).replace(/\r$/, ''));
      this.partial = this.partial.slice(nl + 1);
    }
    this.notify();
  };
  private readonly onEnd = () => {
    this.partial += this.decoder.end();
    if (this.partial !== '') this.lines.push(this.partial.replace(/\r$/, ''));
    this.partial = '';
    this.ended = true;
    this.notify();
  };

  constructor(
    private readonly input: NodeJS.ReadableStream,
    private readonly output: Writable,
  ) {
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    input.on('error', this.onEnd);
    input.resume();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async next(): Promise<string | undefined> {
    while (this.lines.length === 0) {
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return this.lines.shift();
  }

  async readLine(prompt: string): Promise<string | undefined> {
    this.write(prompt);
    return this.next();
  }

  async readPassword(prompt: string): Promise<string | undefined> {
    this.write(prompt);
    const line = await this.next();
    this.write('\n');
    return line;
  }

  write(text: string): void {
    this.output.write(text);
  }

  /** Stops reading so the process can exit. */
  close(): void {
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.off('error', this.onEnd);
    this.input.pause();
  }
}

/**
 * A terminal in raw mode with a small line editor: typed characters are echoed
 * (not for passwords), Backspace and Ctrl-U edit, Enter ends the line, Ctrl-D on
 * an empty line is end of input, Ctrl-C interrupts. Raw mode for the whole
 * session means type-ahead is kept in order and never echoed out of turn.
 */
export class TtyIO implements WizardIO {
  private readonly pending: string[] = [];
  private ended = false;
  private wake: (() => void) | undefined;
  private readonly wasRaw: boolean;
  private readonly onData = (chunk: string | Buffer) => {
    for (const ch of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) this.pending.push(ch);
    this.notify();
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.notify();
  };
  private readonly restoreOnExit = () => this.restore();

  constructor(
    private readonly input: ReadStream,
    private readonly output: Writable,
  ) {
    this.wasRaw = input.isRaw;
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    process.once('exit', this.restoreOnExit);
    input.resume();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async nextChar(): Promise<string | undefined> {
    while (this.pending.length === 0) {
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return this.pending.shift();
  }

  /** Drops the rest of an escape sequence (arrow keys etc.) that arrived with its ESC. */
  private skipEscape(): void {
    const first = this.pending[0];
    if (first === undefined) return;
    this.pending.shift();
    if (first === '[') {
      while (this.pending.length > 0) {
        const c = this.pending.shift()!;
        if (c >= '@' && c <= '~') return;
      }
    } else if (first === 'O') {
      this.pending.shift();
    }
  }

  private async edit(prompt: string, echo: boolean): Promise<string | undefined> {
    this.write(prompt);
    let chars: string[] = [];
    for (;;) {
      const ch = await this.nextChar();
      if (ch === undefined) {
        this.write('\n');
        return chars.length > 0 ? chars.join('') : undefined;
      }
      switch (ch) {
        case '\r':
        case '\n':
          if (ch === '\r' && this.pending[0] === '\n') this.pending.shift();
          this.write('\n');
          return chars.join('');
        case '\u0003': // Ctrl-C
          this.write('^C\n');
          throw new WizardInterruptedError();
        case '\u0004': // Ctrl-D
          if (chars.length === 0) {
            this.write('\n');
            return undefined;
          }
          break;
        case '\u007f':
        case '\b':
          if (chars.length > 0) {
            chars.pop();
            if (echo) this.write('\b \b');
          }
          break;
        case '\u0015': // Ctrl-U
          if (echo) this.write('\b \b'.repeat(chars.length));
          chars = [];
          break;
        case '\u001b':
          this.skipEscape();
          break;
        default:
          if (ch >= ' ') {
            chars.push(ch);
            if (echo) this.write(ch);
          }
      }
    }
  }

  readLine(prompt: string): Promise<string | undefined> {
    return this.edit(prompt, true);
  }

  readPassword(prompt: string): Promise<string | undefined> {
    return this.edit(prompt, false);
  }

  write(text: string): void {
    this.output.write(text);
  }

  private restore(): void {
    try {
      this.input.setRawMode(this.wasRaw);
    } catch {
      // the terminal may be gone already
    }
  }

  /** Leaves raw mode and stops reading. */
  close(): void {
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    process.off('exit', this.restoreOnExit);
    this.restore();
    this.input.pause();
  }
}

// ---------------------------------------------------------------------------------------------
// Option values: checking what a user typed against the declaration.

// A Map, not an object: "constructor" must not look like a boolean.
const BOOL_WORDS = new Map<string, boolean>([
  ['true', true],
  ['t', true],
  ['y', true],
  ['yes', true],
  ['1', true],
  ['false', false],
  ['f', false],
  ['n', false],
  ['no', false],
  ['0', false],
]);

/**
 * Checks a value typed for an option and returns it in the form stored in the
 * config file (booleans as true/false, exclusive choices spelled as declared).
 * Throws ConfigError saying what is wrong.
 */
export function canonicalOptionValue(spec: OptionSpec, value: string): string {
  const text = value.trim();
  switch (spec.type ?? 'string') {
    case 'bool': {
      const b = BOOL_WORDS.get(text.toLowerCase());
      if (b === undefined) throw new ConfigError(`${JSON.stringify(value)} is not a boolean (use true or false)`);
      return String(b);
    }
    case 'int':
      if (!/^[+-]?\d+$/.test(text)) throw new ConfigError(`${JSON.stringify(value)} is not an integer`);
      return BigInt(text).toString();
    case 'size':
      parseSize(text, spec.name);
      return text;
    case 'duration':
      parseDuration(text, spec.name);
      return text;
    default:
      break;
  }
  if (spec.exclusive && spec.examples && spec.examples.length > 0) {
    const match = spec.examples.find((e) => e.value.toLowerCase() === text.toLowerCase());
    if (!match) {
      throw new ConfigError(
        `${JSON.stringify(value)} is not one of ${spec.examples.map((e) => JSON.stringify(e.value)).join(', ')}`,
      );
    }
    return match.value;
  }
  return value;
}

/** rclone's convention: an option named `remote` is the remote a wrapping backend stores its data in. */
export function isRemoteReference(spec: OptionSpec): boolean {
  return spec.name === 'remote';
}

/**
 * Why a remote reference would not work, or undefined if it looks right:
 * `name:path` must name an existing remote (not `self`), `:type,…:path` a known
 * backend; anything else must be a local path (no colon, or a `/` before it).
 */
export function remoteReferenceProblem(
  value: string,
  store: Pick<ConfigStore, 'hasRemote'>,
  self?: string,
): string | undefined {
  let spec;
  try {
    spec = parseRemoteSpec(value);
  } catch (err) {
    return `${JSON.stringify(value)} is not a valid remote: ${errorMessage(err)}`;
  }
  if (spec.remoteName !== undefined) {
    if (spec.remoteName === self) return `a remote can't store its data in itself ("${self}:")`;
    if (!store.hasRemote(spec.remoteName)) {
      return `there is no remote called "${spec.remoteName}" - configure it first, or give a local path`;
    }
    return undefined;
  }
  if (spec.backendType !== undefined) {
    try {
      getBackend(spec.backendType);
    } catch (err) {
      return errorMessage(err);
    }
    return undefined;
  }
  if (value.includes(':') && !/^[^:]*\//.test(value)) {
    return `${JSON.stringify(value)} is neither "remote:path" with a valid remote name nor a local path`;
  }
  return undefined;
}

/**
 * Whether a value given for a secret option is already obscured: it reveals
 * without error (rclone's test) AND to readable text. The second half guards
 * against rclone's trap where a plain password that happens to be base64url of
 * 16+ bytes — every 128-bit generated password is — is stored unobscured and
 * then reveals to nothing or to binary garbage.
 */
export function looksObscured(value: string): boolean {
  let plain: string;
  try {
    plain = reveal(value);
  } catch {
    return false;
  }
  return plain !== '' && !/[\u0000-\u001f\u007f\ufffd]/.test(plain);
}

/** The values a remote's section holds, with secrets replaced by the placeholder. */
function displayValue(backend: BackendSpec | undefined, key: string, value: string): string {
  const spec = backend?.options.find((o) => o.name === key);
  return spec?.secret && value !== '' ? ENCRYPTED_PLACEHOLDER : value;
}

/** rclone's description of the kind of value an option takes. */
function valueKind(spec: OptionSpec, shownDefault: string): string {
  if (shownDefault === '') return 'value';
  switch (spec.type ?? 'string') {
    case 'bool':
      return 'boolean value (true or false)';
    case 'size':
      return 'size with suffix K,M,G,T';
    case 'duration':
      return 'duration s,m,h,d,w,M,y';
    case 'int':
      return 'signed integer';
    default:
      return 'string value';
  }
}

function declaredDefault(spec: OptionSpec): string {
  return spec.default === undefined ? '' : String(spec.default);
}

// ---------------------------------------------------------------------------------------------
// The wizard.

export interface WizardOptions {
  /** Password generator (tests may make it deterministic). */
  generatePassword?: (bits: number) => string;
  /** Advice about a finished remote, shown before "Keep this remote?" (e.g. a crypt remote without salt). */
  warnings?: (type: string, options: Record<string, string>) => string[];
}

interface MenuItem {
  key: string;
  text: string;
}

function items(...texts: string[]): MenuItem[] {
  return texts.map((t) => ({ key: t[0], text: t.slice(1) }));
}

export class ConfigWizard {
  private readonly generate: (bits: number) => string;
  private readonly warnings: (type: string, options: Record<string, string>) => string[];

  constructor(
    private readonly store: ConfigStore,
    private readonly io: WizardIO,
    options: WizardOptions = {},
  ) {
    this.generate = options.generatePassword ?? generatePassword;
    this.warnings = options.warnings ?? (() => []);
  }

  private write(text: string): void {
    this.io.write(text);
  }

  private newSection(): void {
    this.write('\n');
  }

  /** One answer, trimmed as rclone trims; end of input is an error here. */
  private async line(prompt: string): Promise<string> {
    const answer = await this.io.readLine(prompt);
    if (answer === undefined) throw new EndOfInputError();
    return goTrimSpace(answer);
  }

  private remoteNames(): string[] {
    return this.store.file
      .sections()
      .filter((s) => s !== DEFAULT_SECTION)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  // ---- primitives (rclone's CommandDefault, Confirm, Choose, Enter, ChooseNumber) ----

  /** A one-letter menu; `defaultIndex` < 0 means there is no default. Undefined only if `eofQuits`. */
  private async command(menu: MenuItem[], defaultIndex = -1, eofQuits = false): Promise<string | undefined> {
    menu.forEach((m, i) => this.write(`${m.key}) ${m.text}${i === defaultIndex ? ' (default)' : ''}\n`));
    const keys = menu.map((m) => m.key);
    for (;;) {
      const raw = await this.io.readLine(`${keys.join('/')}> `);
      if (raw === undefined) {
        if (eofQuits) return undefined;
        throw new EndOfInputError();
      }
      const answer = goTrimSpace(raw).toLowerCase();
      if (answer === '') {
        if (defaultIndex >= 0) return keys[defaultIndex];
        this.write('This value is required and it has no default.\n');
      } else if ([...answer].length === 1) {
        if (keys.includes(answer)) return answer;
        this.write(`This value must be one of the following characters: ${keys.join(', ')}.\n`);
      } else {
        this.write(`This value must be a single character, one of the following: ${keys.join(', ')}.\n`);
      }
    }
  }

  private async confirm(defaultYes: boolean): Promise<boolean> {
    return (await this.command(items('yYes', 'nNo'), defaultYes ? 0 : 1)) === 'y';
  }

  private printChoices(choices: string[], helps?: string[]): void {
    choices.forEach((value, i) => {
      const pos = String(i + 1).padStart(2);
      const help = helps?.[i];
      if (!help) {
        this.write(`${pos} > ${value}\n`);
        return;
      }
      const lines = [...help.split('\n'), `(${value})`];
      const mid = Math.floor((lines.length - 1) / 2);
      lines.forEach((text, j) => {
        const sep = j === 0 ? '/' : j === lines.length - 1 ? '\\' : '|';
        this.write(`${j === mid ? pos : '  '} ${sep} ${text}\n`);
      });
    });
  }

  /**
   * rclone's Choose: a numbered list; a number picks, a listed value is taken,
   * Enter gives the default (or '' when not required), anything else only if `newOk`.
   */
  private async choose(
    what: string,
    kind: string,
    choices: string[],
    helps: string[] | undefined,
    defaultValue: string,
    required: boolean,
    newOk: boolean,
  ): Promise<string> {
    const valueDescription = newOk ? 'your own' : 'an existing';
    this.write(`Choose a number from below, or type in ${valueDescription} ${kind}.\n`);
    if (defaultValue !== '') this.write(`Press Enter for the default (${defaultValue}).\n`);
    else if (!required) this.write('Press Enter to leave empty.\n');
    this.printChoices(choices, helps);
    for (;;) {
      const result = await this.line(`${what}> `);
      if (/^[+-]?\d+$/.test(result)) {
        const i = Number(result);
        if (i >= 1 && i <= choices.length) return choices[i - 1];
        this.write('No choices with this number.\n');
        continue;
      }
      if (choices.includes(result)) return result;
      if (result === '') {
        if (!required) return '';
        if (defaultValue !== '') return defaultValue;
        this.write('This value is required and it has no default.\n');
        continue;
      }
      if (newOk) return result;
      const folded = choices.find((c) => c.toLowerCase() === result.toLowerCase());
      if (folded !== undefined) return folded;
      this.write(`This value must match ${valueDescription} value.\n`);
    }
  }

  /** rclone's Enter: a free-form value. */
  private async enter(what: string, kind: string, defaultValue: string, required: boolean): Promise<string> {
    this.write(`Enter a ${kind}.`);
    if (defaultValue !== '') this.write(` Press Enter for the default (${defaultValue}).\n`);
    else if (!required) this.write(' Press Enter to leave empty.\n');
    else this.write('\n');
    for (;;) {
      const result = await this.line(`${what}> `);
      if (!required || result !== '') return result;
      if (defaultValue !== '') return defaultValue;
      this.write('This value is required and it has no default.\n');
    }
  }

  private async chooseNumber(what: string, min: number, max: number): Promise<number> {
    for (;;) {
      const result = await this.line(`${what}> `);
      if (!/^[+-]?\d+$/.test(result)) {
        this.write(`Bad number: ${JSON.stringify(result)} is not a whole number\n`);
        continue;
      }
      const n = Number(result);
      if (n < min || n > max) {
        this.write(`Out of range - ${min} to ${max} inclusive\n`);
        continue;
      }
      return n;
    }
  }

  // ---- passwords ----

  /** rclone's GetPassword: `prompt`, then "password:" with echo off until the password is acceptable. */
  private async getPassword(prompt: string): Promise<string> {
    this.write(`${prompt}\n`);
    for (;;) {
      const typed = await this.io.readPassword('password:');
      if (typed === undefined) throw new EndOfInputError();
      try {
        // Valid text, not empty or only whitespace, NFKC-normalised (rclone ≤ 1.74).
        return checkPassword(typed, (m) => this.write(`${m}\n`));
      } catch (err) {
        this.write(`Bad password: ${errorMessage(err)}\n`);
      }
    }
  }

  /** rclone's ChangePassword: asks twice until both agree. */
  private async changePassword(name: string): Promise<string> {
    for (;;) {
      const a = await this.getPassword(`Enter ${name} password:`);
      const b = await this.getPassword(`Confirm ${name} password:`);
      if (a === b) return a;
      this.write('Passwords do not match!\n');
    }
  }

  /**
   * rclone's ChoosePassword for a secret option. Returns the value to store:
   * obscured new password, the existing (already obscured) value, or ''.
   */
  private async choosePassword(existing: string, required: boolean, remoteName: string, option: string): Promise<string> {
    this.write('Choose an alternative below.');
    const menu = items(
      'yYes, type in my own password',
      'gGenerate random password',
      'cGet it from a command (a key manager: pass, vault, secret-tool, systemd-creds)',
    );
    const commandKey = commandOptionName(option);
    const existingCommand = this.store.file.getValue(remoteName, commandKey) ?? '';
    let defaultIndex = -1;
    if (existing !== '' || existingCommand !== '') {
      defaultIndex = menu.length;
      menu.push(...items('nNo, keep existing'));
    } else if (!required) {
      defaultIndex = menu.length;
      menu.push(...items('nNo, leave this optional password blank'));
    }
    if (defaultIndex >= 0) this.write(` Press Enter for the default (${menu[defaultIndex].key}).`);
    this.write('\n');
    const choice = await this.command(menu, defaultIndex);
    if (choice === 'n') return existing;
    if (choice === 'c') {
      this.store.file.set(remoteName, commandKey, await this.chooseSecretCommand(option));
      return '';
    }
    this.store.file.deleteKey(remoteName, commandKey);
    let password: string;
    if (choice === 'y') {
      password = await this.changePassword('the');
    } else {
      for (;;) {
        this.write(
          `Password strength in bits.\n${MIN_PASSWORD_BITS} is just about memorable\n128 is secure\n${MAX_PASSWORD_BITS} is the maximum\n`,
        );
        const bits = await this.chooseNumber('Bits', MIN_PASSWORD_BITS, MAX_PASSWORD_BITS);
        password = this.generate(bits);
        this.write(`Your password is: ${password}\n`);
        this.write(
          'Use this password? Please note that an obscured version of this\npassword (and not the ' +
            'password itself) will be stored under your\nconfiguration file, so keep this generated password ' +
            'in a safe place.\n',
        );
        if (await this.confirm(true)) break;
      }
    }
    return obscure(password);
  }

  /** Asks for the command that prints a secret, and runs it once to show that it works. */
  private async chooseSecretCommand(option: string): Promise<string> {
    for (;;) {
      const command = (await this.line(`Command whose output is ${option} (e.g. pass show cryptfs/crypt)\n${commandOptionName(option)}> `)).trim();
      if (command === '') continue;
      try {
        await resolveSecretCommands([{ name: option, help: '', secret: true }], { [commandOptionName(option)]: command }, '');
        this.write('The command printed a value; it will be run again each time the remote is used, and its output is never stored.\n');
        return command;
      } catch (err) {
        this.write(`${errorMessage(err)}\n`);
        this.write('Use it anyway?\n');
        if (await this.confirm(false)) return command;
      }
    }
  }

  // ---- options ----

  /**
   * Asks one option (rclone's ChooseOption) and returns the value it should
   * have: what was typed, checked and canonicalised, or the shown default.
   */
  private async chooseOption(spec: OptionSpec, remoteName: string, current: string | undefined): Promise<string> {
    this.write(`Option ${spec.name}.\n`);
    const help = spec.help.trim().replace(/\n\n/g, '\n');
    if (help !== '') this.write(`${help}\n`);
    const shownDefault = current ?? declaredDefault(spec);
    if (spec.secret) return this.choosePassword(current ?? '', spec.required ?? false, remoteName, spec.name);
    const kind = valueKind(spec, shownDefault);
    const required = spec.required ?? false;
    for (;;) {
      const answer =
        spec.examples && spec.examples.length > 0
          ? await this.choose(
              spec.name,
              kind,
              spec.examples.map((e) => e.value),
              spec.examples.map((e) => e.help),
              shownDefault,
              required,
              !spec.exclusive,
            )
          : await this.enter(spec.name, kind, shownDefault, required);
      if (answer === '') return shownDefault;
      let value: string;
      try {
        value = canonicalOptionValue(spec, answer);
      } catch (err) {
        this.write(`Failed to parse ${JSON.stringify(answer)}: ${errorMessage(err)}\n`);
        continue;
      }
      if (isRemoteReference(spec)) {
        const problem = remoteReferenceProblem(value, this.store, remoteName);
        if (problem) {
          this.write(`Can't use ${JSON.stringify(value)}: ${problem}.\n`);
          continue;
        }
      }
      return value;
    }
  }

  /** Stores an answer: a value equal to the declared default is left out of the file, as rclone does. */
  private applyOption(name: string, spec: OptionSpec, value: string): void {
    if (value === declaredDefault(spec)) this.store.file.deleteKey(name, spec.name);
    else this.store.file.set(name, spec.name, value);
  }

  /** Asks every wizard-visible option of the remote's type (rclone's CreateRemote/UpdateRemote with All). */
  private async askOptions(name: string, backend: BackendSpec): Promise<void> {
    const visible = backend.options.filter((o) => !o.hidden);
    const ask = async (spec: OptionSpec) => {
      const current = this.store.file.getValue(name, spec.name);
      const value = await this.chooseOption(spec, name, current);
      this.applyOption(name, spec, value);
      this.newSection();
    };
    for (const spec of visible.filter((o) => !o.advanced)) await ask(spec);
    const advanced = visible.filter((o) => o.advanced);
    if (advanced.length === 0) return;
    this.write('Edit advanced config?\n');
    const edit = await this.confirm(false);
    this.newSection();
    if (edit) for (const spec of advanced) await ask(spec);
  }

  private backendOf(name: string): BackendSpec | undefined {
    const type = this.store.file.getValue(name, 'type');
    if (!type) return undefined;
    try {
      return getBackend(type);
    } catch {
      return undefined;
    }
  }

  private listRemoteOptions(name: string): void {
    const backend = this.backendOf(name);
    for (const [key, value] of this.store.file.entries(name)) {
      this.write(`- ${key}: ${displayValue(backend, key, value)}\n`);
    }
  }

  /** rclone's OkRemote: true when done (kept or deleted), false to edit again. */
  private async okRemote(name: string): Promise<boolean> {
    this.write('Configuration complete.\nOptions:\n');
    this.listRemoteOptions(name);
    const type = this.store.file.getValue(name, 'type') ?? '';
    for (const w of this.warnings(type, this.store.file.get(name) ?? {})) this.write(`WARNING: ${w}\n`);
    this.write(`Keep this ${JSON.stringify(name)} remote?\n`);
    const choice = await this.command(items('yYes this is OK', 'eEdit this remote', 'dDelete this remote'), 0);
    if (choice === 'e') return false;
    if (choice === 'd') this.store.file.deleteSection(name);
    return true;
  }

  // ---- flows ----

  /** rclone's NewRemoteName: asks until the name is valid and not taken. */
  private async newRemoteName(): Promise<string> {
    for (;;) {
      this.write('Enter name for new remote.\n');
      const name = await this.line('name> ');
      if (this.store.file.hasSection(name)) {
        this.write(`Remote ${JSON.stringify(name)} already exists.\n`);
        continue;
      }
      if (name === '') {
        this.write("Can't use empty name.\n");
        continue;
      }
      try {
        checkRemoteName(name);
      } catch (err) {
        this.write(`Can't use ${JSON.stringify(name)} as ${errorMessage(err)}.\n`);
        continue;
      }
      return name;
    }
  }

  /** rclone's ChooseRemote. */
  private async chooseRemote(): Promise<string> {
    this.write('Select remote.\n');
    return this.choose('remote', 'value', this.remoteNames(), undefined, '', true, false);
  }

  /** The storage types offered: every registered backend but the hidden ones, by description as rclone sorts. */
  private storageChoices(): BackendSpec[] {
    return userBackends()
      .sort((a, b) => (a.description < b.description ? -1 : a.description > b.description ? 1 : 0));
  }

  private async chooseType(): Promise<BackendSpec> {
    for (;;) {
      this.write('Option Storage.\nType of storage to configure.\n');
      const offered = this.storageChoices();
      const type = await this.choose(
        'Storage',
        'value',
        offered.map((b) => b.type),
        offered.map((b) => b.description),
        '',
        true,
        true,
      );
      try {
        return getBackend(type);
      } catch (err) {
        this.write(`Bad remote ${JSON.stringify(type)}: ${errorMessage(err)}\n`);
      }
    }
  }

  /** Creates a remote called `name` (already checked), asking its type and options. */
  async newRemote(name: string): Promise<void> {
    const backend = await this.chooseType();
    this.store.file.set(name, 'type', backend.type);
    this.newSection();
    await this.askOptions(name, backend);
    if (await this.okRemote(name)) {
      if (!this.store.file.hasSection(name) || (await this.offerTest(name))) {
        await this.store.save();
        return;
      }
    }
    this.newSection();
    await this.editRemote(name);
  }

  /**
   * Offers to try the new remote: list its root, and create the bucket or
   * container when it is missing. Returns false when the user wants to edit it.
   */
  private async offerTest(name: string): Promise<boolean> {
    this.newSection();
    this.write(`Test the ${JSON.stringify(name)} remote now (list it; create the bucket or container if it is missing)?\n`);
    if (!(await this.confirm(true))) return true;
    const factory = new RemoteFactory(async () => this.store);
    try {
      const remote = await factory.open(`${name}:`);
      try {
        this.write(`Listing ${name}: ... `);
        this.write(`OK (${await countTopEntries(remote)})\n`);
        return true;
      } catch (err) {
        if (!(err instanceof DirNotFoundError)) throw err;
        this.write('it does not exist yet.\n');
        if (!remote.features.realDirectories) {
          this.write('Create it now?\n');
          if (await this.confirm(true)) {
            await remote.mkdir('');
            this.write(`Created; listing: OK (${await countTopEntries(remote)})\n`);
          }
        } else {
          this.write('The directory is created on the first write.\n');
        }
        return true;
      }
    } catch (err) {
      this.write(`Test failed: ${errorMessage(err)}\n`);
      this.write('Edit the remote?\n');
      return !(await this.confirm(true));
    } finally {
      await factory.closeAll();
    }
  }

  /** rclone's EditRemote: every option again with the current values as defaults. */
  async editRemote(name: string): Promise<void> {
    const type = this.store.file.getValue(name, 'type');
    if (!type) throw new ConfigError(`couldn't find type of remote ${JSON.stringify(name)}`);
    const backend = getBackend(type);
    this.write(`Editing existing ${JSON.stringify(name)} remote with options:\n`);
    this.listRemoteOptions(name);
    this.newSection();
    for (;;) {
      await this.askOptions(name, backend);
      if (await this.okRemote(name)) break;
    }
    await this.store.save();
  }

  /** rclone's SetPassword: add, change or remove the password that encrypts the whole config file. */
  async setConfigPassword(): Promise<void> {
    for (;;) {
      if (this.store.encrypted) {
        this.write('Your configuration is encrypted.\n');
        const choice = await this.command(items('cChange Password', 'uUnencrypt configuration', 'qQuit to main menu'));
        if (choice === 'q') return;
        if (choice === 'c') {
          await this.changeConfigPassword();
          this.write('Password changed\n');
        } else {
          this.store.setPassword(undefined);
          await this.store.save();
        }
      } else {
        this.write('Your configuration is not encrypted.\n');
        this.write('If you add a password, you will protect your login information to cloud services.\n');
        const choice = await this.command(items('aAdd Password', 'qQuit to main menu'));
        if (choice === 'q') return;
        await this.changeConfigPassword();
        this.write('Password set\n');
      }
    }
  }

  private async changeConfigPassword(): Promise<void> {
    for (;;) {
      const a = await this.getPassword('Enter NEW configuration password:');
      const b = await this.getPassword('Confirm NEW configuration password:');
      if (a === b) {
        // checkPassword already warned about surrounding whitespace, once per entry.
        this.store.setPassword(a, () => undefined);
        await this.store.save();
        return;
      }
      this.write('Passwords do not match!\n');
    }
  }

  private showRemotes(names: string[]): void {
    this.write(`${'Name'.padEnd(20)} Type\n`);
    this.write(`${'===='.padEnd(20)} ====\n`);
    for (const n of names) this.write(`${n.padEnd(20)} ${this.store.file.getValue(n, 'type') ?? ''}\n`);
  }

  /** The main menu (rclone's EditConfig), until the user quits or input ends at the menu. */
  async run(): Promise<void> {
    for (;;) {
      const names = this.remoteNames();
      let menu = items(
        'eEdit existing remote',
        'nNew remote',
        'dDelete remote',
        'rRename remote',
        'cCopy remote',
        'sSet configuration password',
        'qQuit config',
      );
      if (names.length > 0) {
        this.write('Current remotes:\n\n');
        this.showRemotes(names);
        this.write('\n');
      } else {
        this.write('No remotes found, make a new one?\n');
        menu = menu.filter((m) => 'nsq'.includes(m.key));
      }
      const choice = await this.command(menu, -1, true);
      switch (choice) {
        case undefined:
        case 'q':
          return;
        case 'e': {
          this.newSection();
          const name = await this.chooseRemote();
          this.newSection();
          try {
            await this.editRemote(name);
          } catch (err) {
            if (err instanceof EndOfInputError || err instanceof WizardInterruptedError) throw err;
            this.write(`Can't edit remote ${JSON.stringify(name)}: ${errorMessage(err)}\n`);
          }
          break;
        }
        case 'n': {
          this.newSection();
          const name = await this.newRemoteName();
          this.newSection();
          await this.newRemote(name);
          break;
        }
        case 'd': {
          this.newSection();
          const name = await this.chooseRemote();
          this.newSection();
          this.store.file.deleteSection(name);
          await this.store.save();
          break;
        }
        case 'r': {
          this.newSection();
          const name = await this.chooseRemote();
          this.newSection();
          this.write(`Enter new name for ${JSON.stringify(name)} remote.\n`);
          const to = await this.newRemoteName();
          this.store.file.renameSection(name, to);
          await this.store.save();
          break;
        }
        case 'c': {
          this.newSection();
          const name = await this.chooseRemote();
          this.newSection();
          this.write(`Enter name for copy of ${JSON.stringify(name)} remote.\n`);
          const to = await this.newRemoteName();
          this.store.file.copySection(name, to);
          await this.store.save();
          break;
        }
        case 's':
          this.newSection();
          await this.setConfigPassword();
          break;
      }
      this.newSection();
    }
  }
}

/** "3 entries" / "more than 100 entries" at the root of a remote, without reading further. */
async function countTopEntries(remote: Remote): Promise<string> {
  let n = 0;
  for await (const _ of remote.list('')) {
    if (++n > 100) return 'more than 100 entries';
  }
  return n === 1 ? '1 entry' : `${n} entries`;
}
