#!/usr/bin/env node
// cryptfs command-line entry: global flags, command dispatch, and the mapping
// of typed errors to rclone's messages and exit codes.
// First: it starts the crypt remotes' scrypt while the modules below load (key-prefetch.ts).
import './key-prefetch.js';
import { basename } from 'node:path';
import { MOUNT_HELPER_NAME, mountHelperArgv } from './mount-helper.js';
import { parseArgs, flagNumber, flagString, flagBool, UnknownFlagError, type FlagSpec } from './args.js';
import { getCommand, listCommands, usageText, helpText, globalFlagsText, type CommandContext } from './command.js';
import { CliRemoteFactory } from './cli-remote-factory.js';
import { parseLogNames, setLogNames } from '../log-names.js';
import { didYouMeanText, suggestFlags, suggestNames } from './suggest.js';
import { versionText } from './version.js';
import { AbortedError, UsageError, errorMessage } from '../errors.js';
import { ExitCode, exitCodeOf } from './exit-codes.js';
import { configureLog, log, logFatalLine, setLogRedactor, type LogLevel } from '../log.js';
import { loadConfigSource } from './config-source.js';
import { hardenProcess } from '../os-native.js';
import { isDaemonChild, receiveDaemonHandoff, reportToParent } from './daemon-handoff.js';
import { isProgramPath } from './program-path.js';
import { filterFromFlags } from './filter.js';
import { globalFlags, rootOnlyFlags } from './global-flags.js';
import { backendFlagValues, backendOptionFlags } from './backend-flags.js';
import { backendHelpText, backendNames, backendsListText } from './backend-help.js';
import { flagValueProblem, parallelReadsFromFlags } from './transfer-flags.js';
import { configureParallelReads } from '../remote/parallel-read.js';
import { redactText, rememberSpecSecrets } from '../remote/redact.js';
import { loadAllCommands, loadCommand } from './commands/index.js';
import { sharedAbortController } from '../abort.js';

export { globalFlags } from './global-flags.js';


const ROOT_USAGE = `cryptfs: client-side encrypted cloud storage, compatible with rclone's crypt format.

Usage:
  cryptfs [command]

Available Commands:
`;

/** Finds the command name: the first argument that is neither a flag nor a flag's value. */
function findCommand(argv: string[], specs: FlagSpec[]): { name?: string; index: number } {
  const needsValue = new Set<string>();
  for (const f of specs) {
    if (f.type !== 'bool' && f.type !== 'count') {
      needsValue.add(`--${f.name}`);
      if (f.short) needsValue.add(`-${f.short}`);
    }
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return { name: argv[i + 1], index: i + 1 };
    if (a.startsWith('-') && a !== '-') {
      if (!a.includes('=') && needsValue.has(a)) i++;
      continue;
    }
    return { name: a, index: i };
  }
  return { index: -1 };
}

function logLevelFrom(flags: Record<string, unknown>): LogLevel {
  const explicit = String(flags['log-level'] ?? '').toLowerCase();
  if (['debug', 'info', 'notice', 'error'].includes(explicit)) return explicit as LogLevel;
  if (flags.quiet === true) return 'error';
  const v = Number(flags.verbose ?? 0);
  return v >= 2 ? 'debug' : v === 1 ? 'info' : 'notice';
}

/**
 * The local backend's options given as flags (-l, -L, --skip-links): only those given, so the
 * config's stand otherwise. The mount's --links is on by default: a mounted local directory then
 * shows its symlinks as links too (unless -L asks to follow them), as rclone's mount --links does.
 */
function localFlagOptions(flags: Record<string, unknown>, given: Set<string>): Record<string, string> {
  const out: Record<string, string> = {};
  const names: Array<[string, string]> = [['links', 'links'], ['copy-links', 'copy_links'], ['skip-links', 'skip_links']];
  for (const [flag, option] of names) if (given.has(flag)) out[option] = String(flags[flag] === true);
  if (flags.links === true && !given.has('copy-links')) out.links = 'true';
  return out;
}

/** Environment defaults for global flags: CRYPTFS_<FLAG> then RCLONE_<FLAG> (e.g. CRYPTFS_TRANSFERS=8). */
function envFlagArgs(specs: FlagSpec[], env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const f of specs) {
    if (f.name === 'help' || f.name === 'config') continue;
    const key = f.name.toUpperCase().replace(/-/g, '_');
    const v = env[`CRYPTFS_${key}`] ?? env[`RCLONE_${key}`];
    if (v === undefined) continue;
    out.push(f.type === 'count' ? `--${f.name}=${Number(v) || (v === 'true' ? 1 : 0)}` : `--${f.name}=${v}`);
  }
  const cfg = env.CRYPTFS_CONFIG ?? env.RCLONE_CONFIG;
  void cfg; // the config path itself is resolved by the config layer
  return out;
}

export interface MainOptions {
  /** An encrypted config's key, handed over to the `mount --daemon` child by its parent. */
  configKey?: Buffer;
}

export async function main(argv: string[], io: Partial<CommandContext> = {}, options: MainOptions = {}): Promise<number> {
  // The S3 SDK warns on every run that future releases want Node 22; our lock file pins one that works on 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const stdin = io.stdin ?? process.stdin;
  // Secrets given inline (`:crypt,password=…:`) are scrubbed from whatever this run prints about its arguments.
  for (const a of argv) rememberSpecSecrets(a);
  const backendFlags = backendOptionFlags();
  const { name, index } = findCommand(argv, [...globalFlags, ...backendFlags]);
  // Only the command being run is loaded; everything else (help, an unknown name) needs them all.
  const known = name !== undefined && name !== 'help' && (await loadCommand(name));
  if (!known) await loadAllCommands();
  const spec = name ? getCommand(name) : undefined;

  if (!name) return runRoot(argv, stdout, stderr);
  if (name === 'help') {
    const topic = argv[index + 1];
    if (topic === 'flags') stdout.write(globalFlagsText(globalFlags) + '\n' + globalFlagsText(backendFlags, 'Backend Flags:'));
    else if (topic === 'backends') stdout.write(backendsListText());
    else if (topic === 'backend') {
      const which = argv[index + 2];
      if (!which) {
        // rclone prints the usage and exits 0.
        stdout.write(`Usage:\n  cryptfs help backend <name> [flags]\n\nNames: ${backendNames().join(', ')}\n`);
        return 0;
      }
      const text = backendHelpText(which);
      if (text === undefined) {
        stderr.write(`${stamp()} didn't find backend called ${JSON.stringify(which)}\n`);
        return ExitCode.usage;
      }
      stdout.write(text);
    } else if (topic && getCommand(topic)) stdout.write(helpText(getCommand(topic)!));
    else stdout.write(rootHelp());
    return 0;
  }
  if (!spec) {
    // cobra's wording and exit code (rclone 1.60 exits 1), with its "Did you mean this?" block.
    const message = `unknown command ${JSON.stringify(name)} for "cryptfs"`;
    const didYouMean = didYouMeanText(suggestNames(name, commandNames()));
    stderr.write(`Error: ${message}\n${didYouMean}${didYouMean ? '\n' : ''}Run 'cryptfs --help' for usage.\n`);
    stderr.write(`${stamp()} Fatal error: ${message}\n${didYouMean}`);
    return ExitCode.usage;
  }

  const allFlags = [...globalFlags, ...backendFlags, ...(spec.flags ?? [])];
  const rest = [...argv.slice(0, index), ...argv.slice(index + 1)];
  let parsed;
  try {
    parsed = parseArgs([...envFlagArgs(globalFlags, process.env), ...rest], allFlags);
  } catch (err) {
    stderr.write(redactText(`Error: ${errorMessage(err)}\n${flagSuggestion(err, allFlags)}${usageText(spec)}\n`));
    stderr.write(redactText(`${stamp()} Fatal error: ${errorMessage(err)}\n`));
    return ExitCode.usage;
  }
  const problem = flagValueProblem(parsed.flags);
  if (problem) {
    if (problem.usage) stderr.write(`Error: ${problem.message}\n${usageText(spec)}\n${stamp()} Fatal error: ${problem.message}\n`);
    else stderr.write(`${stamp()} ${problem.message}\n`);
    return ExitCode.usage;
  }
  if (parsed.flags.help === true) {
    stdout.write(helpText(spec));
    return 0;
  }
  // Every log line: secret values this process has seen (passwords, keys, tokens) never appear.
  setLogRedactor(redactText);
  configureLog({
    level: logLevelFrom(parsed.flags),
    file: flagString(parsed.flags, 'log-file') || undefined,
    json: flagBool(parsed.flags, 'use-json-log'),
  });
  try {
    setLogNames(parseLogNames(flagString(parsed.flags, 'log-names')));
  } catch (err) {
    stderr.write(`Error: ${errorMessage(err)}\n${usageText(spec)}\n${stamp()} Fatal error: ${errorMessage(err)}\n`);
    return ExitCode.usage;
  }
  configureParallelReads(parallelReadsFromFlags(parsed.flags));
  try {
    filterFromFlags(parsed.flags);
  } catch (err) {
    stderr.write(`${stamp()} Failed to load filters: ${errorMessage(err)}\n`);
    return ExitCode.usage;
  }
  if (parsed.args.length < spec.minArgs || parsed.args.length > spec.maxArgs) {
    stderr.write(usageText(spec));
    const n = parsed.args.length;
    const msg = redactText(
      n < spec.minArgs
        ? `Command ${spec.name} needs ${spec.minArgs} arguments minimum: you provided ${n} non flag arguments: ${goQuoteList(parsed.args)}`
        : `Command ${spec.name} needs ${spec.maxArgs} arguments maximum: you provided ${n} non flag arguments: ${goQuoteList(parsed.args)}`,
    );
    stderr.write(`${stamp()} ${msg}\n`);
    return ExitCode.usage;
  }

  const flagsGiven = parsed.given;
  const factory = new CliRemoteFactory(
    () => loadConfigSource(parsed.flags, options.configKey),
    // -l/-L/--skip-links are rclone's global spellings of local options; --<type>-<option> the general ones.
    (type, specs) => ({
      ...backendFlagValues(parsed.flags, flagsGiven, type, specs),
      ...(type === 'local' ? localFlagOptions(parsed.flags, flagsGiven) : {}),
    }),
  );
  // One controller for the whole command: Ctrl-C ends every transfer and listing in flight.
  const interrupt = sharedAbortController();
  const ctx: CommandContext = { factory, flags: parsed.flags, stdout, stderr, stdin, argv, signal: interrupt.signal };
  const signals = spec.ownSignals ? undefined : handleInterrupt(interrupt);
  try {
    const code = await spec.run(ctx, parsed.args);
    return signals?.exitCode() ?? code ?? 0;
  } catch (err) {
    // rclone prints no "Failed to" line for an interrupt, only its INFO lines.
    const signalled = signals?.exitCode();
    if (signalled !== undefined) {
      log.info('Exiting...');
      return signalled;
    }
    return reportFatal(spec.name, err, stderr);
  } finally {
    signals?.stop();
    await factory.closeAll();
    void flagNumber;
  }
}

/** How long an interrupted command may take to stop (abort its uploads on the server) before the process exits anyway. */
const INTERRUPT_GRACE_MS = 10_000;

/** The signals rclone's atexit handler catches, with the words Go prints for them and the exit status (128 + number). */
const EXIT_SIGNALS = [
  { signal: 'SIGINT', words: 'interrupt', exitCode: ExitCode.interrupted },
  { signal: 'SIGTERM', words: 'terminated', exitCode: ExitCode.terminated },
] as const;

/**
 * Ctrl-C (or SIGTERM) during a command, as rclone's atexit handler does it: "Signal received:
 * interrupt" (INFO), clean up, exit 128 + the signal's number (130, 143). The cleanup here is the
 * command's AbortController: transfers in flight end with AbortedError and remove their temporary
 * files / multipart uploads as on any failure, then main returns the status. A second signal, or
 * a command still running after the grace period, exits at once. `exitCode()` is undefined until
 * a signal came; `stop()` removes the handlers.
 */
function handleInterrupt(controller: AbortController): { exitCode(): number | undefined; stop(): void } {
  let received: number | undefined;
  const handlers = EXIT_SIGNALS.map(({ signal, words, exitCode }) => {
    const onSignal = () => {
      if (received !== undefined) process.exit(received);
      received = exitCode;
      log.info(`Signal received: ${words}`);
      controller.abort(new AbortedError(words === 'interrupt' ? 'interrupted' : words));
      // Unref'd: it never keeps a process alive that has finished.
      setTimeout(() => process.exit(exitCode), INTERRUPT_GRACE_MS).unref();
    };
    process.on(signal, onSignal);
    return () => process.off(signal, onSignal);
  });
  return {
    exitCode: () => received,
    stop: () => handlers.forEach((off) => off()),
  };
}

/** The bare `cryptfs [flags]`: --help/-h and --version/-V exit 0, as rclone's do. */
function runRoot(argv: string[], stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): number {
  const rootFlags = [...globalFlags, ...rootOnlyFlags];
  let parsed;
  try {
    parsed = parseArgs(argv, rootFlags);
  } catch (err) {
    const message = redactText(errorMessage(err));
    stderr.write(`Error: ${message}\n${flagSuggestion(err, rootFlags)}${rootHelp()}\n${stamp()} Fatal error: ${message}\n`);
    return ExitCode.usage;
  }
  if (parsed.flags.version === true) {
    stdout.write(versionText());
    return 0;
  }
  stdout.write(rootHelp());
  // Flags but neither a command nor --help (e.g. `cryptfs -v`): rclone exits 1 there.
  return argv.length === 0 || parsed.flags.help === true ? 0 : ExitCode.usage;
}

function rootHelp(): string {
  const lines = [ROOT_USAGE.trimEnd()];
  for (const c of listCommands()) if (!c.hidden) lines.push(`  ${c.name.padEnd(14)} ${c.short}`);
  lines.push('', 'Use "cryptfs [command] --help" for more information about a command.', '');
  return lines.join('\n');
}

/** What cobra would offer for a mistyped command: the visible commands and its own `help`. */
function commandNames(): string[] {
  return [...listCommands().filter((c) => !c.hidden).map((c) => c.name), 'help'].sort();
}

/** "Did you mean this?" for an unknown --flag (cobra has none; the Error and Fatal lines stay rclone's). */
function flagSuggestion(err: unknown, specs: FlagSpec[]): string {
  if (!(err instanceof UnknownFlagError)) return '';
  const block = didYouMeanText(suggestFlags(err.flag, specs));
  return block ? `${block}\n` : '';
}

function goQuoteList(items: string[]): string {
  return `[${items.map((s) => JSON.stringify(s)).join(' ')}]`;
}

function stamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** rclone's last line for a failed command: "Failed to <cmd>: <message>", and its exit code. */
function reportFatal(command: string, err: unknown, stderr: NodeJS.WritableStream): number {
  const message = redactText(errorMessage(err));
  if (err instanceof UsageError) {
    stderr.write(`${stamp()} Fatal error: ${message}\n`);
    return exitCodeOf(err);
  }
  const line = message.startsWith('Failed to') ? message : `Failed to ${command}: ${message}`;
  if (!logFatalLine(line)) stderr.write(`${stamp()} ${line}\n`);
  if (process.env.CRYPTFS_DEBUG_STACK && err instanceof Error) stderr.write(redactText(`${err.stack}\n`));
  return exitCodeOf(err);
}

const invokedDirectly = isProgramPath(process.argv[1], import.meta.url);
if (invokedDirectly || process.env.CRYPTFS_FORCE_MAIN) {
  // Before any password is read or key derived: no core dumps, not dumpable.
  if (!hardenProcess()) process.stderr.write(`${stamp()} NOTICE: native helper not built: core dumps are not disabled\n`);
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  // The `mount --daemon` child reads its arguments from the parent (daemon-handoff.ts).
  let argv = process.argv.slice(2);
  if (basename(process.argv[1]) === MOUNT_HELPER_NAME && !isDaemonChild()) {
    // Called by mount(8) / fstab: translate, or answer a fake (-f) mount without doing anything.
    try {
      const plan = mountHelperArgv(argv);
      if (plan.fake) process.exit(0);
      argv = plan.argv;
    } catch (err) {
      process.stderr.write(`${errorMessage(err)}\n`);
      process.exit(ExitCode.uncategorized); // 2, as mount.cryptfs always has exited for a line it cannot translate
    }
  }
  let options: MainOptions = {};
  if (isDaemonChild()) {
    try {
      const handoff = receiveDaemonHandoff();
      argv = handoff.argv;
      options = { configKey: handoff.configKey };
    } catch (err) {
      reportToParent(`error: ${errorMessage(err)}`);
      process.stderr.write(`${stamp()} Fatal error: ${errorMessage(err)}\n`);
      process.exit(ExitCode.unclassified);
    }
  }
  main(argv, {}, options).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`${stamp()} Fatal error: ${errorMessage(err)}\n`);
      process.exitCode = ExitCode.unclassified;
    },
  );
}
