// copy, copyto, cat, mkdir, rmdir, delete, purge.
import { flagBool, flagNumber } from '../args.js';
import { registerCommand, type CommandContext } from '../command.js';
import { runToCommand, runTreeCommand, summariseErrors } from '../command-run.js';
import { TransferStats } from '../stats.js';
import { CommandFailedError, writeOut, writeThrough } from '../util.js';
import { walk } from '../walk.js';
import { filterFromFlags } from '../filter.js';
import { transferOptionsFromFlags } from '../transfer-flags.js';
import { deleteWalkedFiles, purgeByDeleting, removeEmptyDirs, type DeleteOptions } from '../delete-files.js';
import { log } from '../../log.js';
import { logPath } from '../../log-names.js';
import { DirNotFoundError, ObjectNotFoundError, errorMessage } from '../../errors.js';
import { ExitCode, exitCodeOf } from '../exit-codes.js';
import { PieceReuse, type Remote, type RemoteEntry } from '../../remote/remote.js';
import { splitSpec } from '../../remote/open.js';
import { assertWritable } from '../write-guard.js';
import { listingFailure } from '../listing-failure.js';

registerCommand({
  name: 'copy',
  use: 'source:path dest:path',
  short: 'Copy files from source to dest, skipping identical files.',
  long:
    'Copy the source to the destination. Does not transfer files that are\nidentical on source and destination, testing by size and modification\ntime. Doesn\'t delete files from the destination.\n\nIf the source is a file, it is copied into the destination directory.',
  minArgs: 2,
  maxArgs: 2,
  run: (ctx, [srcSpec, dstSpec]) => runTreeCommand(ctx, 'copy', 'copy', srcSpec, dstSpec),
});

registerCommand({
  name: 'copyto',
  use: 'source:path dest:path',
  short: 'Copy files from source to dest, skipping identical files.',
  long:
    'If source:path is a file or directory then it copies it to a file or\ndirectory named dest:path. This can be used to copy a single file to a\nname other than its current one.',
  minArgs: 2,
  maxArgs: 2,
  run: (ctx, [srcSpec, dstSpec]) => runToCommand(ctx, 'copyto', 'copy', srcSpec, dstSpec, splitSpec),
});

registerCommand({
  name: 'cat',
  use: 'remote:path',
  short: 'Concatenates any files and sends them to stdout.',
  long:
    'Sends any files to standard output. With --offset/--count only part of\neach file is sent; --head/--tail take bytes from the start/end.',
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { name: 'offset', type: 'int', default: 0, help: 'Start printing at offset N (or from end if -ve)' },
    { name: 'count', type: 'int', default: -1, help: 'Only print N characters' },
    { name: 'head', type: 'int', default: 0, help: 'Only print the first N characters' },
    { name: 'tail', type: 'int', default: 0, help: 'Only print the last N characters' },
    { name: 'discard', type: 'bool', help: 'Discard the output instead of printing' },
  ],
  async run(ctx, [spec]) {
    const { remote, file } = await ctx.factory.openTarget(spec);
    let offset = flagNumber(ctx.flags, 'offset');
    let count = flagNumber(ctx.flags, 'count');
    const head = flagNumber(ctx.flags, 'head');
    const tail = flagNumber(ctx.flags, 'tail');
    if (head > 0) {
      offset = 0;
      count = head;
    }
    if (tail > 0) {
      offset = -tail;
      count = -1;
    }
    const discard = flagBool(ctx.flags, 'discard');
    const files: RemoteEntry[] = [];
    if (file !== undefined) files.push({ ...(await remote.stat(file)), path: file });
    else {
      try {
        const filter = filterFromFlags(ctx.flags);
        for await (const e of walk(remote, '', { concurrency: flagNumber(ctx.flags, 'checkers'), signal: ctx.signal, filter, modTimes: false })) {
          if (!e.isDir) files.push(e);
        }
      } catch (err) {
        throw listingFailure('cat', err);
      }
    }
    let errors = 0;
    let lastError: unknown;
    for (const f of files) {
      let start = offset;
      if (start < 0) start = Math.max(0, f.size + start);
      const length = count >= 0 ? count : undefined;
      let source;
      // The source may refill its buffers when nothing keeps them: --discard, or the process's own
      // stdout on Linux, done with a piece once its write has called back (a stream that collects
      // its chunks, as in-process callers may pass, gets new buffers).
      const reuse = new PieceReuse();
      const through = ctx.stdout === process.stdout && process.platform === 'linux';
      if (discard || through) reuse.allow();
      try {
        source = await remote.openRead(f.path, { offset: start, length }, { signal: ctx.signal, reuse });
      } catch (err) {
        errors++;
        lastError = err;
        log.error(`${logPath(f.path)}: Failed to open: ${errorMessage(err)}`);
        continue;
      }
      try {
        for await (const chunk of source) {
          if (discard) continue;
          if (through) await writeThrough(ctx.stdout, chunk);
          else await writeOut(ctx.stdout, chunk);
        }
      } catch (err) {
        errors++;
        lastError = err;
        log.error(`${logPath(f.path)}: Failed to send to output: ${errorMessage(err)}`);
      }
    }
    if (errors) throw catFailure(errors, lastError);
  },
});

/** rclone's last line for cat: "Failed to cat[ with N errors: last error was]: …", exit code of the error. */
function catFailure(errors: number, lastError: unknown): CommandFailedError {
  const message = errorMessage(lastError);
  const line = errors <= 1 ? `Failed to cat: ${message}` : `Failed to cat with ${errors} errors: last error was: ${message}`;
  return new CommandFailedError(line, exitCodeOf(lastError), { cause: lastError });
}

registerCommand({
  name: 'mkdir',
  use: 'remote:path',
  short: 'Make the path if it doesn\'t already exist.',
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, [spec]) {
    const remote = await ctx.factory.open(spec);
    await assertWritable(ctx, remote);
    if (flagBool(ctx.flags, 'dry-run')) {
      log.notice(`: Skipped make directory as --dry-run is set`);
      return;
    }
    await remote.mkdir('');
  },
});

registerCommand({
  name: 'rmdir',
  use: 'remote:path',
  short: 'Remove the empty directory at path.',
  long:
    'This removes empty directory given by path. Will not remove the path if it\nhas any objects in it, not even empty subdirectories. Use\ncommand rmdirs (or delete with option --rmdirs) to do that.',
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, [spec]) {
    const remote = await ctx.factory.open(spec);
    if (flagBool(ctx.flags, 'dry-run')) {
      log.notice(`: Skipped remove directory as --dry-run is set`);
      return;
    }
    await remote.rmdir('');
  },
});

/** delete's and purge's settings from the global flags. */
function deleteOptions(ctx: CommandContext): DeleteOptions {
  const { checkers, maxBacklog, dryRun } = transferOptionsFromFlags(ctx.flags);
  return { checkers, maxBacklog, dryRun, signal: ctx.signal };
}

registerCommand({
  name: 'delete',
  use: 'remote:path',
  short: 'Remove the files in path.',
  long:
    'Remove the files in path. Unlike purge it obeys include/exclude filters\nso can be used to selectively delete files. It does not delete directories\nunless --rmdirs is given.',
  minArgs: 1,
  maxArgs: 1,
  flags: [{ name: 'rmdirs', type: 'bool', help: 'rmdirs removes empty directories but leaves root intact' }],
  async run(ctx, [spec]) {
    const { remote, file } = await ctx.factory.openTarget(spec);
    const stats = new TransferStats();
    const options = deleteOptions(ctx);
    const dirs = await deleteWalkedFiles(remote, stats, { ...options, file, filter: file === undefined ? filterFromFlags(ctx.flags) : undefined });
    if (flagBool(ctx.flags, 'rmdirs')) await removeEmptyDirs(remote, dirs, options.dryRun);
    const err = summariseErrors('Failed to delete', stats);
    if (err) throw err;
  },
});

registerCommand({
  name: 'purge',
  use: 'remote:path',
  short: 'Remove the path and all of its contents.',
  long:
    'Remove the path and all of its contents. Note that this does not obey\ninclude/exclude filters - everything will be removed.',
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, [spec]) {
    const remote = await ctx.factory.open(spec);
    const dryRun = flagBool(ctx.flags, 'dry-run');
    const st = await remote.stat('').catch((err) => {
      if (err instanceof ObjectNotFoundError) throw new DirNotFoundError(spec, { cause: err });
      throw err;
    });
    if (!st.isDir) throw new CommandFailedError(`is a file not a directory`, ExitCode.unclassified);
    if (remote.purge && !dryRun) {
      await remote.purge('');
      return;
    }
    const stats = new TransferStats();
    await purgeByDeleting(remote, stats, deleteOptions(ctx));
    const err = summariseErrors('Failed to purge', stats);
    if (err) throw err;
  },
});
