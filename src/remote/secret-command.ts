// Secrets from a key manager: any secret or sensitive option X may instead be
// given as X_command (`password_command = pass show cryptfs/allas`). The
// command runs once per process through the shell; its standard output,
// trimmed, is the plain value (never obscured, never written anywhere).
import { exitDescription, runShellCommand } from '../shell-command.js';
import { ConfigError } from '../errors.js';
import type { OptionSpec } from './registry.js';

/** The option that names the command for secret option `name`. */
export function commandOptionName(name: string): string {
  return `${name}_command`;
}

/** Output of each command line run so far in this process. */
const results = new Map<string, Promise<string>>();

/** A secret option given as a command that failed or printed nothing. */
export class SecretCommandError extends ConfigError {}

function runOnce(command: string, option: string, where: string): Promise<string> {
  let p = results.get(command);
  if (!p) {
    p = run(command, option, where);
    results.set(command, p);
    // A failure is reported each time it is asked for, not cached as a value.
    p.catch(() => results.delete(command));
  }
  return p;
}

async function run(command: string, option: string, where: string): Promise<string> {
  const result = await runShellCommand(command, 'ignore').catch((e: unknown) => {
    throw new SecretCommandError(`${where}${option}: command failed to start: ${(e as Error).message}`, { cause: e });
  });
  if (result.code !== 0) {
    const stderr = result.stderr.split('\n').slice(-3).join(' | ');
    const how = result.signal ? `killed by signal ${result.signal}` : exitDescription(result);
    throw new SecretCommandError(`${where}${option}: command failed: ${how}${stderr ? `: ${stderr}` : ''}`);
  }
  const value = result.stdout.toString('utf8').trim();
  if (value === '') throw new SecretCommandError(`${where}${option}: command printed nothing`);
  return value;
}

/**
 * Runs the commands given for secret or sensitive options in `raw` and returns
 * their values by option name. An option set both directly and as a command
 * is an error: which one is meant can't be guessed.
 */
export async function resolveSecretCommands(
  specs: readonly OptionSpec[],
  raw: Readonly<Record<string, string>>,
  remoteName: string,
): Promise<Map<string, string>> {
  const where = remoteName ? `${remoteName}: ` : '';
  const values = new Map<string, string>();
  for (const s of specs) {
    if (!s.secret && !s.sensitive) continue;
    const option = commandOptionName(s.name);
    const command = raw[option];
    if (command === undefined || command.trim() === '') continue;
    if (raw[s.name] !== undefined && raw[s.name] !== '') {
      throw new ConfigError(`${where}both ${s.name} and ${option} are set: remove one`);
    }
    values.set(s.name, await runOnce(command, option, where));
  }
  return values;
}

/** The declarations of the X_command options a backend gets for its secrets. */
export function secretCommandOptions(specs: readonly OptionSpec[]): OptionSpec[] {
  return specs
    .filter((s) => (s.secret || s.sensitive) && !specs.some((o) => o.name === commandOptionName(s.name)))
    .map((s) => ({
      name: commandOptionName(s.name),
      help: `Command whose output (trimmed) is ${s.name}, e.g. from a key manager. Run once; never stored.`,
      advanced: true,
      // Secret options offer it in the password menu instead.
      hidden: s.secret === true,
    }));
}
