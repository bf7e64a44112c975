// The shared fixture of the sync/copy/move tests (test/unit/cli/sync.test.ts and
// test/integration/cli/sync-rclone.test.ts): temporary trees under one root removed
// after the file's tests, crypt remotes sec1..sec7 over local directories, the CLI
// run in-process, and the real rclone on the same config.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { obscure } from '../../src/crypt/obscure.js';
import { runMain } from './run-main.js';
import { rcloneBinary } from './cli.js';

export const root = fs.mkdtempSync(join(tmpdir(), 'cryptfs-sync-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let seq = 0;
/** A fresh directory for one case. */
export const fresh = (name: string) => {
  const d = join(root, `${++seq}-${name}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
};

export const conf = join(root, 'rclone.conf');
export const encDir = (n: string) => join(root, `enc-${n}`);
/** A config with crypt remotes `secN:` over local directories. */
export function writeConf(names: string[]): void {
  fs.writeFileSync(
    conf,
    names
      .map((n) => `[${n}]\ntype = crypt\nremote = ${encDir(n)}\npassword = ${obscure('sync test one')}\npassword2 = ${obscure('sync test two')}\n`)
      .join('\n'),
  );
}
writeConf(['sec1', 'sec2', 'sec3', 'sec4', 'sec5', 'sec6', 'sec7']);


export interface Result {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in-process, capturing stdout and the log (stderr). */
export async function cli(...argv: string[]): Promise<Result> {
  return runMain(['--config', conf, ...argv]);
}


/** Writes files (path → content) under `dir`; `mtime` (seconds) sets a fixed modification time. */
export function writeTree(dir: string, files: Record<string, string | Buffer>, mtime?: number): void {
  for (const [p, content] of Object.entries(files)) {
    const f = join(dir, p);
    fs.mkdirSync(dirname(f), { recursive: true });
    fs.writeFileSync(f, content);
    if (mtime !== undefined) fs.utimesSync(f, mtime, mtime);
  }
}

/** Every file under `dir`: path → content. */
export function readTree(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (fs.statSync(p).isDirectory()) Object.assign(out, readTree(p, `${prefix}${name}/`));
    else out[prefix + name] = fs.readFileSync(p, 'latin1');
  }
  return out;
}

/** Every entry under `dir` with what a rewrite would change: inode, mtime, size, first 32 bytes. */
export function snapshot(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      out[`${prefix}${name}/`] = 'dir';
      Object.assign(out, snapshot(p, `${prefix}${name}/`));
    } else {
      const fd = fs.openSync(p, 'r');
      const head = Buffer.alloc(32);
      fs.readSync(fd, head, 0, 32, 0);
      fs.closeSync(fd);
      out[prefix + name] = `${st.ino}:${st.mtimeMs}:${st.size}:${head.toString('hex')}`;
    }
  }
  return out;
}

/** The decrypted tree of a crypt remote, read back through the CLI. */
export async function cryptTree(remote: string): Promise<Record<string, string>> {
  const ls = await cli('lsf', '-R', '--files-only', remote);
  assert.equal(ls.code, 0, ls.err);
  const out: Record<string, string> = {};
  for (const p of ls.out.split('\n').filter(Boolean).sort()) {
    const cat = await cli('cat', `${remote}${p}`);
    out[p] = cat.out;
  }
  return out;
}

export const lines = (r: Result, re: RegExp) => r.err.split('\n').filter((l) => re.test(l));
export const lastIndex = (list: string[], re: RegExp) => list.map((l) => re.test(l)).lastIndexOf(true);

/** The real rclone with the same config (required by the tests that call it). */
export function runRclone(...argv: string[]): Result {
  const r = spawnSync(rcloneBinary(), ['--config', conf, ...argv], { encoding: 'utf8', env: { ...process.env, RCLONE_CONFIG_PASS: '' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
