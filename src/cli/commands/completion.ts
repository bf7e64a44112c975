// `cryptfs completion bash|zsh|fish`: prints a completion script built from the
// registered commands and their flags (see ../completion.ts).
import { registerCommand, listCommands } from '../command.js';
import { COMPLETION_SHELLS, completionScript, parseShell, type CompletionModel } from '../completion.js';
import { globalFlags, rootOnlyFlags } from '../global-flags.js';
import { backendOptionFlags } from '../backend-flags.js';
import { writeOut } from '../util.js';
import { loadAllCommands } from './index.js';

/** The completion model of the commands registered so far (all of them after loadAllCommands()). */
export function cliCompletionModel(): CompletionModel {
  return {
    program: 'cryptfs',
    commands: listCommands()
      .filter((c) => !c.hidden)
      .map((c) => ({ name: c.name, short: c.short, flags: c.flags ?? [] })),
    // Backend options as flags (--crypt-password, --s3-sse-customer-key, ...) complete like global ones.
    globalFlags: [...globalFlags, ...backendOptionFlags()],
    rootFlags: rootOnlyFlags,
  };
}

registerCommand({
  name: 'completion',
  use: COMPLETION_SHELLS.join('|'),
  short: 'Output a shell completion script (bash, zsh or fish).',
  long: [
    'Prints a completion script for the given shell to standard output.',
    '',
    '  bash:  source <(cryptfs completion bash)',
    '  zsh:   source <(cryptfs completion zsh)',
    '  fish:  cryptfs completion fish | source',
  ].join('\n'),
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, [shell]) {
    await loadAllCommands();
    await writeOut(ctx.stdout, completionScript(parseShell(shell), cliCompletionModel()));
  },
});
