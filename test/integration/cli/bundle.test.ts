// The program as built (scripts/build.mjs): the bin runs the one-file bundle from V8's code cache,
// and the bundle behaves as the unbundled modules do where paths matter (package.json, addons,
// the hash worker threads).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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

// The S3 SDK is loaded from its own bundle and code cache (src/remote/s3-sdk.ts): ~70 ms less of
// every S3 command than the package from node_modules.
test('an S3 remote loads the bundled SDK from the code cache the build made', async () => {
  const work = mkdtempSync(join(tmpdir(), 'cryptfs-bundle-'));
  // A stand-in that has no buckets: the listing fails at once with S3's NoSuchBucket.
  const server = createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/xml' });
    res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>none</Message></Error>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const conf = join(work, 'cryptfs.conf');
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    writeFileSync(conf, `[stand-in]\ntype = s3\nprovider = Other\nendpoint = ${endpoint}\naccess_key_id = a\nsecret_access_key = b\n`);
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, [cryptfsMain(), '--config', conf, 'lsf', 'stand-in:bucket'], { env: { ...process.env, CRYPTFS_DEBUG_CODE_CACHE: '1' } }, (err, _out, stderr) =>
        resolve({ code: err ? (err.code as number) : 0, stderr }),
      );
    });
    assert.match(r.stderr, /^s3 sdk: bundle, code cache used$/m, r.stderr);
    assert.equal(r.code, 3, r.stderr); // directory not found, as rclone
  } finally {
    server.close();
    rmSync(work, { recursive: true, force: true });
  }
});

test('the bundled S3 SDK has every export the driver takes from the package', async () => {
  const { loadS3Sdk } = await import('../../../src/remote/s3-sdk.js');
  const entry = await import('../../../src/remote/s3-sdk-entry.js');
  const bundled = await loadS3Sdk();
  assert.notEqual(bundled, entry, 'the bundle, not the package');
  for (const [name, value] of Object.entries(entry)) {
    assert.equal(typeof (bundled as Record<string, unknown>)[name], typeof value, name);
  }
  assert.ok(Object.keys(entry).length >= 17);
});
