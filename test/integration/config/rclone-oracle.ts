// Runs the real rclone 1.60.1 for the config interop tests. Without rclone the
// tests fail (skip only under --allow-skip): see test/helpers/require-tool.ts.
import { spawn } from 'node:child_process';
import { rcloneBinary, rcloneSkipReason } from '../../helpers/cli.js';

export const RCLONE = rcloneBinary();

/** `skip` option for node:test: undefined when rclone runs (the one rclone check of helpers/cli.ts). */
export function rcloneSkip(): string | undefined {
  return rcloneSkipReason();
}

export interface RcloneResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** rclone's environment: no RCLONE_* from the caller, HOME in `home` so nothing real is touched. */
function rcloneEnv(home: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('RCLONE_') && !k.startsWith('CRYPTFS_')) env[k] = v;
  }
  return { ...env, HOME: home, XDG_CONFIG_HOME: `${home}/.config`, XDG_CACHE_HOME: `${home}/.cache`, ...extra };
}

/**
 * Runs rclone. `answers` are written to its stdin one at a time, each when its
 * prompt pattern has appeared in stdout (rclone reads piped answers line by line
 * but buffers, so they can't all be sent up front).
 */
export function runRclone(
  args: string[],
  options: { home: string; env?: Record<string, string>; answers?: Array<[RegExp, string]>; timeoutMs?: number },
): Promise<RcloneResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(RCLONE, args, { env: rcloneEnv(options.home, options.env ?? {}), stdio: ['pipe', 'pipe', 'pipe'] });
    const answers = [...(options.answers ?? [])];
    let stdout = '';
    let stderr = '';
    // Prompts go to stdout (menus) and stderr (password prompts): match on both, in arrival order.
    let combined = '';
    let seen = 0;
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`rclone ${args.join(' ')} timed out; stdout: ${JSON.stringify(stdout)} stderr: ${JSON.stringify(stderr)}`));
    }, options.timeoutMs ?? 20_000);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    const answer = () => {
      while (answers.length) {
        const m = answers[0][0].exec(combined.slice(seen));
        if (!m) break;
        seen += m.index + m[0].length;
        child.stdin.write(answers.shift()![1] + '\n');
      }
      if (!answers.length && options.answers) child.stdin.end();
    };
    child.stdout.on('data', (c: string) => {
      stdout += c;
      combined += c;
      answer();
    });
    child.stderr.on('data', (c: string) => {
      stderr += c;
      combined += c;
      answer();
    });
    if (!options.answers) child.stdin.end();
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
