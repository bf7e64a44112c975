// The program as built (scripts/build.mjs): the bin runs the one-file bundle from V8's code cache,
// and the bundle behaves as the unbundled modules do where paths matter (package.json, addons,
// the hash worker threads).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cryptfsMain, repoRoot } from '../../helpers/cli.js';

function bin(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [cryptfsMain(), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
}

test('the bin uses the code cache the build made (not rejected, not missing)', () => {
  const r = bin(['version'], { CRYPTFS_DEBUG_CODE_CACHE: '1' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^code cache: used$/m);
  const pkg = JSON.parse(spawnSync('cat', [join(repoRoot(), 'package.json')], { encoding: 'utf8' }).stdout) as { version: string };
  assert.match(r.stdout, new RegExp(`^cryptfs v${pkg.version.replace(/\./g, '\\.')}\\b`));
});

test('the bundle finds the addons and starts the hash worker threads from dist/src/remote', () => {
  const work = mkdtempSync(join(tmpdir(), 'cryptfs-bundle-'));
  try {
    mkdirSync(join(work, 'src'));
    // Big enough for md5sum/sha1sum to hash on the worker thread.
    writeFileSync(join(work, 'src', 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 7));
    const conf = join(work, 'cryptfs.conf');
    writeFileSync(conf, '');
    const md5 = bin(['--config', conf, 'md5sum', join(work, 'src')]);
    assert.equal(md5.status, 0, md5.stderr);
    const expected = spawnSync('md5sum', [join(work, 'src', 'big.bin')], { encoding: 'utf8' }).stdout.split(' ')[0];
    assert.equal(md5.stdout.split(' ')[0], expected);
    const lsf = bin(['--config', conf, 'lsf', work], { CRYPTFS_DEBUG_CODE_CACHE: '1' });
    assert.equal(lsf.status, 0, lsf.stderr);
    assert.doesNotMatch(lsf.stderr, /native helper not built/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('the bin starts scrypt from its own small bundle before the program loads, and the program takes it', () => {
  const work = mkdtempSync(join(tmpdir(), 'cryptfs-bundle-'));
  try {
    const conf = join(work, 'cryptfs.conf');
    writeFileSync(conf, '');
    const obscured = bin(['--config', conf, 'obscure', 'prefetch-test']);
    assert.equal(obscured.status, 0, obscured.stderr);
    writeFileSync(conf, `[sec]\ntype = crypt\nremote = ${join(work, 'store')}\npassword = ${obscured.stdout.trim()}\n`);
    mkdirSync(join(work, 'store'));
    const lsf = bin(['--config', conf, 'lsf', 'sec:'], { CRYPTFS_DEBUG_KEY_PREFETCH: '1' });
    assert.equal(lsf.status, 0, lsf.stderr);
    // Started once, by cryptfs-prefetch.cjs (the program's copy of the module finds it started).
    assert.deepEqual(lsf.stderr.match(/^key prefetch: .*$/gm), ['key prefetch: 1 started in cryptfs-prefetch.cjs', 'key prefetch: taken']);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
