// ls, lsl, lsd, lsf: listing commands with rclone's output formats.
import { flagBool, flagNumber, flagString } from '../args.js';
import { registerCommand, type CommandContext } from '../command.js';
import { formatTime, formatTimeNanos } from '../format.js';
import { walk } from '../walk.js';
import { filterFromFlags } from '../filter.js';
import { CommandFailedError, writeOut } from '../util.js';
import { listingFailure } from '../listing-failure.js';
import type { Remote, RemoteEntry } from '../../remote/remote.js';
import { baseName } from '../../remote/remote.js';

/** Lists a target (a directory, or a single file) to the given depth; a failed walk ends `command` as rclone 1.60.1 does. */
async function* listTarget(
  ctx: CommandContext,
  command: string,
  spec: string,
  maxDepth: number,
  /** Whether the command shows files' modification times (over an object store, a HEAD per object). */
  modTimes: boolean,
): AsyncGenerator<{ entry: RemoteEntry; remote: Remote }> {
  const { remote, file } = await ctx.factory.openTarget(spec);
  if (file !== undefined) {
    const e = await remote.stat(file);
    yield { entry: { ...e, path: file }, remote };
    return;
  }
  try {
    const filter = filterFromFlags(ctx.flags);
    for await (const entry of walk(remote, '', { maxDepth, concurrency: flagNumber(ctx.flags, 'checkers'), signal: ctx.signal, filter, modTimes })) {
      yield { entry, remote };
    }
  } catch (err) {
    // lsf is rclone's ListJSON underneath, which wraps the error.
    throw listingFailure(command, err, command === 'lsf' ? 'error in ListJSON' : undefined);
  }
}

function depth(ctx: CommandContext, recursiveByDefault: boolean): number {
  const given = flagNumber(ctx.flags, 'max-depth');
  if (given >= 0) return given;
  if (flagBool(ctx.flags, 'recursive')) return -1;
  return recursiveByDefault ? -1 : 1;
}

registerCommand({
  name: 'ls',
  use: 'remote:path',
  short: 'List the objects in the path with size and path.',
  long:
    'Lists the objects in the source path to standard output in a human\nreadable format with size and path. Recurses by default.',
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, [spec]) {
    for await (const { entry } of listTarget(ctx, 'ls', spec, depth(ctx, true), false)) {
      if (!entry.isDir) await writeOut(ctx.stdout, `${String(entry.size).padStart(9)} ${entry.path}\n`);
    }
  },
});

registerCommand({
  name: 'lsl',
  use: 'remote:path',
  short: 'List the objects in path with modification time, size and path.',
  long:
    'Lists the objects in the source path to standard output in a human\nreadable format with modification time, size and path. Recurses by default.',
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, [spec]) {
    for await (const { entry } of listTarget(ctx, 'lsl', spec, depth(ctx, true), true)) {
      if (!entry.isDir) {
        await writeOut(ctx.stdout, `${String(entry.size).padStart(9)} ${formatTimeNanos(entry.mtime, entry.mtimeNs)} ${entry.path}\n`);
      }
    }
  },
});

registerCommand({
  name: 'lsd',
  use: 'remote:path',
  short: 'List all directories/containers/buckets in the path.',
  long:
    'Lists the directories in the source path to standard output. Does not\nrecurse by default. Use the -R flag to recurse.',
  minArgs: 1,
  maxArgs: 1,
  flags: [{ name: 'recursive', short: 'R', type: 'bool', help: 'Recurse into the listing' }],
  async run(ctx, [spec]) {
    for await (const { entry } of listTarget(ctx, 'lsd', spec, depth(ctx, false), false)) {
      if (entry.isDir) {
        await writeOut(
          ctx.stdout,
          `${String(entry.size).padStart(12)} ${formatTime(entry.mtime).padStart(13)} ${'-1'.padStart(9)} ${entry.path}\n`,
        );
      }
    }
  },
});

registerCommand({
  name: 'lsf',
  use: 'remote:path',
  short: 'List directories and objects in remote:path formatted for parsing.',
  long:
    'List the contents of the source path (directories and objects) to\nstandard output in a form which is easy to parse by scripts. Directories\nend with "/". Does not recurse by default.',
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { name: 'recursive', short: 'R', type: 'bool', help: 'Recurse into the listing' },
    { name: 'format', short: 'F', type: 'string', default: 'p', help: 'Output format - see  help for details' },
    { name: 'separator', short: 's', type: 'string', default: ';', help: 'Separator for the items in the format' },
    { name: 'dirs-only', short: 'd', type: 'bool', help: 'Only list directories' },
    { name: 'files-only', type: 'bool', help: 'Only list files' },
    { name: 'dir-slash', type: 'bool', default: true, help: 'Append a slash to directory names' },
  ],
  async run(ctx, [spec]) {
    const format = flagString(ctx.flags, 'format');
    const sep = flagString(ctx.flags, 'separator');
    const dirsOnly = flagBool(ctx.flags, 'dirs-only');
    const filesOnly = flagBool(ctx.flags, 'files-only');
    const slash = flagBool(ctx.flags, 'dir-slash');
    for await (const { entry } of listTarget(ctx, 'lsf', spec, depth(ctx, false), /[tT]/.test(format))) {
      if ((dirsOnly && !entry.isDir) || (filesOnly && entry.isDir)) continue;
      const fields = [...format].map((ch) => {
        switch (ch) {
          case 'p':
            return entry.path + (entry.isDir && slash ? '/' : '');
          case 'n':
            return baseName(entry.path) + (entry.isDir && slash ? '/' : '');
          case 's':
            return String(entry.size);
          case 't':
            return formatTime(entry.mtime);
          case 'T':
            return entry.mtime.toISOString();
          default:
            throw new CommandFailedError(`unknown format character ${JSON.stringify(ch)}`);
        }
      });
      await writeOut(ctx.stdout, fields.join(sep) + '\n');
    }
  },
});
