// obscure, reveal, cryptdecode, version.
import { flagBool } from '../args.js';
import { registerCommand } from '../command.js';
import { fstatSync } from 'node:fs';
import { CommandFailedError, readAllBytes, writeOut } from '../util.js';
import { argumentBytes, firstLine } from '../raw-args.js';
import { obscure, revealBytes } from '../../crypt/obscure.js';
import { CryptRemote } from '../../remote/crypt.js';
import { SubRemote } from '../../remote/sub-remote.js';
import type { Remote } from '../../remote/remote.js';
import { ExitCode } from '../exit-codes.js';
import { versionText } from '../version.js';

registerCommand({
  name: 'obscure',
  use: 'password',
  short: 'Obscure password for use in the rclone.conf',
  long:
    'Obscure password for use in the config file.\n\nThis is not a secure way of encrypting these passwords as it can be\nreversed. If you give "-" as the password it is read from the first\nline of standard input.',
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, [password]) {
    // Bytes throughout, as rclone: an argument that is not UTF-8 is obscured as given.
    let value: Buffer = argumentBytes(password);
    if (password === '-' && ctx.stdin.readable && !stdinIsCharDevice(ctx.stdin)) {
      // rclone reads the first line of piped input; an empty pipe gives the empty password.
      value = firstLine(await readAllBytes(ctx.stdin)) ?? Buffer.alloc(0);
    }
    await writeOut(ctx.stdout, obscure(value) + '\n');
  },
});

/** rclone obscures "-" itself when stdin is a terminal or /dev/null (a character device). */
function stdinIsCharDevice(stdin: NodeJS.ReadableStream): boolean {
  if ((stdin as { isTTY?: boolean }).isTTY) return true;
  if (stdin !== process.stdin) return false;
  try {
    return fstatSync(0).isCharacterDevice();
  } catch {
    return false;
  }
}

registerCommand({
  name: 'reveal',
  use: 'password',
  short: 'Reveal obscured password from rclone.conf',
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, [value]) {
    // The revealed bytes as they are (rclone prints a Go string): not re-encoded as UTF-8.
    await writeOut(ctx.stdout, Buffer.concat([revealBytes(value), Buffer.from('\n')]));
  },
});

/** The crypt remote behind a spec, or a clear error when it is not one. */
function asCrypt(remote: Remote): CryptRemote {
  let r: Remote = remote;
  while (r instanceof SubRemote) r = r.inner;
  if (!(r instanceof CryptRemote)) {
    throw new CommandFailedError('the remote needs to be of type "crypt"', ExitCode.unclassified);
  }
  return r;
}

registerCommand({
  name: 'cryptdecode',
  use: 'encryptedremote: encryptedfilename',
  short: 'Cryptdecode returns unencrypted file names.',
  long:
    'cryptdecode returns unencrypted file names when provided with a list of\nencrypted file names. List limit is 10 items.\n\nIf you supply the --reverse flag, it will return encrypted file names.',
  minArgs: 2,
  maxArgs: 11,
  flags: [{ name: 'reverse', type: 'bool', help: 'Reverse cryptdecode, encrypts filenames' }],
  async run(ctx, [spec, ...names]) {
    const crypt = asCrypt(await ctx.factory.open(spec));
    const reverse = flagBool(ctx.flags, 'reverse');
    for (const name of names) {
      let out: string;
      try {
        out = reverse ? crypt.encryptName(name) : crypt.decryptName(name);
      } catch {
        out = 'Failed to decrypt';
      }
      // Go's Println puts a space on both sides of the tab.
      await writeOut(ctx.stdout, `${name} \t ${out}\n`);
    }
  },
});

registerCommand({
  name: 'version',
  use: '',
  short: 'Show the version number.',
  minArgs: 0,
  maxArgs: 0,
  async run(ctx) {
    await writeOut(ctx.stdout, versionText());
  },
});
