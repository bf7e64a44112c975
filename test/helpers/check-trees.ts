// The shared fixture of the check/cryptcheck tests (test/unit/cli/check.test.ts and
// test/integration/cli/check-rclone.test.ts): temporary trees under one root removed
// after the file's tests, crypt remotes sec1..sec4 and `plain` (no_data_encryption)
// over local directories, the CLI run in-process, and the real rclone on the same config.
import { after } from 'node:test';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { obscure } from '../../src/crypt/obscure.js';
import { runMain } from './run-main.js';
import { rcloneBinary } from './cli.js';

export const root = fs.mkdtempSync(join(tmpdir(), 'cryptfs-check-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let seq = 0;
export const fresh = (name: string) => {
  const d = join(root, `${++seq}-${name}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
};

export const conf = join(root, 'rclone.conf');
export const encDir = (n: string) => join(root, `enc-${n}`);
export const pw = obscure('check test password');
export const pw2 = obscure('check test salt');
fs.writeFileSync(
  conf,
  ['sec1', 'sec2', 'sec3', 'sec4'].map((n) => `[${n}]\ntype = crypt\nremote = ${encDir(n)}\npassword = ${pw}\npassword2 = ${pw2}\n`).join('\n') +
    `\n[plain]\ntype = crypt\nremote = ${encDir('plain')}\npassword = ${pw}\nno_data_encryption = true\n`,
);


export interface Result {
  code: number;
  out: string;
  err: string;
}

export async function cli(...argv: string[]): Promise<Result> {
  return runMain(['--config', conf, ...argv]);
}


export function writeTree(dir: string, files: Record<string, string | Buffer>): void {
  for (const [p, content] of Object.entries(files)) {
    fs.mkdirSync(dirname(join(dir, p)), { recursive: true });
    fs.writeFileSync(join(dir, p), content);
  }
}

/** The log lines without their timestamps, sorted (workers finish in any order). */
export function logLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, ''))
    .filter((l) => /^(ERROR|NOTICE) *:|^Failed to/.test(l))
    .sort();
}

/** Flips one byte of a file in place. */
export function corrupt(file: string, at: number): void {
  const fd = fs.openSync(file, 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0] ^= 0xff;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);
}

/** The ciphertext file of a plain path on a crypt remote. */
export async function cipherFile(remote: string, plainPath: string): Promise<string> {
  const r = await cli('cryptdecode', '--reverse', remote, plainPath);
  const enc = r.out.trim().split('\t')[1].trim();
  return join(encDir(remote.replace(/:.*$/, '')), enc);
}

export const data = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

/** The real rclone with the same config (required by the tests that call it). */
export function runRclone(...argv: string[]): Result {
  const r = spawnSync(rcloneBinary(), ['--config', conf, ...argv], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
