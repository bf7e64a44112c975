// `cryptfs mount remote:path /mountpoint`: the VFS through FUSE, with rclone's
// flag names. The process serves the mount until it is unmounted (cryptfs
// umount, fusermount3 -u, umount) or gets SIGINT/SIGTERM; either way dirty
// files are uploaded before it exits. With --daemon it forks into the
// background and the foreground process exits once the mount is up. Its state
// (pid, uploads left, result) is kept where `cryptfs umount` finds it
// (mount-state.ts).
//
// The serving process never touches its own mount point once mounted: the
// kernel would wait for this process while this process waits for the kernel.
import { closeSync, openSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { flagBool, flagNumber, flagString, flagStrings, type FlagSpec } from '../args.js';
import { registerCommand, type CommandContext } from '../command.js';
import { CommandFailedError } from '../util.js';
import { assertWritable } from '../write-guard.js';
import { CryptfsError, UsageError, errorMessage } from '../../errors.js';
import { log, logTimestamp } from '../../log.js';
import { parseDuration, parseSize } from '../../remote/registry.js';
// The FUSE session and the VFS are loaded when a mount starts, not by every other command's start.
import type { FuseSession } from '../../fuse/fuse-session.js';
import type { FuseOpsOptions } from '../../fuse/fuse-ops.js';
import { mountTable } from '../../fuse/mount-table.js';
import { setKernelReadAhead } from '../../fuse/kernel-read-ahead.js';
import type { Vfs } from '../../vfs/vfs.js';
import { parseCacheMode, type VfsOptions } from '../../vfs/options.js';
import { defaultCacheRoot, remoteCacheDir } from '../../vfs/cache-key.js';
import { MountStateWriter, type MountState } from '../mount-state.js';
import { loadConfigSource } from '../config-source.js';
import { isDaemonChild, reportToParent, spawnDaemon } from '../daemon-handoff.js';
import { sdNotify } from '../sd-notify.js';


const mountFlags: FlagSpec[] = [
  { name: 'read-only', type: 'bool', help: 'Only allow read-only access' },
  { name: 'vfs-links', type: 'bool', default: true, hidden: true, help: "rclone 1.67's name for the VFS half of --links" },
  // On by default for the mount (rclone's mount needs --links): --links=false shows NAME.rclonelink files as they are.
  { name: 'links', short: 'l', type: 'bool', default: true, help: "Show NAME.rclonelink files as symlinks NAME and store symlinks so, as rclone's --links (--links=false to turn off)" },
  { name: 'allow-other', type: 'bool', help: 'Allow access to other users (the kernel then checks file modes, and files and directories default to 0600/0700: see README)' },
  { name: 'allow-root', type: 'bool', help: 'Allow access to root user' },
  { name: 'allow-non-empty', type: 'bool', help: 'Allow mounting over a non-empty directory' },
  { name: 'default-permissions', type: 'bool', help: 'Makes kernel enforce access control based on the file mode (implied by --allow-other)' },
  { name: 'no-default-permissions', type: 'bool', help: 'With --allow-other: no access control at all, every user may read, change and delete every file' },
  { name: 'uid', type: 'int', help: 'Override the uid field set by the filesystem', default: process.getuid?.() ?? 0 },
  { name: 'gid', type: 'int', help: 'Override the gid field set by the filesystem', default: process.getgid?.() ?? 0 },
  { name: 'umask', type: 'string', help: 'Override the permission bits set by the filesystem (default: the process umask)', default: '' },
  { name: 'dir-perms', type: 'string', help: 'Directory permissions (default 0777, 0700 with --allow-other)', default: '' },
  { name: 'file-perms', type: 'string', help: 'File permissions (default 0666, 0600 with --allow-other)', default: '' },
  { name: 'daemon', type: 'bool', help: 'Run mount in background and exit parent process once mounted (background output is suppressed: use --log-file to monitor)' },
  { name: 'daemon-timeout', type: 'string', help: 'Time limit for cryptfs to respond to kernel (accepted and ignored on Linux, as by rclone)', default: '0s' },
  { name: 'daemon-wait', type: 'string', help: 'Time to wait for ready mount from daemon', default: '1m0s' },
  { name: 'attr-timeout', type: 'string', help: 'Time for which file/directory attributes are cached', default: '1s' },
  { name: 'dir-cache-time', type: 'string', help: 'Time to cache directory entries for', default: '5m0s' },
  { name: 'vfs-cache-mode', type: 'string', help: 'Cache mode off|minimal|writes|full (rclone defaults to off; see above)', default: 'writes' },
  { name: 'vfs-write-back', type: 'string', help: 'Time to writeback files after last use when using cache', default: '5s' },
  { name: 'vfs-read-ahead', type: 'string', help: 'Extra read ahead over --buffer-size for sequential reads', default: '0' },
  { name: 'buffer-size', type: 'string', help: 'In memory read-ahead of sequential reads of each open file', default: '16Mi' },
  { name: 'vfs-cache-max-size', type: 'string', help: 'Max total size of objects in cache', default: 'off' },
  { name: 'vfs-cache-max-age', type: 'string', help: 'Max age of objects in the cache', default: '1h0m0s' },
  { name: 'vfs-cache-poll-interval', type: 'string', help: 'Interval to poll the cache for stale objects', default: '1m0s' },
  { name: 'vfs-write-wait', type: 'string', help: 'Time to wait for in-sequence write before giving error', default: '1s' },
  { name: 'cache-dir', type: 'string', help: 'Directory cryptfs will use for caching (default $XDG_CACHE_HOME/cryptfs or ~/.cache/cryptfs)', default: '' },
  { name: 'vfs-dir-prefetch', type: 'int', help: 'Subdirectories of a directory just read to list ahead (0 to disable)', default: 64 },
  { name: 'max-read-ahead', type: 'string', help: "The number of bytes the kernel prefetches for sequential reads (the mount's read_ahead_kb; setting it needs root)", default: '1Mi' },
  { name: 'write-back-cache', type: 'bool', help: 'Makes kernel buffer writes before sending them to cryptfs (without this, writethrough caching is used)' },
  { name: 'debug-fuse', type: 'bool', help: 'Debug the FUSE internals - needs -v' },
  { name: 'fs-name', type: 'string', help: 'Override the name shown as the mount source (default: the remote)', default: '' },
  { name: 'option', short: 'o', type: 'strings', help: 'Option for libfuse (repeat if required)' },
];

function octal(text: string, flag: string): number {
  if (!/^0?[0-7]{1,4}$/.test(text.trim())) throw new UsageError(`invalid argument "${text}" for "--${flag}" flag: not an octal mode`);
  return parseInt(text, 8);
}

function duration(ctx: CommandContext, flag: string): number {
  try {
    return parseDuration(flagString(ctx.flags, flag), `--${flag}`);
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
}

function size(ctx: CommandContext, flag: string): number {
  try {
    return parseMountSize(flagString(ctx.flags, flag), flag);
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
}

/** A SizeSuffix mount flag in bytes: a bare number is KiB as in rclone ("1024" = 1 MiB; "1024b" for bytes); off/-1 = no limit. */
export function parseMountSize(value: string, flag: string): number {
  const text = value.trim();
  if (text.toLowerCase() === 'off' || text === '-1') return Infinity;
  return parseSize(text, `--${flag}`);
}

/** The FUSE -o options the flags ask for. */
function fuseOptions(ctx: CommandContext): string[] {
  const opts: string[] = [];
  for (const o of flagStrings(ctx.flags, 'option')) opts.push(...o.split(',').filter((s) => s !== ''));
  const add = (o: string) => {
    if (!opts.includes(o)) opts.push(o);
  };
  if (flagBool(ctx.flags, 'read-only')) add('ro');
  if (flagBool(ctx.flags, 'allow-other')) add('allow_other');
  if (flagBool(ctx.flags, 'allow-root')) add('allow_root');
  if (flagBool(ctx.flags, 'write-back-cache')) add('writeback_cache');
  const noChecks = flagBool(ctx.flags, 'no-default-permissions');
  if (noChecks && (flagBool(ctx.flags, 'default-permissions') || opts.includes('default_permissions'))) {
    throw new UsageError('--no-default-permissions contradicts --default-permissions');
  }
  // cryptfs itself checks no caller: without the kernel's checks, a mount that
  // other users may enter lets them read, change and delete every file.
  if (flagBool(ctx.flags, 'default-permissions') || (opts.includes('allow_other') && !noChecks)) add('default_permissions');
  return opts;
}

/**
 * The owner and modes the mount shows. With allow_other, other users get
 * nothing the flags did not grant on purpose: files and directories default to
 * 0600/0700 (rclone's 0666/0777 would let every user read everything).
 */
function fusePermissions(ctx: CommandContext, allowOther: boolean): FuseOpsOptions {
  const given = (flag: string) => flagString(ctx.flags, flag).trim() !== '';
  return {
    uid: flagNumber(ctx.flags, 'uid'),
    gid: flagNumber(ctx.flags, 'gid'),
    umask: given('umask') ? octal(flagString(ctx.flags, 'umask'), 'umask') : process.umask(),
    dirPerms: given('dir-perms') ? octal(flagString(ctx.flags, 'dir-perms'), 'dir-perms') : allowOther ? 0o700 : 0o777,
    filePerms: given('file-perms') ? octal(flagString(ctx.flags, 'file-perms'), 'file-perms') : allowOther ? 0o600 : 0o666,
    fixedModes: { file: given('file-perms'), dir: given('dir-perms') },
  };
}

function vfsOptions(ctx: CommandContext, cacheDir: string): Partial<VfsOptions> {
  let cacheMode;
  try {
    cacheMode = parseCacheMode(flagString(ctx.flags, 'vfs-cache-mode'));
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  return {
    cacheMode,
    cacheDir,
    dirCacheTimeMs: duration(ctx, 'dir-cache-time'),
    writeBackMs: duration(ctx, 'vfs-write-back'),
    readAheadBytes: size(ctx, 'buffer-size') + size(ctx, 'vfs-read-ahead'),
    cacheMaxSizeBytes: size(ctx, 'vfs-cache-max-size'),
    cacheMaxAgeMs: duration(ctx, 'vfs-cache-max-age'),
    cachePollIntervalMs: duration(ctx, 'vfs-cache-poll-interval'),
    writeWaitMs: duration(ctx, 'vfs-write-wait'),
    readOnly: flagBool(ctx.flags, 'read-only'),
    transfers: Math.max(1, flagNumber(ctx.flags, 'transfers')),
    dirPrefetch: Math.max(0, flagNumber(ctx.flags, 'vfs-dir-prefetch')),
    links: flagBool(ctx.flags, 'links') && flagBool(ctx.flags, 'vfs-links'),
  };
}

async function checkMountpoint(mountpoint: string, allowNonEmpty: boolean): Promise<void> {
  const { clearStaleMount } = await import('../../fuse/fuse-session.js');
  if (await clearStaleMount(mountpoint)) {
    log.notice(`${mountpoint}: cleared a stale mount (transport endpoint was not connected)`);
  }
  let st;
  try {
    st = await fsp.stat(mountpoint);
  } catch (err) {
    throw new CommandFailedError(`mount point ${mountpoint}: ${errorMessage(err)}`);
  }
  if (!st.isDirectory()) throw new CommandFailedError(`mount point ${mountpoint} is not a directory`);
  if ((await mountTable()).has(mountpoint)) {
    throw new CommandFailedError(`directory already mounted, use --allow-non-empty to mount anyway: ${mountpoint}`);
  }
  if (!allowNonEmpty && (await fsp.readdir(mountpoint)).length > 0) {
    throw new CommandFailedError(
      `directory is not empty: ${mountpoint}\nIf you want to mount it anyway use: --allow-non-empty option`,
    );
  }
}

/**
 * --daemon, in the foreground process: asks for the config password here (the
 * child has no terminal), starts the server in the background with its
 * arguments sent through the socket (daemon-handoff.ts) and waits until it
 * mounted. Every failure until then is shown on this terminal.
 */
async function runDaemonParent(ctx: CommandContext, mountpoint: string): Promise<number> {
  const logFile = flagString(ctx.flags, 'log-file');
  try {
    const waitMs = duration(ctx, 'daemon-wait') || 60_000;
    const argv = (ctx.argv ?? process.argv.slice(2)).filter((a) => a !== '--daemon' && a !== '--daemon=true');
    const config = await loadConfigSource(ctx.flags);
    const configKey = config.keyForHandoff();
    const out = logFile ? openSync(logFile, 'a', 0o600) : 'ignore';
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    // What `ps` shows: no remote spec, no flags.
    const { child, socket } = spawnDaemon({ argv, env, configKey }, out, ['mount-daemon', resolvePath(mountpoint)]);
    configKey?.fill(0);
    if (typeof out === 'number') closeSync(out);
    const outcome = await new Promise<{ ok: boolean; message: string }>((resolve) => {
      let text = '';
      const timer = setTimeout(() => resolve({ ok: false, message: `the daemon did not mount within ${waitMs / 1000}s` }), waitMs);
      socket.on('error', () => undefined); // an early exit of the child shows as 'exit' below
      socket.on('data', (b: Buffer) => {
        text += b.toString('utf8');
        const line = text.split('\n')[0];
        if (text.includes('\n')) {
          clearTimeout(timer);
          resolve(line === 'ready' ? { ok: true, message: '' } : { ok: false, message: line.replace(/^error: /, '') });
        }
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        const hint = logFile ? ` (see ${logFile})` : ' (run with --log-file to see why)';
        resolve({ ok: false, message: text.trim().replace(/^error: /, '') || `the daemon exited (${signal ?? code})${hint}` });
      });
    });
    (socket as unknown as { destroy?: () => void }).destroy?.();
    child.unref();
    if (!outcome.ok) throw new CommandFailedError(outcome.message);
    log.info(`mount daemon running as process ${child.pid}`);
    return 0;
  } catch (err) {
    // main puts the fatal line into the log file; the user waits at this terminal.
    if (logFile && !(err instanceof UsageError)) {
      const message = errorMessage(err);
      ctx.stderr.write(`${logTimestamp()} ${message.startsWith('Failed to') ? message : `Failed to mount: ${message}`}\n`);
    }
    throw err;
  }
}

async function runMount(ctx: CommandContext, spec: string, mountpointArg: string): Promise<number> {
  const mountpoint = resolvePath(mountpointArg);
  const allowNonEmpty = flagBool(ctx.flags, 'allow-non-empty');
  const fuseOpts = fuseOptions(ctx);
  const permissions = fusePermissions(ctx, fuseOpts.includes('allow_other'));
  if (allowNonEmpty) fuseOpts.push('nonempty');
  const attrTimeout = duration(ctx, 'attr-timeout') / 1000;
  if (flagString(ctx.flags, 'daemon-timeout') !== '0s' && duration(ctx, 'daemon-timeout') > 0) {
    log.info('--daemon-timeout is not supported on Linux (ignored, as rclone does)');
  }
  await checkMountpoint(mountpoint, allowNonEmpty);

  const remote = await ctx.factory.open(spec);
  // A wrong password shows an empty tree and would write beside the old data under another key.
  if (!flagBool(ctx.flags, 'read-only')) await assertWritable(ctx, remote);
  const cacheRoot = flagString(ctx.flags, 'cache-dir') || defaultCacheRoot();
  const opts = vfsOptions(ctx, await remoteCacheDir(cacheRoot, remote));
  const [{ Vfs }, { VfsFuseOps }, { FuseSession }] = await Promise.all([
    import('../../vfs/vfs.js'),
    import('../../fuse/fuse-ops.js'),
    import('../../fuse/fuse-session.js'),
  ]);
  const vfs = await Vfs.create(remote, opts);
  const ops = new VfsFuseOps(vfs, permissions);

  let session: FuseSession;
  try {
    session = await FuseSession.mount(mountpoint, ops, {
      fsName: flagString(ctx.flags, 'fs-name') || remote.displayName,
      subtype: 'cryptfs',
      options: fuseOpts.filter((o) => o !== 'nonempty'),
      attrTimeout,
      entryTimeout: attrTimeout,
      debug: flagBool(ctx.flags, 'debug-fuse'),
      onLog: (level, message) => {
        if (level <= 3) log.error(`fuse: ${message}`);
        else if (level <= 5) log.notice(`fuse: ${message}`);
        else log.debug(`fuse: ${message}`);
      },
      onUnexpectedError: (err, op) => log.error(`fuse ${op}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`),
    });
  } catch (err) {
    await vfs.close();
    throw err;
  }
  await setKernelReadAhead(mountpoint, size(ctx, 'max-read-ahead'));
  log.info(`${remote.displayName}: mounted on ${mountpoint} (--vfs-cache-mode ${vfs.cacheMode}${vfs.cacheDir ? `, cache ${vfs.cacheDir}` : ''})`);
  const state = new MountStateWriter(mountpoint, remote.displayName);
  const saveState = (changes: Partial<MountState>) =>
    state.update(changes).catch((err) => log.error(`${errorMessage(err)} (cryptfs umount cannot wait for this mount)`));
  await saveState({ phase: 'serving' });
  reportToParent('ready');
  // A Type=notify unit: the mount answers now. MAINPID: with --daemon this is the child.
  sdNotify(`READY=1\nMAINPID=${process.pid}\nSTATUS=Mounted ${remote.displayName} on ${mountpoint}`);

  // Nothing that goes wrong inside one operation or upload may end the process
  // (FUSE operations answer EIO themselves; this catches what escapes them).
  const onInternalError = (err: unknown) =>
    log.error(`internal error (the mount keeps running): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.on('uncaughtException', onInternalError);
  process.on('unhandledRejection', onInternalError);
  try {
    const removeState = () => state.remove().catch((err) => log.error(errorMessage(err)));
    return await serveUntilUnmounted(session, vfs, mountpoint, remote.displayName, saveState, removeState);
  } finally {
    process.off('uncaughtException', onInternalError);
    process.off('unhandledRejection', onInternalError);
  }
}

/** Waits for the unmount, uploads what is dirty, records the result for `cryptfs umount`. */
async function serveUntilUnmounted(
  session: FuseSession,
  vfs: Vfs,
  mountpoint: string,
  remoteName: string,
  saveState: (changes: Partial<MountState>) => Promise<void>,
  removeState: () => Promise<void>,
): Promise<number> {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.error(`${signal} again: exiting without waiting for uploads (the journal keeps dirty files for the next mount)`);
      process.exit(1);
    }
    log.notice(`${signal} received: unmounting ${mountpoint}`);
    session.unmount().catch((err) => log.error(`unmount ${mountpoint}: ${errorMessage(err)}`));
  };
  const onHangup = () => log.info('SIGHUP: nothing to reload');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onHangup);
  try {
    await session.closed;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onHangup);
  }
  const abandoned = vfs.streamingPaths();
  const pending = () => vfs.dirtyPaths().length;
  sdNotify(`STOPPING=1\nSTATUS=Unmounted; uploading ${pending()} modified files`);
  log.info(`${mountpoint}: unmounted; uploading ${pending()} modified files`);
  await saveState({ phase: 'uploading', pending: pending(), abandoned: abandoned.length });
  let reported = pending();
  const ticker = setInterval(() => {
    if (pending() === reported) return;
    reported = pending();
    void saveState({ pending: reported });
  }, 250);
  let failed: string[] = [];
  let exitCode = 1;
  try {
    failed = await vfs.close();
    exitCode = failed.length > 0 || abandoned.length > 0 || session.endError ? 1 : 0;
  } finally {
    clearInterval(ticker);
    if (exitCode === 0) await removeState();
    else await saveState({ phase: 'exited', pending: failed.length, failed: failed.length, exitCode });
  }
  if (session.endError) log.error(session.endError.message);
  const problems: string[] = [];
  if (failed.length > 0) {
    problems.push(
      `${failed.length} file(s) could not be uploaded; they stay in the cache and are uploaded on the next mount of ${remoteName}`,
    );
  }
  if (abandoned.length > 0) {
    problems.push(`${abandoned.length} file(s) were still open for writing: their new contents were dropped, the remote keeps the previous versions`);
  }
  if (problems.length > 0) throw new CommandFailedError(problems.join('; '));
  return exitCode;
}

registerCommand({
  name: 'mount',
  ownSignals: true,
  use: 'remote:path /path/to/mountpoint',
  short: 'Mount the remote as file system on a mountpoint.',
  long:
    'Mounts the remote (usually a crypt remote) on a directory through FUSE, so that ordinary programs\n' +
    'see the decrypted tree.\n' +
    '\n' +
    'The default is --vfs-cache-mode writes, where rclone defaults to off: files open for writing go\n' +
    "through a local cache, so appends (>>), in-place edits (dd conv=notrunc, rsync --inplace, sed -i),\n" +
    'git, sqlite, zip and mmap work. rclone avoids a default cache because its cache holds plaintext;\n' +
    'ours holds ciphertext only (sealed blocks under a key derived from the crypt keys), so the\n' +
    'default costs no privacy. With --vfs-cache-mode off, files are streamed: an existing file can only\n' +
    'be replaced whole (opened with O_TRUNC), other opens for writing fail with EPERM, and a write that\n' +
    'is refused or a stream that is cut short never replaces the file on the remote.\n' +
    '\n' +
    'Stop with `cryptfs umount DIR`, which waits until every modified file is uploaded (fusermount3 -u,\n' +
    'umount and Ctrl-C unmount too; the process then uploads before it exits, but they do not wait).',
  minArgs: 2,
  maxArgs: 2,
  flags: mountFlags,
  async run(ctx, [spec, mountpoint]) {
    if (flagBool(ctx.flags, 'daemon') && !isDaemonChild()) return runDaemonParent(ctx, mountpoint);
    try {
      return await runMount(ctx, spec, mountpoint);
    } catch (err) {
      reportToParent(`error: ${errorMessage(err)}`);
      if (err instanceof CryptfsError) throw err;
      throw new CommandFailedError(errorMessage(err), undefined, { cause: err });
    }
  },
});
