// Runs an ES module script in a child Node process (its own module instances and environment):
// for code that reads its settings once, at load. A file, not -e: a worker thread the script starts
// inherits the process's flags (--input-type would fail it).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function runModuleScript(script: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'cryptfs-module-script-'));
  try {
    const file = join(dir, 'script.mjs');
    writeFileSync(file, script);
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
