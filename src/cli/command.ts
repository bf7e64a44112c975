// Command declarations and the shared context a command runs in.
import type { FlagSpec, FlagValues } from './args.js';
import type { RemoteFactory } from '../remote/open.js';
import type { Writable } from 'node:stream';

export interface CommandContext {
  factory: RemoteFactory;
  flags: FlagValues;
  stdout: Writable;
  stderr: Writable;
  stdin: NodeJS.ReadableStream;
  /** The whole command line main() ran, without the program (e.g. what `mount --daemon` hands its child). */
  argv?: readonly string[];
  /** Fires on Ctrl-C (SIGINT): the command's transfers and listings in flight end with AbortedError. */
  signal?: AbortSignal;
}

export interface CommandSpec {
  name: string;
  /** e.g. "source:path dest:path" */
  use: string;
  short: string;
  long?: string;
  minArgs: number;
  maxArgs: number;
  flags?: FlagSpec[];
  hidden?: boolean;
  /** The command handles SIGINT itself (mount: unmount, upload what is dirty); main installs no handler. */
  ownSignals?: boolean;
  /** Returns the exit code (0 when undefined). */
  run(ctx: CommandContext, args: string[]): Promise<number | void>;
}

const commands = new Map<string, CommandSpec>();

export function registerCommand(spec: CommandSpec): void {
  commands.set(spec.name, spec);
}

export function getCommand(name: string): CommandSpec | undefined {
  return commands.get(name);
}

export function listCommands(): CommandSpec[] {
  // Code-unit order (the names are ASCII): localeCompare's first call loads ICU's collator, ~13 ms of every start.
  return [...commands.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function flagLine(f: FlagSpec): string {
  const short = f.short ? `-${f.short}, ` : '    ';
  const typ = f.type === 'bool' || f.type === 'count' ? '' : f.type === 'strings' ? ' stringArray' : ` ${f.type}`;
  const def =
    f.default !== undefined && f.default !== false && f.default !== '' && !(Array.isArray(f.default) && f.default.length === 0)
      ? ` (default ${typeof f.default === 'string' ? JSON.stringify(f.default) : String(f.default)})`
      : '';
  return `  ${short}--${f.name}${typ}`.padEnd(36) + ` ${f.help.split('\n')[0]}${def}`;
}

/** Usage text as cobra prints it. */
export function usageText(spec: CommandSpec): string {
  const lines = ['Usage:', `  cryptfs ${spec.name} ${spec.use} [flags]`, '', 'Flags:'];
  for (const f of spec.flags ?? []) if (!f.hidden) lines.push(flagLine(f));
  lines.push(`  -h, --help`.padEnd(36) + ` help for ${spec.name}`);
  lines.push('', 'Use "cryptfs [command] --help" for more information about a command.');
  lines.push('Use "cryptfs help flags" for to see the global flags.');
  lines.push('Use "cryptfs help backends" for a list of supported services.', '');
  return lines.join('\n');
}

export function helpText(spec: CommandSpec): string {
  return `${spec.long ?? spec.short}\n\n${usageText(spec)}`;
}

export function globalFlagsText(flags: FlagSpec[], title = 'Global Flags:', includeHidden = false): string {
  return [title, ...flags.filter((f) => includeHidden || !f.hidden).map(flagLine), ''].join('\n');
}
