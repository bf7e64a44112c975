// Where the config password comes from, first match wins:
//   1. --password-command CMD   run through the shell; the first line of stdout
//   2. $CRYPTFS_CONFIG_PASS
//   3. $RCLONE_CONFIG_PASS
//   4. a prompt on the terminal, echo off (stdin if it is a TTY, else /dev/tty)
// The command beats the environment as in rclone (whose Decrypt consults
// RCLONE_CONFIG_PASS only without --password-command): an explicit flag says
// more about this run than a variable exported long ago.
// With nothing to ask and nowhere to prompt, it is rclone's error.
import { closeSync, openSync, writeSync } from 'node:fs';
import type { ReadStream } from 'node:tty';
import { ttyModule } from '../lazy-builtin.js';
import { ConfigError } from '../errors.js';
import { exitDescription, runShellCommand } from '../shell-command.js';

export const NOT_ALLOWED_TO_ASK =
  'unable to decrypt configuration and not allowed to ask for password - set RCLONE_CONFIG_PASS to your configuration password';

export type PasswordSource = 'password-command' | 'CRYPTFS_CONFIG_PASS' | 'RCLONE_CONFIG_PASS' | 'prompt';

export interface SuppliedPassword {
  /** Raw bytes when read from a command (so invalid UTF-8 can be reported), else a string. */
  password: string | Uint8Array;
  source: PasswordSource;
}

/** Runs `--password-command` through the shell and returns the first line of its stdout (without CR/LF). */
export async function runPasswordCommand(command: string): Promise<Uint8Array> {
  const result = await runShellCommand(command, 'inherit').catch((e: unknown) => {
    throw new ConfigError(`password command failed: ${(e as Error).message}`, { cause: e });
  });
  if (result.code !== 0) {
    throw new ConfigError(`password command failed: ${exitDescription(result)}${result.stderr ? `: ${result.stderr}` : ''}`);
  }
  const stdout = result.stdout;
  let end = stdout.indexOf(0x0a);
  if (end < 0) end = stdout.length;
  if (end > 0 && stdout[end - 1] === 0x0d) end--;
  const line = stdout.subarray(0, end);
  if (line.length === 0) throw new ConfigError('password-command returned empty string');
  return line;
}

/** The password from the command or the environment, without prompting; undefined if none is set. */
export async function suppliedPassword(options: {
  passwordCommand?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<SuppliedPassword | undefined> {
  if (options.passwordCommand) {
    return { password: await runPasswordCommand(options.passwordCommand), source: 'password-command' };
  }
  const env = options.env ?? process.env;
  for (const name of ['CRYPTFS_CONFIG_PASS', 'RCLONE_CONFIG_PASS'] as const) {
    const v = env[name];
    if (v) return { password: v, source: name };
  }
  return undefined;
}

interface Terminal {
  input: ReadStream;
  write(text: string): void;
  close(): void;
}

/** stdin if it is a TTY, else the controlling terminal; undefined when there is none. */
function openTerminal(): Terminal | undefined {
  if (process.stdin.isTTY) {
    return {
      input: process.stdin as ReadStream,
      write: (t) => process.stderr.write(t),
      close: () => process.stdin.pause(),
    };
  }
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    return undefined; // no controlling terminal (CI, daemons, ssh without -t)
  }
  const writeFd = openSync('/dev/tty', 'w');
  const input = new (ttyModule().ReadStream)(fd);
  return {
    input,
    write: (t) => writeSync(writeFd, t),
    close: () => {
      input.destroy();
      closeSync(writeFd);
    },
  };
}

/** Whether a password prompt could be shown (a TTY on stdin or a controlling terminal). */
export function canPrompt(): boolean {
  if (process.stdin.isTTY) return true;
  try {
    closeSync(openSync('/dev/tty', 'r+'));
    return true;
  } catch {
    return false;
  }
}

/**
 * Prompts on the terminal with echo off and resolves with what was typed.
 * Backspace and Ctrl-U edit, Enter ends, Ctrl-C / Ctrl-D (on an empty line) abort.
 */
export async function promptHidden(message: string): Promise<string> {
  const term = openTerminal();
  if (!term) throw new ConfigError(NOT_ALLOWED_TO_ASK);
  const { input } = term;
  const wasRaw = input.isRaw;
  input.setRawMode(true);
  input.setEncoding('utf8');
  term.write(message.endsWith(' ') || message.endsWith(':') ? message : `${message} `);
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          switch (ch) {
            case '\r':
            case '\n':
              input.off('data', onData);
              resolve(typed);
              return;
            case '\u0003': // Ctrl-C
              input.off('data', onData);
              reject(new ConfigError('password entry interrupted'));
              return;
            case '\u0004': // Ctrl-D
              if (typed === '') {
                input.off('data', onData);
                reject(new ConfigError('password entry ended (EOF)'));
                return;
              }
              break;
            case '\u007f':
            case '\b':
              typed = [...typed].slice(0, -1).join('');
              break;
            case '\u0015': // Ctrl-U
              typed = '';
              break;
            default:
              if (ch >= ' ') typed += ch;
          }
        }
      };
      input.on('data', onData);
      input.resume();
    });
  } finally {
    input.setRawMode(wasRaw);
    term.write('\n');
    term.close();
  }
}
