// verify, seal: the sealed records of a crypt remote (remote/crypt-verify.ts, crypt-audit.ts).
import { flagBool, flagNumber } from '../args.js';
import { registerCommand, type CommandContext } from '../command.js';
import { CommandFailedError } from '../util.js';
import { ExitCode } from '../exit-codes.js';
import { filterFromFlags } from '../filter.js';
import { fsString, unwrap } from '../operations.js';
import { walk } from '../walk.js';
import { mapLimit } from '../../concurrency.js';
import { CryptFormatError, errorMessage } from '../../errors.js';
import { log } from '../../log.js';
import { CryptRemote } from '../../remote/crypt.js';
import { auditObject, sealObject, type Audit } from '../../remote/crypt-audit.js';
import { joinPath, type Remote } from '../../remote/remote.js';

/** The crypt remote behind `spec` and the plain paths (relative to its root) of the files it names. */
async function cryptFiles(ctx: CommandContext, spec: string): Promise<{ crypt: CryptRemote; remote: Remote; paths: string[] }> {
  const { remote, file } = await ctx.factory.openTarget(spec);
  const { base, prefix } = unwrap(remote);
  if (!(base instanceof CryptRemote)) throw new CommandFailedError('the remote needs to be of type "crypt"', ExitCode.uncategorized);
  if (base.options.noDataEncryption) {
    throw new CommandFailedError('no_data_encryption is set: its objects have no header to seal', ExitCode.uncategorized);
  }
  const paths: string[] = [];
  if (file !== undefined) paths.push(joinPath(prefix, file));
  else {
    const filter = filterFromFlags(ctx.flags);
    for await (const e of walk(remote, '', { concurrency: flagNumber(ctx.flags, 'checkers'), signal: ctx.signal, filter, modTimes: false })) {
      if (!e.isDir) paths.push(joinPath(prefix, e.path));
    }
  }
  return { crypt: base, remote, paths };
}

/** The path as the user named things: relative to the spec's root. */
function shown(path: string, prefix: string): string {
  return prefix === '' ? path : path.slice(prefix.length + 1);
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

registerCommand({
  name: 'verify',
  use: 'remote:path',
  short: 'Checks the sealed records of the files in a crypt remote.',
  long:
    'Checks every file under remote:path against the sealed record cryptfs keeps in its\n' +
    "object's metadata: that the content is the one sealed for this name (not another file's,\n" +
    'swapped or copied over it), and that the file is as long as it was sealed (not cut at a\n' +
    'chunk boundary, which the crypt format itself cannot see). Only each file\'s header is\n' +
    'read; with --download every chunk is also authenticated and the sealed hashes compared.\n\n' +
    'It counts sealed files, unsealed files (written by rclone, or whose metadata was dropped;\n' +
    '`cryptfs seal` adds records to them), files moved elsewhere by another tool (the record\n' +
    'names a path that no longer exists) and mismatched files, and prints each mismatch with\n' +
    'its cause. It exits non-zero if any file is mismatched or could not be checked, and, when\n' +
    'the crypt remote has integrity = strict, if any is unsealed or moved.',
  minArgs: 1,
  maxArgs: 1,
  flags: [{ name: 'download', type: 'bool', help: 'Read every file in full, authenticating every chunk' }],
  async run(ctx, [spec]) {
    const { crypt, remote, paths } = await cryptFiles(ctx, spec);
    const { prefix } = unwrap(remote);
    const download = flagBool(ctx.flags, 'download');
    const counts = { sealed: 0, unsealed: 0, moved: 0, mismatched: 0, errors: 0 };
    await mapLimit(paths, Math.max(1, flagNumber(ctx.flags, 'checkers') || 8), async (path) => {
      const name = shown(path, prefix);
      let audit: Audit;
      try {
        audit = await auditObject(crypt, path, { download });
      } catch (err) {
        // A chunk that does not authenticate, a bad header: the content is damaged or not this file's.
        if (err instanceof CryptFormatError) counts.mismatched++;
        else counts.errors++;
        log.error(`${name}: ${errorMessage(err)}`);
        return;
      }
      const v = audit.verdict;
      switch (v.status) {
        case 'sealed':
          counts.sealed++;
          log.debug(`${name}: sealed, OK`);
          break;
        case 'unsealed':
          counts.unsealed++;
          log.info(`${name}: not sealed`);
          break;
        case 'moved':
          counts.moved++;
          log.notice(`${name}: moved elsewhere: ${v.detail}`);
          break;
        case 'mismatch':
          counts.mismatched++;
          log.error(`${name}: ${v.error.message}`);
          break;
      }
    });
    const summary =
      `${fsString(remote)}: ${plural(counts.sealed, 'sealed file')}, ${plural(counts.unsealed, 'unsealed file')}, ` +
      `${plural(counts.moved, 'file')} moved elsewhere, ${plural(counts.mismatched, 'mismatched file')}` +
      (counts.errors ? `, ${plural(counts.errors, 'error')}` : '');
    log.notice(summary);
    const strict = crypt.verifier.mode === 'strict';
    const failed = counts.mismatched + counts.errors + (strict ? counts.unsealed + counts.moved : 0);
    if (failed > 0) throw new CommandFailedError(`${plural(failed, 'file')} failed verification`, ExitCode.uncategorized);
  },
});

registerCommand({
  name: 'seal',
  use: 'remote:path',
  short: 'Adds sealed records to the files of a crypt remote that have none.',
  long:
    'Seals every file under remote:path that carries no sealed record (files rclone wrote, or\n' +
    'whose metadata another tool dropped) and every file another tool moved without re-sealing\n' +
    'it: reads the whole file, authenticating every chunk and computing its SHA-256, MD5 and\n' +
    "SHA-1, then stores the record in the object's metadata (S3 x-amz-meta-*, Swift\n" +
    'X-Object-Meta-*, local user.* extended attributes), keeping the metadata already there.\n' +
    'The content is not rewritten: rclone reads the files exactly as before.\n\n' +
    'Files already sealed for their name are left alone. Files whose record does not match are\n' +
    'left alone and reported (see `cryptfs verify`); the command then exits non-zero.\n\n' +
    'Sealing asserts that the content is the right one for its name: seal only files you trust.\n' +
    'With --force it also re-seals files whose record does not match, once you have checked\n' +
    'their content: e.g. files another tool rewrote in place on a local disk, which keeps the\n' +
    'old record (rclone 1.60 overwrites local files in place). With --dry-run it reads and\n' +
    'reports but writes nothing.',
  minArgs: 1,
  maxArgs: 1,
  flags: [{ name: 'force', type: 'bool', help: 'Also re-seal files whose record does not match' }],
  async run(ctx, [spec]) {
    const { crypt, remote, paths } = await cryptFiles(ctx, spec);
    const { prefix } = unwrap(remote);
    const dryRun = flagBool(ctx.flags, 'dry-run');
    const force = flagBool(ctx.flags, 'force');
    const counts = { added: 0, sealed: 0, mismatched: 0, errors: 0 };
    await mapLimit(paths, Math.max(1, flagNumber(ctx.flags, 'checkers') || 8), async (path) => {
      const name = shown(path, prefix);
      try {
        const { outcome, audit } = await sealObject(crypt, path, { dryRun, force });
        if (outcome === 'sealed') counts.sealed++;
        else if (outcome === 'added' || outcome === 'resealed') {
          counts.added++;
          if (audit.verdict.status === 'mismatch') log.notice(`${name}: re-sealing (--force): ${audit.verdict.error.message}`);
          if (dryRun) log.notice(`${name}: Skipped sealing as --dry-run is set`);
          else log.info(`${name}: sealed`);
        } else {
          counts.mismatched++;
          if (audit.verdict.status === 'mismatch') log.error(`${name}: not sealed: ${audit.verdict.error.message}`);
        }
      } catch (err) {
        if (err instanceof CryptFormatError) counts.mismatched++;
        else counts.errors++;
        log.error(`${name}: not sealed: ${errorMessage(err)}`);
      }
    });
    log.notice(
      `${fsString(remote)}: ${plural(counts.added, 'file')} ${dryRun ? 'to seal' : 'sealed'}, ${counts.sealed} already sealed, ` +
        `${plural(counts.mismatched, 'mismatched file')} left alone` +
        (counts.errors ? `, ${plural(counts.errors, 'error')}` : ''),
    );
    const failed = counts.mismatched + counts.errors;
    if (failed > 0) throw new CommandFailedError(`${plural(failed, 'file')} could not be sealed`, ExitCode.uncategorized);
  },
});
