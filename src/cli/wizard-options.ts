// The config wizard's questions about one remote's options: each option as
// its declaration (OptionSpec) describes it, secrets as rclone's
// ChoosePassword (own, generated, or from a command), advanced ones behind
// "Edit advanced config?". Answers go into the config file (not saved here).
import { errorMessage } from '../errors.js';
import type { ConfigStore } from '../config/config-store.js';
import { obscure } from '../crypt/obscure.js';
import type { BackendSpec, OptionSpec } from '../remote/registry.js';
import { commandOptionName, resolveSecretCommands } from '../remote/secret-command.js';
import { MAX_PASSWORD_BITS, MIN_PASSWORD_BITS } from './password-gen.js';
import { items, type WizardPrompts } from './wizard-prompts.js';
import {
  canonicalOptionValue,
  declaredDefault,
  isRemoteReference,
  remoteReferenceProblem,
  valueKind,
} from './wizard-values.js';

/** Asks a remote's options and stores the answers in its config section. */
export class OptionQuestions {
  constructor(
    private readonly store: ConfigStore,
    private readonly prompts: WizardPrompts,
    private readonly generate: (bits: number) => string,
  ) {}

  /**
   * rclone's ChoosePassword for a secret option. Returns the value to store:
   * obscured new password, the existing (already obscured) value, or ''.
   */
  private async choosePassword(existing: string, required: boolean, remoteName: string, option: string): Promise<string> {
    this.prompts.write('Choose an alternative below.');
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
    if (defaultIndex >= 0) this.prompts.write(` Press Enter for the default (${menu[defaultIndex].key}).`);
    this.prompts.write('\n');
    const choice = await this.prompts.command(menu, defaultIndex);
    if (choice === 'n') return existing;
    if (choice === 'c') {
      this.store.file.set(remoteName, commandKey, await this.chooseSecretCommand(option));
      return '';
    }
    this.store.file.deleteKey(remoteName, commandKey);
    let password: string;
    if (choice === 'y') {
      password = await this.prompts.changePassword('the');
    } else {
      for (;;) {
        this.prompts.write(
          `Password strength in bits.\n${MIN_PASSWORD_BITS} is just about memorable\n128 is secure\n${MAX_PASSWORD_BITS} is the maximum\n`,
        );
        const bits = await this.prompts.chooseNumber('Bits', MIN_PASSWORD_BITS, MAX_PASSWORD_BITS);
        password = this.generate(bits);
        this.prompts.write(`Your password is: ${password}\n`);
        this.prompts.write(
          'Use this password? Please note that an obscured version of this\npassword (and not the ' +
            'password itself) will be stored under your\nconfiguration file, so keep this generated password ' +
            'in a safe place.\n',
        );
        if (await this.prompts.confirm(true)) break;
      }
    }
    return obscure(password);
  }

  /** Asks for the command that prints a secret, and runs it once to show that it works. */
  private async chooseSecretCommand(option: string): Promise<string> {
    for (;;) {
      const command = (await this.prompts.line(`Command whose output is ${option} (e.g. pass show cryptfs/crypt)\n${commandOptionName(option)}> `)).trim();
      if (command === '') continue;
      try {
        await resolveSecretCommands([{ name: option, help: '', secret: true }], { [commandOptionName(option)]: command }, '');
        this.prompts.write('The command printed a value; it will be run again each time the remote is used, and its output is never stored.\n');
        return command;
      } catch (err) {
        this.prompts.write(`${errorMessage(err)}\n`);
        this.prompts.write('Use it anyway?\n');
        if (await this.prompts.confirm(false)) return command;
      }
    }
  }

  // ---- options ----

  /**
   * Asks one option (rclone's ChooseOption) and returns the value it should
   * have: what was typed, checked and canonicalised, or the shown default.
   */
  private async chooseOption(spec: OptionSpec, remoteName: string, current: string | undefined): Promise<string> {
    this.prompts.write(`Option ${spec.name}.\n`);
    const help = spec.help.trim().replace(/\n\n/g, '\n');
    if (help !== '') this.prompts.write(`${help}\n`);
    const shownDefault = current ?? declaredDefault(spec);
    if (spec.secret) return this.choosePassword(current ?? '', spec.required ?? false, remoteName, spec.name);
    const kind = valueKind(spec, shownDefault);
    const required = spec.required ?? false;
    for (;;) {
      const answer =
        spec.examples && spec.examples.length > 0
          ? await this.prompts.choose(
              spec.name,
              kind,
              spec.examples.map((e) => e.value),
              spec.examples.map((e) => e.help),
              shownDefault,
              required,
              !spec.exclusive,
            )
          : await this.prompts.enter(spec.name, kind, shownDefault, required);
      if (answer === '') return shownDefault;
      let value: string;
      try {
        value = canonicalOptionValue(spec, answer);
      } catch (err) {
        this.prompts.write(`Failed to parse ${JSON.stringify(answer)}: ${errorMessage(err)}\n`);
        continue;
      }
      if (isRemoteReference(spec)) {
        const problem = remoteReferenceProblem(value, this.store, remoteName);
        if (problem) {
          this.prompts.write(`Can't use ${JSON.stringify(value)}: ${problem}.\n`);
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
  async askOptions(name: string, backend: BackendSpec): Promise<void> {
    const visible = backend.options.filter((o) => !o.hidden);
    const ask = async (spec: OptionSpec) => {
      const current = this.store.file.getValue(name, spec.name);
      const value = await this.chooseOption(spec, name, current);
      this.applyOption(name, spec, value);
      this.prompts.newSection();
    };
    for (const spec of visible.filter((o) => !o.advanced)) await ask(spec);
    const advanced = visible.filter((o) => o.advanced);
    if (advanced.length === 0) return;
    this.prompts.write('Edit advanced config?\n');
    const edit = await this.prompts.confirm(false);
    this.prompts.newSection();
    if (edit) for (const spec of advanced) await ask(spec);
  }
}
