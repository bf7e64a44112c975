// The wrong-password guard at the CLI edge: every command that writes into a
// remote (copy, sync, move, copyto, moveto, rcat, mkdir, touch; mount too)
// calls this once its destination is open, before anything is written.
import { flagBool } from './args.js';
import type { CommandContext } from './command.js';
import { ALLOW_UNDECRYPTABLE_FLAG, assertPasswordFits } from '../remote/password-guard.js';
import type { Remote } from '../remote/remote.js';

/** Throws PasswordMismatchError (exit 7) when `dir` of `remote` is a crypt directory whose names do not decrypt. */
export function assertWritable(ctx: Pick<CommandContext, 'flags'>, remote: Remote, dir = ''): Promise<void> {
  return assertPasswordFits(remote, dir, { allowUndecryptable: flagBool(ctx.flags, ALLOW_UNDECRYPTABLE_FLAG) });
}
