// The CLI run in-process against rclone-written fixtures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePath } from '../../helpers/fixtures.js';
import { runMain } from '../../helpers/run-main.js';

const fixtures = fixturePath('rclone-1.60.1');
const conf = join(fixtures, 'rclone.conf');
process.chdir(fixtures); // the fixture config's remote paths are relative to it

async function run(...argv: string[]): Promise<{ code: number; out: Buffer; err: string }> {
  const r = await runMain(['--config', conf, ...argv]);
  return { code: r.code, out: r.stdout, err: r.err };
}

function plainFiles(dir = join(fixtures, 'plain'), prefix = ''): Map<string, number> {
  const out = new Map<string, number>();
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) for (const [k, v] of plainFiles(p, prefix + name + '/')) out.set(k, v);
    else out.set(prefix + name, statSync(p).size);
  }
  return out;
}

const remotes = ['std_b32', 'std_b64', 'std_b32768', 'std_b32_nodir', 'obf', 'obf_nodir', 'off', 'std_defsalt', 'nodata', 'zero'];

test('ls of every fixture remote lists the plaintext tree with sizes', async () => {
  const expected = [...plainFiles()].map(([p, s]) => `${String(s).padStart(9)} ${p}`).sort();
  for (const r of remotes) {
    const { code, out, err } = await run('ls', `${r}:`);
    assert.equal(code, 0, `${r}: ${err}`);
    assert.deepEqual(out.toString().trimEnd().split('\n').sort(), expected, r);
  }
});

test('cat of every fixture file gives the plaintext', async () => {
  for (const r of remotes) {
    for (const [p] of plainFiles()) {
      const { code, out } = await run('cat', `${r}:${p}`);
      assert.equal(code, 0, `${r}:${p}`);
      assert.ok(out.equals(readFileSync(join(fixtures, 'plain', p))), `${r}:${p}`);
    }
  }
});

test('cat --offset/--count and --tail read the right slice', async () => {
  const plain = readFileSync(join(fixtures, 'plain', 'size-200000.dat'));
  for (const [o, c] of [[0, 1], [65535, 2], [65537, 65536], [199999, 1], [100000, -1]]) {
    const { out } = await run('cat', '--offset', String(o), '--count', String(c), 'std_b32:size-200000.dat');
    assert.ok(out.equals(plain.subarray(o, c < 0 ? undefined : o + c)), `${o}+${c}`);
  }
  const { out } = await run('cat', '--tail', '10', 'std_b32:size-200000.dat');
  assert.ok(out.equals(plain.subarray(plain.length - 10)));
});

test('lsd and lsf show directories as rclone does', async () => {
  const lsd = await run('lsd', 'std_b32:');
  assert.match(lsd.out.toString(), /^ {10}-1 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d {8}-1 dir one$/m);
  const lsf = await run('lsf', 'std_b32:');
  assert.deepEqual(lsf.out.toString().trimEnd().split('\n'), [
    'dir one/',
    'size-0.dat',
    'size-1.dat',
    'size-131072.dat',
    'size-16.dat',
    'size-200000.dat',
    'size-65535.dat',
    'size-65536.dat',
    'size-65537.dat',
    'Ünïcödé café/',
  ]);
});

test('damaged files: a typed message and a non-zero exit, never unauthenticated bytes', async () => {
  const cases: [string, RegExp, number][] = [
    ['bad-block-full-chunk.dat', /failed to authenticate decrypted block/, 0],
    ['bad-block.dat', /failed to authenticate decrypted block/, 0],
    ['bad-magic.dat', /bad magic string/, 0],
    ['bad-nonce.dat', /failed to authenticate/, 0],
    ['header-plus-16.dat', /truncated block header/, 0],
    ['too-short.dat', /too short to be encrypted/, 0],
    ['truncated-block-header.dat', /truncated block header/, 0],
    ['truncated-mid-chunk.dat', /failed to authenticate/, 65536],
    ['wrong-key.dat', /failed to authenticate/, 0],
  ];
  for (const [name, message, goodBytes] of cases) {
    const { code, out, err } = await run('cat', `errors:${name}`);
    assert.notEqual(code, 0, name);
    assert.match(err, message, name);
    assert.equal(out.length, goodBytes, `${name}: only authenticated chunks are output`);
  }
  const ok = await run('cat', 'errors:header-only.dat');
  assert.equal(ok.code, 0);
  assert.equal(ok.out.length, 0);
});

test('missing paths give rclone exit codes', async () => {
  assert.equal((await run('ls', 'std_b32:nonexistent')).code, 3);
  assert.equal((await run('cat', 'std_b32:nonexistent')).code, 3);
  const noRemote = await run('ls', 'nosuchremote:');
  assert.equal(noRemote.code, 1);
  assert.match(noRemote.err, /didn't find section in config file/);
});

test('usage errors print the usage and exit 1', async () => {
  const none = await run('ls');
  assert.equal(none.code, 1);
  assert.match(none.err, /Usage:\n {2}cryptfs ls remote:path/);
  assert.match(none.err, /Command ls needs 1 arguments minimum: you provided 0 non flag arguments: \[\]/);
  const bad = await run('ls', '--bogus', 'x:');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /unknown flag: --bogus/);
  const unknown = await run('frobnicate');
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /unknown command "frobnicate"/);
});

test('obscure and reveal round-trip; cryptdecode matches rclone', async () => {
  const ob = (await run('obscure', 'pässwörd')).out.toString().trim();
  assert.match(ob, /^[A-Za-z0-9_-]+$/);
  // `--`: an obscured value starts with '-' one time in 64, and would be read as a flag (by rclone too).
  assert.equal((await run('reveal', '--', ob)).out.toString(), 'pässwörd\n');
  const dec = await run('cryptdecode', 'std_b32:', 'n1n8m7fg1lls95m73ehknfae3c', 'garbage');
  assert.equal(dec.out.toString(), 'n1n8m7fg1lls95m73ehknfae3c \t size-16.dat\ngarbage \t Failed to decrypt\n');
  const rev = await run('cryptdecode', '--reverse', 'std_b32:', 'hello.txt', 'a/b');
  assert.equal(rev.out.toString(), 'hello.txt \t dvhjn229ej4s3k94n1mf5une30\na/b \t 0pafnuo05kiri5rkftm2fsb7b4/5ighlij0huvuotkhqd4dde0qig\n');
  const notCrypt = await run('cryptdecode', '/tmp', 'x');
  assert.equal(notCrypt.code, 1);
  assert.match(notCrypt.err, /needs to be of type "crypt"/);
});

test('listing commands obey --include/--exclude/--max-size like rclone', async () => {
  const inc = await run('ls', '--include', '*.txt', 'std_b32:');
  assert.deepEqual(inc.out.toString().trimEnd().split('\n').sort(), [
    '       33 Ünïcödé café/日本語.txt',
    '      100 dir one/sub.dir/nested.txt',
  ]);
  const exc = await run('lsf', '-R', '--exclude', 'dir one/**', 'std_b32:');
  assert.ok(!exc.out.toString().includes('nested.txt'));
  assert.ok(exc.out.toString().includes('size-0.dat'));
  const small = await run('ls', '--max-size', '16B', 'std_b32:'); // a bare number would be KiB, as in rclone
  assert.deepEqual(small.out.toString().trimEnd().split('\n').map((l) => l.trim()).sort(), ['0 size-0.dat', '1 size-1.dat', '16 size-16.dat']);
});
