// The command wrapper (rclone's cmd.Run): stats/progress output, retries of
// the whole command, the final stats, the "Failed to <cmd>" error line and the
// exit code; and copy/sync/move/copyto/moveto as commands on top of it.
import { hashless } from './entry-hash.js';
import { CryptfsError, errorMessage } from '../errors.js';
import { ExitCode, ExitStatusError, exitCodeOf } from './exit-codes.js';
import { log, type LogLevel } from '../log.js';
import { flagBool, flagNumber, flagString, type FlagValues } from './args.js';
import type { CommandContext } from './command.js';
import { transferFile } from './operations.js';
import { startStatsOutput } from './progress.js';
import { TransferStats, parseTimeDuration } from './stats.js';
import { syncTree, type SyncMode } from './sync-tree.js';
import { transferOptionsFromFlags } from './transfer-flags.js';
import { assertWritable } from './write-guard.js';

/** Error to end a command with when some files failed: rclone's "Failed to copy with N errors". */
export function summariseErrors(verb: string, stats: TransferStats): CryptfsError | undefined {
  if (!stats.errors) return undefined;
  const last = stats.lastError;
  return new ExitStatusError(
    stats.errors <= 1 ? `${verb}: ${errorMessage(last)}` : `${verb} with ${stats.errors} errors: last error was: ${errorMessage(last)}`,
    exitCodeOf(last),
    { cause: last },
  );
}

// ---- the command wrapper (rclone's cmd.Run) ----

/** The command's final error, printed by main as "Failed to <cmd>...". */
class CommandError extends ExitStatusError {
  constructor(message: string, exitCode: number, cause: unknown) {
    super(message, exitCode, { cause });
  }
}

export interface RunOptions {
  /** Repeat the whole command on errors (--retries): copy, sync, move, touch. */
  retry: boolean;
  /** Print stats at the end (and periodically with --stats). */
  showStats: boolean;
}

/** The level stats are logged at: --stats-log-level, raised to NOTICE by --dry-run. */
export function statsLogLevel(flags: FlagValues): LogLevel {
  if (flagBool(flags, 'dry-run')) return 'notice';
  const l = flagString(flags, 'stats-log-level').toLowerCase();
  return (['debug', 'info', 'notice', 'error'].includes(l) ? l : 'info') as LogLevel;
}

function logAt(level: LogLevel, message: string): void {
  log[level](message);
}

/**
 * Runs a command body the way rclone's cmd.Run does: starts the stats or
 * progress output, retries the whole body on errors, prints the final stats,
 * and turns the outcome into the exit code (throwing the "Failed to <cmd>" error).
 * Text the body returns goes to stdout after the progress display has stopped.
 * Returns the exit code for success paths (0, or 9 with --error-on-no-transfer).
 */
export async function runCommand(
  ctx: CommandContext,
  name: string,
  run: RunOptions,
  body: (stats: TransferStats) => Promise<string | void>,
): Promise<number> {
  const flags = ctx.flags;
  const stats = new TransferStats();
  const statsInterval = parseTimeDuration(flagString(flags, 'stats') || '1m0s');
  const statsGiven = flagString(flags, 'stats') !== '1m0s' && flagString(flags, 'stats') !== '';
  const showStats = run.showStats || statsGiven;
  const stop = startStatsOutput(ctx, stats, { showStats, statsInterval, level: statsLogLevel(flags) });
  const retries = Math.max(1, flagNumber(flags, 'retries') || 1);
  const retriesSleep = parseTimeDuration(flagString(flags, 'retries-sleep') || '0');
  let cmdErr: unknown;
  /** What the body has for stdout: written once -P has stopped drawing, so the two don't mix. */
  let output: string | void = undefined;
  try {
    for (let attempt = 1; attempt <= retries; attempt++) {
      cmdErr = undefined;
      try {
        output = await body(stats);
      } catch (err) {
        cmdErr = err;
        if (!stats.isCounted(err)) stats.error(err);
      }
      const lastErr = stats.lastError;
      cmdErr ??= lastErr;
      // Interrupted (Ctrl-C): no further attempt, and no line about this one.
      if (ctx.signal?.aborted) break;
      if (!run.retry || !stats.errored()) {
        if (attempt > 1) log.error(`Attempt ${attempt}/${retries} succeeded`);
        break;
      }
      if (stats.fatalError) {
        log.error('Fatal error received - not attempting retries');
        break;
      }
      if (!stats.retryError) {
        log.error("Can't retry any of the errors - not attempting retries");
        break;
      }
      log.error(
        lastErr !== undefined
          ? `Attempt ${attempt}/${retries} failed with ${stats.errors} errors and: ${errorMessage(lastErr)}`
          : `Attempt ${attempt}/${retries} failed with ${stats.errors} errors`,
      );
      if (attempt < retries) stats.resetErrors();
      if (retriesSleep > 0 && attempt < retries) await new Promise((r) => setTimeout(r, retriesSleep));
    }
  } finally {
    await stop();
  }
  if (hashless.count > 0) {
    log.notice(`${hashless.count} ${hashless.count === 1 ? 'file was' : 'files were'} compared by size only: no hash for it on one side (a crypt object without a sealed record)`);
    hashless.count = 0;
  }
  if (output) await new Promise<void>((resolve, reject) => ctx.stdout.write(output as string, (err) => (err ? reject(err) : resolve())));
  // Interrupted: rclone's signal handler exits before its final stats; so does this.
  if (showStats && !ctx.signal?.aborted && (stats.errored() || statsInterval > 0)) {
    const level = statsLogLevel(flags);
    const oneLine = flagBool(flags, 'stats-one-line');
    const text = stats.string({ oneLine, fileNameLength: flagNumber(flags, 'stats-file-name-length') });
    logAt(level, text);
  }
  if (cmdErr === undefined && stats.lastError !== undefined) cmdErr = stats.lastError;
  if (cmdErr !== undefined) {
    const n = stats.errors;
    const message =
      n <= 1 ? `Failed to ${name}: ${errorMessage(cmdErr)}` : `Failed to ${name} with ${n} errors: last error was: ${errorMessage(cmdErr)}`;
    throw new CommandError(message, exitCodeOf(cmdErr), cmdErr);
  }
  if (flagBool(flags, 'error-on-no-transfer') && stats.transfers === 0) return ExitCode.noFilesTransferred;
  return 0;
}

/** A single-file source cannot be combined with filters (rclone refuses too). */
export class SingleFileFilterError extends CryptfsError {}

/**
 * copy/sync/move SRC DST as commands: a file source is limited to that file
 * (rclone's single-file filter); a directory source is marched against DST.
 */
export async function runTreeCommand(
  ctx: CommandContext,
  name: string,
  mode: SyncMode,
  srcSpec: string,
  dstSpec: string,
): Promise<number> {
  transferOptionsFromFlags(ctx.flags); // flag errors before anything starts
  const { remote: src, file } = await ctx.factory.openTarget(srcSpec);
  const dst = await ctx.factory.open(dstSpec);
  await assertWritable(ctx, dst);
  return runCommand(ctx, name, { retry: true, showStats: true }, async (stats) => {
    const opts = transferOptionsFromFlags(ctx.flags, stats);
    opts.signal = ctx.signal;
    if (file !== undefined) {
      if (opts.filter.active) throw new SingleFileFilterError(`Can't limit to single files when using filters: ${srcSpec}`);
      opts.filter = opts.filter.withSingleFile(file);
    }
    await syncTree(src, dst, opts, mode);
  });
}

/** copyto/moveto SRC DST: a file source goes to exactly DST; a directory source is like copy/move. */
export async function runToCommand(
  ctx: CommandContext,
  name: string,
  mode: 'copy' | 'move',
  srcSpec: string,
  dstSpec: string,
  splitSpec: (spec: string) => { parentSpec: string; leaf: string },
): Promise<number> {
  transferOptionsFromFlags(ctx.flags);
  const { remote: src, file } = await ctx.factory.openTarget(srcSpec);
  if (file === undefined) return runTreeCommand(ctx, name, mode, srcSpec, dstSpec);
  const { parentSpec, leaf } = splitSpec(dstSpec);
  const dst = await ctx.factory.open(parentSpec);
  await assertWritable(ctx, dst);
  return runCommand(ctx, name, { retry: true, showStats: true }, async (stats) => {
    const opts = transferOptionsFromFlags(ctx.flags, stats);
    opts.signal = ctx.signal;
    await transferFile(src, file, dst, leaf, opts, mode);
  });
}
