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
//
// This file is the main menu and the remote editing flows (new, edit, test,
// delete, rename, copy, config password); the parts have their own modules:
// wizard-io.ts (WizardIO and its terminal and stream implementations),
// wizard-prompts.ts (the question primitives), wizard-options.ts (asking a
// remote's options), wizard-values.ts (checking and showing option values).
import { ConfigError, DirNotFoundError, errorMessage } from '../errors.js';
import { RemoteFactory } from '../remote/open.js';
import type { Remote } from '../remote/remote.js';
import { DEFAULT_SECTION } from '../config/config-file.js';
import type { ConfigStore } from '../config/config-store.js';
import { checkRemoteName } from '../config/remote-spec.js';
import { getBackend, userBackends, type BackendSpec } from '../remote/registry.js';
import '../remote/backends.js';
import { generatePassword } from './password-gen.js';
import { EndOfInputError, WizardInterruptedError, type WizardIO } from './wizard-io.js';
import { OptionQuestions } from './wizard-options.js';
import { items, WizardPrompts } from './wizard-prompts.js';
import { displayValue } from './wizard-values.js';

// The wizard's surface for its callers (commands/config.ts) and tests.
export { EndOfInputError, LineStreamIO, TtyIO, WizardInterruptedError, type WizardIO } from './wizard-io.js';
export {
  ENCRYPTED_PLACEHOLDER,
  canonicalOptionValue,
  isRemoteReference,
  looksObscured,
  remoteReferenceProblem,
} from './wizard-values.js';

export interface WizardOptions {
  /** Password generator (tests may make it deterministic). */
  generatePassword?: (bits: number) => string;
  /** Advice about a finished remote, shown before "Keep this remote?" (e.g. a crypt remote without salt). */
  warnings?: (type: string, options: Record<string, string>) => string[];
}

export class ConfigWizard {
  private readonly prompts: WizardPrompts;
  private readonly questions: OptionQuestions;
  private readonly warnings: (type: string, options: Record<string, string>) => string[];

  constructor(
    private readonly store: ConfigStore,
    io: WizardIO,
    options: WizardOptions = {},
  ) {
    this.prompts = new WizardPrompts(io);
    this.questions = new OptionQuestions(store, this.prompts, options.generatePassword ?? generatePassword);
    this.warnings = options.warnings ?? (() => []);
  }

  private remoteNames(): string[] {
    return this.store.file
      .sections()
      .filter((s) => s !== DEFAULT_SECTION)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
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
      this.prompts.write(`- ${key}: ${displayValue(backend, key, value)}\n`);
    }
  }

  /** rclone's OkRemote: true when done (kept or deleted), false to edit again. */
  private async okRemote(name: string): Promise<boolean> {
    this.prompts.write('Configuration complete.\nOptions:\n');
    this.listRemoteOptions(name);
    const type = this.store.file.getValue(name, 'type') ?? '';
    for (const w of this.warnings(type, this.store.file.get(name) ?? {})) this.prompts.write(`WARNING: ${w}\n`);
    this.prompts.write(`Keep this ${JSON.stringify(name)} remote?\n`);
    const choice = await this.prompts.command(items('yYes this is OK', 'eEdit this remote', 'dDelete this remote'), 0);
    if (choice === 'e') return false;
    if (choice === 'd') this.store.file.deleteSection(name);
    return true;
  }

  // ---- flows ----

  /** rclone's NewRemoteName: asks until the name is valid and not taken. */
  private async newRemoteName(): Promise<string> {
    for (;;) {
      this.prompts.write('Enter name for new remote.\n');
      const name = await this.prompts.line('name> ');
      if (this.store.file.hasSection(name)) {
        this.prompts.write(`Remote ${JSON.stringify(name)} already exists.\n`);
        continue;
      }
      if (name === '') {
        this.prompts.write("Can't use empty name.\n");
        continue;
      }
      try {
        checkRemoteName(name);
      } catch (err) {
        this.prompts.write(`Can't use ${JSON.stringify(name)} as ${errorMessage(err)}.\n`);
        continue;
      }
      return name;
    }
  }

  /** rclone's ChooseRemote. */
  private async chooseRemote(): Promise<string> {
    this.prompts.write('Select remote.\n');
    return this.prompts.choose('remote', 'value', this.remoteNames(), undefined, '', true, false);
  }

  /** The storage types offered: every registered backend but the hidden ones, by description as rclone sorts. */
  private storageChoices(): BackendSpec[] {
    return userBackends()
      .sort((a, b) => (a.description < b.description ? -1 : a.description > b.description ? 1 : 0));
  }

  private async chooseType(): Promise<BackendSpec> {
    for (;;) {
      this.prompts.write('Option Storage.\nType of storage to configure.\n');
      const offered = this.storageChoices();
      const type = await this.prompts.choose(
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
        this.prompts.write(`Bad remote ${JSON.stringify(type)}: ${errorMessage(err)}\n`);
      }
    }
  }

  /** Creates a remote called `name` (already checked), asking its type and options. */
  async newRemote(name: string): Promise<void> {
    const backend = await this.chooseType();
    this.store.file.set(name, 'type', backend.type);
    this.prompts.newSection();
    await this.questions.askOptions(name, backend);
    if (await this.okRemote(name)) {
      if (!this.store.file.hasSection(name) || (await this.offerTest(name))) {
        await this.store.save();
        return;
      }
    }
    this.prompts.newSection();
    await this.editRemote(name);
  }

  /**
   * Offers to try the new remote: list its root, and create the bucket or
   * container when it is missing. Returns false when the user wants to edit it.
   */
  private async offerTest(name: string): Promise<boolean> {
    this.prompts.newSection();
    this.prompts.write(`Test the ${JSON.stringify(name)} remote now (list it; create the bucket or container if it is missing)?\n`);
    if (!(await this.prompts.confirm(true))) return true;
    const factory = new RemoteFactory(async () => this.store);
    try {
      const remote = await factory.open(`${name}:`);
      try {
        this.prompts.write(`Listing ${name}: ... `);
        this.prompts.write(`OK (${await countTopEntries(remote)})\n`);
        return true;
      } catch (err) {
        if (!(err instanceof DirNotFoundError)) throw err;
        this.prompts.write('it does not exist yet.\n');
        if (!remote.features.realDirectories) {
          this.prompts.write('Create it now?\n');
          if (await this.prompts.confirm(true)) {
            await remote.mkdir('');
            this.prompts.write(`Created; listing: OK (${await countTopEntries(remote)})\n`);
          }
        } else {
          this.prompts.write('The directory is created on the first write.\n');
        }
        return true;
      }
    } catch (err) {
      this.prompts.write(`Test failed: ${errorMessage(err)}\n`);
      this.prompts.write('Edit the remote?\n');
      return !(await this.prompts.confirm(true));
    } finally {
      await factory.closeAll();
    }
  }

  /** rclone's EditRemote: every option again with the current values as defaults. */
  async editRemote(name: string): Promise<void> {
    const type = this.store.file.getValue(name, 'type');
    if (!type) throw new ConfigError(`couldn't find type of remote ${JSON.stringify(name)}`);
    const backend = getBackend(type);
    this.prompts.write(`Editing existing ${JSON.stringify(name)} remote with options:\n`);
    this.listRemoteOptions(name);
    this.prompts.newSection();
    for (;;) {
      await this.questions.askOptions(name, backend);
      if (await this.okRemote(name)) break;
    }
    await this.store.save();
  }

  /** rclone's SetPassword: add, change or remove the password that encrypts the whole config file. */
  async setConfigPassword(): Promise<void> {
    for (;;) {
      if (this.store.encrypted) {
        this.prompts.write('Your configuration is encrypted.\n');
        const choice = await this.prompts.command(items('cChange Password', 'uUnencrypt configuration', 'qQuit to main menu'));
        if (choice === 'q') return;
        if (choice === 'c') {
          await this.changeConfigPassword();
          this.prompts.write('Password changed\n');
        } else {
          this.store.setPassword(undefined);
          await this.store.save();
        }
      } else {
        this.prompts.write('Your configuration is not encrypted.\n');
        this.prompts.write('If you add a password, you will protect your login information to cloud services.\n');
        const choice = await this.prompts.command(items('aAdd Password', 'qQuit to main menu'));
        if (choice === 'q') return;
        await this.changeConfigPassword();
        this.prompts.write('Password set\n');
      }
    }
  }

  private async changeConfigPassword(): Promise<void> {
    for (;;) {
      const a = await this.prompts.getPassword('Enter NEW configuration password:');
      const b = await this.prompts.getPassword('Confirm NEW configuration password:');
      if (a === b) {
        // checkPassword already warned about surrounding whitespace, once per entry.
        this.store.setPassword(a, () => undefined);
        await this.store.save();
        return;
      }
      this.prompts.write('Passwords do not match!\n');
    }
  }

  private showRemotes(names: string[]): void {
    this.prompts.write(`${'Name'.padEnd(20)} Type\n`);
    this.prompts.write(`${'===='.padEnd(20)} ====\n`);
    for (const n of names) this.prompts.write(`${n.padEnd(20)} ${this.store.file.getValue(n, 'type') ?? ''}\n`);
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
        this.prompts.write('Current remotes:\n\n');
        this.showRemotes(names);
        this.prompts.write('\n');
      } else {
        this.prompts.write('No remotes found, make a new one?\n');
        menu = menu.filter((m) => 'nsq'.includes(m.key));
      }
      const choice = await this.prompts.command(menu, -1, true);
      switch (choice) {
        case undefined:
        case 'q':
          return;
        case 'e': {
          this.prompts.newSection();
          const name = await this.chooseRemote();
          this.prompts.newSection();
          try {
            await this.editRemote(name);
          } catch (err) {
            if (err instanceof EndOfInputError || err instanceof WizardInterruptedError) throw err;
            this.prompts.write(`Can't edit remote ${JSON.stringify(name)}: ${errorMessage(err)}\n`);
          }
          break;
        }
        case 'n': {
          this.prompts.newSection();
          const name = await this.newRemoteName();
          this.prompts.newSection();
          await this.newRemote(name);
          break;
        }
        case 'd': {
          this.prompts.newSection();
          const name = await this.chooseRemote();
          this.prompts.newSection();
          this.store.file.deleteSection(name);
          await this.store.save();
          break;
        }
        case 'r': {
          this.prompts.newSection();
          const name = await this.chooseRemote();
          this.prompts.newSection();
          this.prompts.write(`Enter new name for ${JSON.stringify(name)} remote.\n`);
          const to = await this.newRemoteName();
          this.store.file.renameSection(name, to);
          await this.store.save();
          break;
        }
        case 'c': {
          this.prompts.newSection();
          const name = await this.chooseRemote();
          this.prompts.newSection();
          this.prompts.write(`Enter name for copy of ${JSON.stringify(name)} remote.\n`);
          const to = await this.newRemoteName();
          this.store.file.copySection(name, to);
          await this.store.save();
          break;
        }
        case 's':
          this.prompts.newSection();
          await this.setConfigPassword();
          break;
      }
      this.prompts.newSection();
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
