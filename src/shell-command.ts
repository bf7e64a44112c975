// Runs a user's command line through the shell and collects what it printed:
// the config's --password-command and the X_command secret options both do.
import { childProcess } from './lazy-builtin.js';

export interface ShellResult {
  /** Exit status, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Rejects only when the shell could not be started; a failing command resolves with its status. */
export async function runShellCommand(command: string, stdin: 'inherit' | 'ignore'): Promise<ShellResult> {
  const child = childProcess().spawn(command, { shell: true, stdio: [stdin, 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, s) => resolve({ code: c, signal: s }));
  });
  return { code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8').trim() };
}

/** "exit status 3" / "signal SIGTERM", as the error messages say it. */
export function exitDescription(r: ShellResult): string {
  return r.signal ? `signal ${r.signal}` : `exit status ${r.code}`;
}
