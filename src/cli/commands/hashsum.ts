// hashsum, md5sum, sha1sum (rclone's) and sha256sum (a cryptfs extension): one line per object,
// `HASH  path`, as md5sum/sha256sum print. On a crypt remote the hashes are the plaintext's, read
// from each object's sealed record (no download); objects without a record print a blank hash,
// as rclone does for an object whose remote has no hash for it, and are counted at the end.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { flagBool, flagNumber, flagString } from '../args.js';
import { registerCommand, type CommandContext, type CommandSpec } from '../command.js';
import { filterFromFlags } from '../filter.js';
import { unwrap } from '../operations.js';
import { CommandFailedError, writeOut } from '../util.js';
import { walk } from '../walk.js';
import { entryHash } from '../entry-hash.js';
import { mapLimit } from '../../concurrency.js';
import { errorMessage } from '../../errors.js';
import { log } from '../../log.js';
import { logPath } from '../../log-names.js';
import { CryptRemote } from '../../remote/crypt.js';
import { PieceReuse, type HashType, type Remote, type RemoteEntry } from '../../remote/remote.js';
import { exitCodeOf } from '../exit-codes.js';

const HASHES: readonly HashType[] = ['md5', 'sha1', 'sha256'];
const HEX_WIDTH: Record<HashType, number> = { md5: 32, sha1: 40, sha256: 64 };
/** Objects hashed at once per listing batch (rclone uses --checkers, --transfers with --download). */
const BATCH = 256;

const FLAGS = [
  { name: 'base64', type: 'bool' as const, help: 'Output base64 encoded hashsum' },
  { name: 'output-file', type: 'string' as const, help: 'Output hashsums to a file rather than the terminal' },
  {
    name: 'download',
    type: 'bool' as const,
    help: 'Download the file and hash it locally; if this flag is not specified, the hash is requested from the remote',
  },
];

/** A hex digest as rclone's --base64 prints it (URL alphabet, padded). */
function toBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

async function downloadedHash(remote: Remote, path: string, type: HashType): Promise<string> {
  const h = createHash(type);
  for await (const chunk of await remote.openRead(path, undefined, { reuse: PieceReuse.allowed() })) h.update(chunk);
  return h.digest('hex');
}

async function hashList(ctx: CommandContext, type: HashType, spec: string): Promise<void> {
  const { remote, file } = await ctx.factory.openTarget(spec);
  const download = flagBool(ctx.flags, 'download');
  const base64 = flagBool(ctx.flags, 'base64');
  const width = base64 ? toBase64('00'.repeat(HEX_WIDTH[type] / 2)).length : HEX_WIDTH[type];
  const outputFile = flagString(ctx.flags, 'output-file');
  const out: Writable = outputFile ? createWriteStream(outputFile) : ctx.stdout;
  const concurrency = Math.max(1, flagNumber(ctx.flags, download ? 'transfers' : 'checkers'));
  let errors = 0;
  let lastError: unknown;
  let withoutHash = 0;

  const hashBatch = async (entries: RemoteEntry[]): Promise<void> => {
    const lines = await mapLimit(entries, concurrency, async (e) => {
      try {
        const hex = download ? await downloadedHash(remote, e.path, type) : await entryHash(remote, e, type);
        if (hex === undefined || hex === '') withoutHash++;
        const shown = hex ? (base64 ? toBase64(hex) : hex) : '';
        return `${shown.padStart(width)}  ${e.path}\n`;
      } catch (err) {
        errors++;
        lastError = err;
        log.error(`${logPath(e.path)}: ${errorMessage(err)}`);
        return '';
      }
    });
    for (const line of lines) if (line) await writeOut(out, line);
  };

  try {
    if (file !== undefined) {
      await hashBatch([{ ...(await remote.stat(file)), path: file }]);
    } else {
      let batch: RemoteEntry[] = [];
      const filter = filterFromFlags(ctx.flags);
      for await (const e of walk(remote, '', { concurrency: flagNumber(ctx.flags, 'checkers'), signal: ctx.signal, filter, modTimes: false })) {
        if (e.isDir) continue;
        batch.push(e);
        if (batch.length >= BATCH) {
          await hashBatch(batch);
          batch = [];
        }
      }
      await hashBatch(batch);
    }
  } finally {
    if (outputFile) await new Promise<void>((resolve, reject) => (out as ReturnType<typeof createWriteStream>).end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
  if (withoutHash > 0) {
    const crypt = unwrap(remote).base instanceof CryptRemote;
    log.notice(
      `${withoutHash} ${withoutHash === 1 ? 'object has' : 'objects have'} no ${type} hash` +
        (crypt ? ' (no sealed record: written by another tool, or sealed under another password)' : '') +
        '; --download hashes the content itself',
    );
  }
  if (errors > 0) {
    throw new CommandFailedError(
      errors === 1 ? errorMessage(lastError) : `${errors} errors: last error was: ${errorMessage(lastError)}`,
      exitCodeOf(lastError),
      { cause: lastError },
    );
  }
}

function parseHashName(name: string): HashType {
  const type = name.toLowerCase().replace(/-/g, '') as HashType;
  if (!HASHES.includes(type)) {
    throw new CommandFailedError(`unknown hash type ${JSON.stringify(name)}: supported hashes are ${HASHES.join(', ')}`);
  }
  return type;
}

registerCommand({
  name: 'hashsum',
  use: '<hash> remote:path',
  short: 'Produces a hashsum file for all the objects in the path.',
  long:
    'Produces a hash file for all the objects in the path using the hash\nnamed. The output is in the same format as the standard\nmd5sum/sha1sum/sha256sum tools.\n\n' +
    'On a crypt remote the hashes are those of the plaintext, stated by the\nsealed record cryptfs keeps with every object it writes; objects without\none print no hash unless --download is given.\n\n' +
    `Supported hashes are:\n${HASHES.map((h) => `  * ${h}`).join('\n')}`,
  minArgs: 0,
  maxArgs: 2,
  flags: FLAGS,
  async run(ctx, args) {
    if (args.length < 2) {
      await writeOut(ctx.stdout, `Supported hashes are:\n${HASHES.map((h) => `  * ${h}`).join('\n')}\n`);
      if (args.length === 0) return;
      throw new CommandFailedError('hashsum needs a hash name and a remote:path');
    }
    await hashList(ctx, parseHashName(args[0]), args[1]);
  },
});

function shorthand(name: string, type: HashType, label: string, extension: boolean): CommandSpec {
  return {
    name,
    use: 'remote:path',
    short: `Produces an ${label} file for all the objects in the path.`,
    long:
      `Produces an ${label} file for all the objects in the path. This\nis in the same format as the standard ${name} tool produces.\n\n` +
      `Running \`cryptfs ${name} remote:path\` is equivalent to running\n\`cryptfs hashsum ${type} remote:path\`` +
      (extension ? ' (rclone has no such command).' : '.'),
    minArgs: 1,
    maxArgs: 1,
    flags: FLAGS,
    run: (ctx, [spec]) => hashList(ctx, type, spec),
  };
}

registerCommand(shorthand('md5sum', 'md5', 'md5sum', false));
registerCommand(shorthand('sha1sum', 'sha1', 'sha1sum', false));
registerCommand(shorthand('sha256sum', 'sha256', 'sha256sum', true));
