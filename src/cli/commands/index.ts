// Which module registers which command. A run loads only the module of the command it runs (a cold
// `cryptfs lsf` compiles a third of the modules it did when every command loaded up front); help,
// completion and an unknown name load them all. test/unit/cli/command-modules.test.ts checks this
// table against what each module registers.

const MODULES = {
  list: () => import('./list.js'),
  files: () => import('./files.js'),
  tools: () => import('./tools.js'),
  config: () => import('./config.js'),
  sync: () => import('./sync.js'),
  check: () => import('./check.js'),
  hashsum: () => import('./hashsum.js'),
  lsjson: () => import('./lsjson.js'),
  misc: () => import('./misc.js'),
  mount: () => import('./mount.js'),
  umount: () => import('./umount.js'),
  completion: () => import('./completion.js'),
  seal: () => import('./seal.js'),
} as const;
export type CommandModuleName = keyof typeof MODULES;

/** Command name → the module (above) that registers it. */
export const COMMAND_MODULE: Readonly<Record<string, CommandModuleName>> = {
  ls: 'list', lsl: 'list', lsd: 'list', lsf: 'list',
  copy: 'files', copyto: 'files', cat: 'files', mkdir: 'files', rmdir: 'files', delete: 'files', purge: 'files',
  obscure: 'tools', reveal: 'tools', cryptdecode: 'tools', version: 'tools',
  config: 'config',
  sync: 'sync', move: 'sync', moveto: 'sync',
  check: 'check', cryptcheck: 'check',
  hashsum: 'hashsum', md5sum: 'hashsum', sha1sum: 'hashsum', sha256sum: 'hashsum',
  lsjson: 'lsjson',
  size: 'misc', tree: 'misc', rcat: 'misc', touch: 'misc', about: 'misc',
  mount: 'mount',
  umount: 'umount',
  completion: 'completion',
  verify: 'seal', seal: 'seal',
};

export function commandModuleNames(): CommandModuleName[] {
  return Object.keys(MODULES) as CommandModuleName[];
}

/** Loads (registers) one module's commands. */
export async function loadCommandModule(module: CommandModuleName): Promise<void> {
  await MODULES[module]();
}

/** Registers command `name` if it is one; false when no module declares it. */
export async function loadCommand(name: string): Promise<boolean> {
  const module = Object.hasOwn(COMMAND_MODULE, name) ? COMMAND_MODULE[name] : undefined;
  if (module === undefined) return false;
  await loadCommandModule(module);
  return true;
}

/** Registers every command (help texts, completion, "did you mean"). */
export async function loadAllCommands(): Promise<void> {
  await Promise.all(commandModuleNames().map(loadCommandModule));
}
