// check report files, in-process. The cases compared with the real rclone are in
// test/integration/cli/check-rclone.test.ts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { obscure } from '../../../src/crypt/obscure.js';
import { runMain } from '../../helpers/run-main.js';

const root = fs.mkdtempSync(join(tmpdir(), 'cryptfs-check-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let seq = 0;
const fresh = (name: string) => {
  const d = join(root, `${++seq}-${name}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
};

const conf = join(root, 'rclone.conf');
const encDir = (n: string) => join(root, `enc-${n}`);
const pw = obscure('check test password');
const pw2 = obscure('check test salt');
fs.writeFileSync(
  conf,
  ['sec1', 'sec2', 'sec3', 'sec4'].map((n) => `[${n}]\ntype = crypt\nremote = ${encDir(n)}\npassword = ${pw}\npassword2 = ${pw2}\n`).join('\n') +
    `\n[plain]\ntype = crypt\nremote = ${encDir('plain')}\npassword = ${pw}\nno_data_encryption = true\n`,
);


interface Result {
  code: number;
  out: string;
  err: string;
}

async function cli(...argv: string[]): Promise<Result> {
  return runMain(['--config', conf, ...argv]);
}


function writeTree(dir: string, files: Record<string, string | Buffer>): void {
  for (const [p, content] of Object.entries(files)) {
    fs.mkdirSync(dirname(join(dir, p)), { recursive: true });
    fs.writeFileSync(join(dir, p), content);
  }
}

/** The log lines without their timestamps, sorted (workers finish in any order). */
function logLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, ''))
    .filter((l) => /^(ERROR|NOTICE) *:|^Failed to/.test(l))
    .sort();
}

/** Flips one byte of a file in place. */
function corrupt(file: string, at: number): void {
  const fd = fs.openSync(file, 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0] ^= 0xff;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);
}

/** The ciphertext file of a plain path on a crypt remote. */
async function cipherFile(remote: string, plainPath: string): Promise<string> {
  const r = await cli('cryptdecode', '--reverse', remote, plainPath);
  const enc = r.out.trim().split('\t')[1].trim();
  return join(encDir(remote.replace(/:.*$/, '')), enc);
}

const data = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));


test('check report files: --combined, --differ, --match, --missing-on-src/dst', async () => {
  const a = fresh('a');
  const b = fresh('b');
  writeTree(a, { same: 's', diff: 'a', onlysrc: 'x' });
  writeTree(b, { same: 's', diff: 'b', onlydst: 'y' });
  const out = fresh('reports');
  const f = (n: string) => join(out, n);
  const r = await cli('check', a, b, '--combined', f('combined'), '--differ', f('differ'), '--match', f('match'),
    '--missing-on-src', f('mos'), '--missing-on-dst', f('mod'));
  assert.equal(r.code, 1);
  const read = (n: string) => fs.readFileSync(f(n), 'utf8').split('\n').filter(Boolean).sort();
  assert.deepEqual(read('combined'), ['* diff', '+ onlysrc', '- onlydst', '= same']);
  assert.deepEqual(read('differ'), ['diff']);
  assert.deepEqual(read('match'), ['same']);
  assert.deepEqual(read('mos'), ['onlydst']);
  assert.deepEqual(read('mod'), ['onlysrc']);
});



