// size, tree, rcat, touch, about: rclone's commands and output formats.
import { flagBool, flagNumber, flagString } from '../args.js';
import { registerCommand, type CommandContext } from '../command.js';
import { TransferStats, byteUnit, countSuffix } from '../stats.js';
import { runCommand } from '../command-run.js';
import { fsString } from '../operations.js';
import { transferOptionsFromFlags } from '../transfer-flags.js';
import { walk } from '../walk.js';
import { log } from '../../log.js';
import { logPath } from '../../log-names.js';
import { CryptfsError, DirNotFoundError, NotSupportedError, ObjectNotFoundError, UsageError, errorMessage } from '../../errors.js';
import type { ByteSource, Remote, RemoteEntry } from '../../remote/remote.js';
import { baseName, parentPath } from '../../remote/remote.js';
import { splitSpec } from '../../remote/open.js';
import { assertWritable } from '../write-guard.js';
import type { Filter } from '../filter.js';
import { listingErrorText } from '../listing-failure.js';

/**
 * Every file (and directory) under a target, filtered: a directory spec is
 * walked, a file spec is that one file. Listing errors are logged as rclone's
 * ": error listing: ..." and thrown.
 */
async function* listFiltered(
  ctx: CommandContext,
  spec: string,
  filter: Filter,
  stats?: TransferStats,
): AsyncGenerator<{ entry: RemoteEntry; remote: Remote }> {
  const { remote, file } = await ctx.factory.openTarget(spec);
  if (file !== undefined) {
    yield { entry: { ...(await remote.stat(file)), path: file }, remote };
    return;
  }
  const maxDepth = flagNumber(ctx.flags, 'max-depth');
  try {
    for await (const e of walk(remote, '', {
      maxDepth: maxDepth >= 0 ? maxDepth : undefined,
      concurrency: flagNumber(ctx.flags, 'checkers'),
      signal: ctx.signal,
      // Only where a rule can leave a directory out: else an object store lists the tree at once.
      descend: filter.usesDirectoryFilters ? (d) => filter.includeDir(d.path) : undefined,
      // size and tree show none (over an object store, a HEAD per object); an age filter needs them.
      modTimes: filter.usesModTimes,
    })) {
      if (e.isDir ? filter.includeDir(e.path) : filter.includeFile(e.path, e.size, e.mtime)) yield { entry: e, remote };
    }
  } catch (err) {
    const missing = err instanceof DirNotFoundError || err instanceof ObjectNotFoundError;
    log.error(`: error listing: ${listingErrorText(err)}`);
    // rclone's size counts the walk's error before its own (2 errors); tree does not.
    stats?.error(err);
    if (missing) {
      const e = new DirNotFoundError('', { cause: err });
      e.message = 'directory not found';
      throw e;
    }
    throw err;
  }
}

// ---- size ----

registerCommand({
  name: 'size',
  use: 'remote:path',
  short: 'Prints the total size and number of objects in remote:path.',
  long: 'Counts objects in the path and calculates the total size. Prints the\nresult to standard output.',
  minArgs: 1,
  maxArgs: 1,
  flags: [{ name: 'json', type: 'bool', help: 'Format output as JSON' }],
  async run(ctx, [spec]) {
    const { filter } = transferOptionsFromFlags(ctx.flags);
    return runCommand(ctx, 'size', { retry: false, showStats: false }, async (stats) => {
      let count = 0;
      let bytes = 0;
      let sizeless = 0;
      for await (const { entry } of listFiltered(ctx, spec, filter, stats)) {
        if (entry.isDir) continue;
        count++;
        if (entry.size >= 0) bytes += entry.size;
        else sizeless++;
      }
      if (flagBool(ctx.flags, 'json')) return JSON.stringify({ count, bytes, sizeless }) + '\n';
      let out = `Total objects: ${countSuffix(count)} (${count})\nTotal size: ${byteUnit(bytes)} (${bytes} Byte)\n`;
      if (sizeless > 0) out += `Total objects with unknown size: ${countSuffix(sizeless)} (${sizeless})\n`;
      return out;
    });
  },
});

// ---- tree ----

interface TreeNode {
  entry: RemoteEntry;
  children: TreeNode[];
}

registerCommand({
  name: 'tree',
  use: 'remote:path',
  short: 'List the contents of the remote in a tree like fashion.',
  long: 'Lists the contents of a remote in a similar way to the unix tree command.',
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { name: 'size', short: 's', type: 'bool', help: 'Print the size in bytes of each file.' },
    { name: 'dirsfirst', type: 'bool', help: 'List directories before files (-U disables).' },
    { name: 'full-path', type: 'bool', help: 'Print the full path prefix for each file.' },
    { name: 'level', type: 'int', default: 0, help: 'Descend only level directories deep.' },
    { name: 'noreport', type: 'bool', help: 'Turn off file/directory count at end of tree listing.' },
    { name: 'dirs-only', short: 'd', type: 'bool', help: 'List directories only.' },
  ],
  async run(ctx, [spec]) {
    const { filter } = transferOptionsFromFlags(ctx.flags);
    return runCommand(ctx, 'tree', { retry: false, showStats: false }, async () => {
      const root: TreeNode = { entry: { path: '', isDir: true, size: 0, mtime: new Date(0) }, children: [] };
      const dirs = new Map<string, TreeNode>([['', root]]);
      const level = flagNumber(ctx.flags, 'level');
      const all: RemoteEntry[] = [];
      for await (const { entry } of listFiltered(ctx, spec, filter)) {
        if (level > 0 && entry.path.split('/').length > level) continue;
        all.push(entry);
      }
      all.sort((a, b) => a.path.split('/').length - b.path.split('/').length);
      for (const e of all) {
        if (flagBool(ctx.flags, 'dirs-only') && !e.isDir) continue;
        const node: TreeNode = { entry: e, children: [] };
        (dirs.get(parentPath(e.path)) ?? root).children.push(node);
        if (e.isDir) dirs.set(e.path, node);
      }
      // Directory sizes are the sum of what they hold (as tree -s --du would show).
      const total = (n: TreeNode): number =>
        n.entry.isDir ? (n.entry.size = n.children.reduce((s, c) => s + total(c), 0)) : Math.max(0, n.entry.size);
      total(root);
      const showSize = flagBool(ctx.flags, 'size');
      const label = (n: TreeNode) =>
        (showSize ? `[${String(Math.max(0, n.entry.size)).padStart(11)}]  ` : '') +
        (flagBool(ctx.flags, 'full-path') ? `/${n.entry.path}` : baseName(n.entry.path));
      const lines: string[] = [(showSize ? `[${String(root.entry.size).padStart(11)}]  ` : '') + '/'];
      let nDirs = 0;
      let nFiles = 0;
      const render = (n: TreeNode, indent: string) => {
        const kids = [...n.children].sort((a, b) => {
          if (flagBool(ctx.flags, 'dirsfirst') && a.entry.isDir !== b.entry.isDir) return a.entry.isDir ? -1 : 1;
          return a.entry.path < b.entry.path ? -1 : a.entry.path > b.entry.path ? 1 : 0;
        });
        kids.forEach((k, i) => {
          const last = i === kids.length - 1;
          lines.push(`${indent}${last ? '└── ' : '├── '}${label(k)}`);
          if (k.entry.isDir) {
            nDirs++;
            render(k, indent + (last ? '    ' : '│   '));
          } else nFiles++;
        });
      };
      render(root, '');
      let out = lines.join('\n') + '\n';
      if (!flagBool(ctx.flags, 'noreport')) out += `\n${nDirs} directories, ${nFiles} files\n`;
      return out;
    });
  },
});

// ---- rcat ----

/** A destination spec naming a file: its parent remote and the name in it. */
async function openDstFile(ctx: CommandContext, spec: string): Promise<{ remote: Remote; leaf: string }> {
  const { parentSpec, leaf } = splitSpec(spec);
  if (leaf === '' || /\/$/.test(spec) || spec.endsWith(':')) throw new UsageError(`${JSON.stringify(spec)} is a directory`);
  return { remote: await ctx.factory.open(parentSpec), leaf };
}

registerCommand({
  name: 'rcat',
  use: 'remote:path',
  short: 'Copies standard input to file on remote.',
  long:
    'Reads from standard input (stdin) and copies it to a single remote file.\n\n' +
    '    echo "hello world" | cryptfs rcat remote:path/to/file\n' +
    '    ffmpeg - | cryptfs rcat remote:path/to/file\n\n' +
    'The data is streamed: its size is not known in advance and it is never\n' +
    'held in memory or on disk whole.',
  minArgs: 1,
  maxArgs: 1,
  flags: [{ name: 'size', type: 'int', default: -1, help: 'File size hint to preallocate' }],
  async run(ctx, [spec]) {
    const { remote, leaf } = await openDstFile(ctx, spec);
    const opts = transferOptionsFromFlags(ctx.flags);
    await assertWritable(ctx, remote);
    return runCommand(ctx, 'rcat', { retry: false, showStats: false }, async (stats) => {
      const hint = flagNumber(ctx.flags, 'size');
      if (opts.dryRun) {
        log.notice(`${logPath(leaf)}: Skipped copy as --dry-run is set (size ${hint >= 0 ? hint : '-1'})`);
        return;
      }
      const t = stats.startTransfer(leaf, hint >= 0 ? hint : -1);
      let ok = false;
      try {
        const source = stats.account(t, ctx.stdin as unknown as ByteSource, opts.bwlimit);
        const written = await remote.write(leaf, source, { mtime: new Date(), size: hint >= 0 ? hint : undefined });
        if (hint >= 0 && written.size !== hint) {
          throw new CryptfsError(`Streamed file has incorrect file size: expecting ${hint} got ${written.size}`);
        }
        ok = true;
      } finally {
        stats.endTransfer(t, ok);
      }
      log.info(`${logPath(leaf)}: Copied (new)`);
    });
  },
});

// ---- touch ----

/** Parses touch's -t value: YYMMDD, 2006-01-02T15:04:05 or with fractional seconds; UTC unless local. */
export function parseTouchTime(text: string, local: boolean): Date {
  const fail = (layout: string, detail?: string): never => {
    throw new UsageError(
      `failed to parse timestamp argument: parsing time ${JSON.stringify(text)}${detail ?? ` as ${JSON.stringify(layout)}: cannot parse ${JSON.stringify(text)} as ${JSON.stringify(layout)}`}`,
    );
  };
  let y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0;
  if (text.length === 6) {
    const m = /^(\d\d)(\d\d)(\d\d)$/.exec(text);
    if (!m) return fail('060102');
    // Go's two-digit years: 69-99 → 19xx, 00-68 → 20xx.
    y = Number(m[1]) >= 69 ? 1900 + Number(m[1]) : 2000 + Number(m[1]);
    mo = Number(m[2]);
    d = Number(m[3]);
  } else {
    const layout = text.length === 19 ? '2006-01-02T15:04:05' : '2006-01-02T15:04:05.999999999';
    const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?$/.exec(text);
    if (!m || (text.length === 19 && m[7] !== undefined)) return fail(layout);
    [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
    ms = m[7] ? Math.floor(Number(m[7].padEnd(9, '0')) / 1e6) : 0;
  }
  if (mo < 1 || mo > 12) fail('', ': month out of range');
  if (d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) fail('', ': day out of range');
  const t = local ? new Date(y, mo - 1, d, h, mi, s, ms) : new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  return t;
}

registerCommand({
  name: 'touch',
  use: 'remote:path',
  short: 'Create new file or change file modification time.',
  long:
    'Set the modification time on file(s) as specified by remote:path to\n' +
    'have the current time.\n\n' +
    'If remote:path does not exist then a zero sized file will be created,\n' +
    'unless `--no-create` or `--recursive` is provided.\n\n' +
    'If `--recursive` is used then recursively sets the modification\n' +
    'time on all existing files that is found under the path.\n\n' +
    'If `--timestamp` is used then sets the modification time to that\n' +
    'time instead of the current time. Times may be specified as one of:\n\n' +
    '- \'YYMMDD\' - e.g. 17.10.30\n' +
    '- \'YYYY-MM-DDTHH:MM:SS\' - e.g. 2006-01-02T15:04:05\n' +
    '- \'YYYY-MM-DDTHH:MM:SS.SSS\' - e.g. 2006-01-02T15:04:05.123456789\n\n' +
    'Note that value of `--timestamp` is in UTC. If you want local time\n' +
    'then add the `--localtime` flag.',
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { name: 'no-create', short: 'C', type: 'bool', help: 'Do not create the file if it does not exist (implied with --recursive)' },
    { name: 'timestamp', short: 't', type: 'string', help: 'Use specified time instead of the current time of day' },
    { name: 'localtime', type: 'bool', help: 'Use localtime for timestamp, not UTC' },
    { name: 'recursive', short: 'R', type: 'bool', help: 'Recursively touch all files' },
  ],
  async run(ctx, [spec]) {
    const opts = transferOptionsFromFlags(ctx.flags);
    const { parentSpec, leaf } = splitSpec(spec);
    const parent = await ctx.factory.open(parentSpec);
    await assertWritable(ctx, parent);
    return runCommand(ctx, 'touch', { retry: true, showStats: false }, async () => {
      const stamp = flagString(ctx.flags, 'timestamp');
      const when = stamp ? parseTouchTime(stamp, flagBool(ctx.flags, 'localtime')) : new Date();
      const recursive = flagBool(ctx.flags, 'recursive');
      let existing: RemoteEntry | undefined;
      try {
        existing = leaf === '' ? await parent.stat('') : await parent.stat(leaf);
      } catch (err) {
        if (!(err instanceof ObjectNotFoundError || err instanceof DirNotFoundError)) throw err;
      }
      if (existing?.isDir) {
        if (!recursive) return; // rclone leaves a directory alone
        const dir = leaf === '' ? parent : await ctx.factory.open(spec);
        log.debug(`Touching recursively files in directory ${JSON.stringify(spec)}`);
        for await (const e of walk(dir, '', { concurrency: opts.checkers, modTimes: opts.filter.usesModTimes })) {
          if (e.isDir || !opts.filter.includeFile(e.path, e.size, e.mtime)) continue;
          await touchOne(dir, e.path, when, opts.dryRun);
        }
        return;
      }
      if (!existing) {
        if (flagBool(ctx.flags, 'no-create') || recursive) {
          log.notice(`${fsString(parent)}: Not touching nonexistent file due to --${recursive ? 'recursive' : 'no-create'}`);
          return;
        }
        if (opts.dryRun) {
          log.notice(`${fsString(parent)}: Skipped touch (create) as --dry-run is set`);
          return;
        }
        await parent.write(leaf, (async function* () {})(), { mtime: when, size: 0 });
        return;
      }
      await touchOne(parent, leaf, when, opts.dryRun);
    });
  },
});

async function touchOne(remote: Remote, path: string, when: Date, dryRun: boolean): Promise<void> {
  if (dryRun) {
    log.notice(`${logPath(path)}: Skipped touch as --dry-run is set`);
    return;
  }
  try {
    await remote.setMtime(path, when);
  } catch (err) {
    if (err instanceof NotSupportedError) {
      throw new CryptfsError(`failed to touch (set modtime): ${errorMessage(err)}`, { cause: err });
    }
    throw err;
  }
}

// ---- about ----

registerCommand({
  name: 'about',
  use: 'remote:',
  short: 'Get quota information from the remote.',
  long:
    'Prints quota information about a remote to standard output. The output\n' +
    'is typically used, free, quota and trash contents.\n\n' +
    'Sizes are shown in human readable form; --full shows them in bytes,\n' +
    '--json as JSON. Not every backend can tell.',
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { name: 'full', type: 'bool', help: 'Full numbers instead of human-readable' },
    { name: 'json', type: 'bool', help: 'Format output as JSON' },
  ],
  async run(ctx, [spec]) {
    const remote = await ctx.factory.open(spec);
    return runCommand(ctx, 'about', { retry: false, showStats: false }, async () => {
      if (!remote.about) throw new NotSupportedError(`${fsString(remote)} doesn't support about`);
      const usage = await remote.about();
      if (flagBool(ctx.flags, 'json')) {
        const obj: Record<string, number> = {};
        for (const k of ['total', 'used', 'free'] as const) if (usage[k] !== undefined) obj[k] = usage[k]!;
        return JSON.stringify(obj, null, '\t') + '\n';
      }
      const full = flagBool(ctx.flags, 'full');
      let out = '';
      for (const [label, value] of [
        ['Total', usage.total],
        ['Used', usage.used],
        ['Free', usage.free],
      ] as const) {
        if (value === undefined) continue;
        out += `${`${label}:`.padEnd(9)}${full ? String(value) : byteUnit(value)}\n`;
      }
      return out;
    });
  },
});
