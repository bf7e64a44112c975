// The config wizard's prompt engine: rclone 1.60's question primitives
// (fs/config/ui.go CommandDefault, Confirm, Choose, Enter, ChooseNumber,
// GetPassword, ChangePassword) with their wording, over a WizardIO.
import { errorMessage } from '../errors.js';
import { goTrimSpace } from '../config/config-file.js';
import { checkPassword } from '../config/encrypted-config.js';
import { EndOfInputError, type WizardIO } from './wizard-io.js';

/** A one-letter menu entry. */
export interface MenuItem {
  key: string;
  text: string;
}

/** Menu entries from "kText" strings: the first letter is the key. */
export function items(...texts: string[]): MenuItem[] {
  return texts.map((t) => ({ key: t[0], text: t.slice(1) }));
}

/** Asks questions and writes text, worded as rclone's config UI. */
export class WizardPrompts {
  constructor(private readonly io: WizardIO) {}

  write(text: string): void {
    this.io.write(text);
  }

  newSection(): void {
    this.write('\n');
  }

  /** One answer, trimmed as rclone trims; end of input is an error here. */
  async line(prompt: string): Promise<string> {
    const answer = await this.io.readLine(prompt);
    if (answer === undefined) throw new EndOfInputError();
    return goTrimSpace(answer);
  }

  // ---- primitives (rclone's CommandDefault, Confirm, Choose, Enter, ChooseNumber) ----

  /** A one-letter menu; `defaultIndex` < 0 means there is no default. Undefined only if `eofQuits`. */
  async command(menu: MenuItem[], defaultIndex = -1, eofQuits = false): Promise<string | undefined> {
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

  async confirm(defaultYes: boolean): Promise<boolean> {
    return (await this.command(items('yYes', 'nNo'), defaultYes ? 0 : 1)) === 'y';
  }

  printChoices(choices: string[], helps?: string[]): void {
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
  async choose(
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
  async enter(what: string, kind: string, defaultValue: string, required: boolean): Promise<string> {
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

  async chooseNumber(what: string, min: number, max: number): Promise<number> {
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
  async getPassword(prompt: string): Promise<string> {
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
  async changePassword(name: string): Promise<string> {
    for (;;) {
      const a = await this.getPassword(`Enter ${name} password:`);
      const b = await this.getPassword(`Confirm ${name} password:`);
      if (a === b) return a;
      this.write('Passwords do not match!\n');
    }
  }
}
